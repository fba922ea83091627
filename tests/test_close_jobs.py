"""Close jobs (actors/account/close_jobs.py): what is left to close, and when the job gives up."""

from __future__ import annotations

import time

from actors.account.close_jobs import JOB_TIMEOUT_S, CloseJob


def job(**kw) -> CloseJob:
    return CloseJob(**{"name": "job-1", "kind": "close_all", "corr": "c1", "reason": "CLOSE_ALL",
                       "tickets": {1, 2, 3}, "orders": {10, 11}, "deadline": 100.0, **kw})


def test_new_job_is_not_done():
    j = job()
    assert not j.done
    assert j.remaining == 5
    assert j.reply_to == "control"
    assert (j.closed, j.cancelled, j.attempts) == (0, 0, 0)


def test_forget_gone_keeps_what_the_terminal_still_reports():
    j = job()
    j.forget_gone({2, 3, 99}, {11, 12})
    assert j.tickets == {2, 3}  # 1 is gone; 99 was never ours to close
    assert j.orders == {11}
    assert j.remaining == 3
    assert not j.done


def test_done_when_nothing_is_left():
    j = job()
    j.forget_gone({1}, set())
    assert not j.done and j.remaining == 1
    j.forget_gone(set(), set())
    assert j.done and j.remaining == 0


def test_done_needs_orders_cancelled_too():
    j = job()
    j.forget_gone(set(), {10})
    assert not j.done
    assert j.remaining == 1


def test_an_empty_job_is_done_at_once():
    assert job(tickets=set(), orders=set()).done


def test_forget_gone_never_adds_work():
    j = job(tickets={1}, orders=set())
    j.forget_gone({1, 2, 3}, {10})
    assert j.tickets == {1}
    assert j.orders == set()


def test_expired_at_the_deadline():
    j = job(deadline=100.0)
    assert not j.expired(99.999)
    assert j.expired(100.0)
    assert j.expired(500.0)


def test_default_deadline_is_a_minute_from_now():
    before = time.monotonic()
    j = CloseJob(name="n", kind="flatten", corr="", reason="kill", tickets={1})
    after = time.monotonic()
    assert JOB_TIMEOUT_S == 60.0
    assert before + JOB_TIMEOUT_S <= j.deadline <= after + JOB_TIMEOUT_S
    assert j.orders == set()
    assert not j.expired(before)


def test_jobs_do_not_share_default_orders():
    a = CloseJob(name="a", kind="flatten", corr="", reason="r", tickets={1})
    b = CloseJob(name="b", kind="flatten", corr="", reason="r", tickets={2})
    a.orders.add(5)
    assert b.orders == set()


def test_a_close_that_filled_is_not_sent_again_before_a_snapshot_shows_it_gone():
    """Found by the stress harness: on its 1 s tick a job re-sent the close of a position whose
    close had filled, because the view still held it until the next snapshot (10036)."""
    j = job(tickets={1, 2}, orders={10})
    assert j.to_send(busy={2}) == ({1}, {10})
    j.filled.update({1, 10})  # their close and removal filled
    assert j.to_send(busy=set()) == ({2}, set())
    j.forget_gone({1, 2}, {10})  # a snapshot from after the fills still shows 1: only partly closed
    j.snapshot_seen()
    assert j.to_send(busy=set()) == ({1, 2}, {10})
