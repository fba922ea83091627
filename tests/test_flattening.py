"""The kill switch's flatten over accounts it may not reach (actors/app/flattening.py, pure)."""

from __future__ import annotations

from actors import messages as m
from actors.app.flattening import Flattening


def held(login: int) -> dict:
    return {"account": login, "positions": [login * 10, login * 10 + 1], "orders": [login * 100]}


def flattened(corr: str, login: int, closed: int = 0, remaining: int = 0) -> m.AccountFlattened:
    return m.AccountFlattened(corr=corr, account=login, closed_positions=closed, cancelled_orders=0,
                              remaining=remaining)


def test_an_account_without_its_link_is_not_waited_for_but_left_pending():
    up = {1}
    flat = Flattening()
    round_, tell = flat.start("c1", {1, 2}, up.__contains__, held)
    assert tell == [1] and flat.pending == {2}
    assert flat.reported(flattened("c1", 1, closed=2)) is round_
    assert round_.reply(99) == {"closed_positions": 2, "cancelled_orders": 0, "remaining": 3, "locked_until": 99,
                                "not_flattened": [held(2)]}


def test_no_account_reachable_means_an_answer_at_once():
    flat = Flattening()
    round_, tell = flat.start("c1", {2}, lambda login: False, held)
    assert tell == [] and not round_.waiting and "c1" not in flat.rounds


def test_a_link_lost_while_the_round_waits_ends_the_wait():
    up = {1, 2}
    flat = Flattening()
    round_, tell = flat.start("c1", {1, 2}, up.__contains__, held)
    assert tell == [1, 2]
    assert flat.reported(flattened("c1", 1)) is None
    up.discard(2)
    assert flat.unreachable(up.__contains__, held) == [round_]
    assert flat.pending == {2} and round_.not_flattened == [held(2)]
    assert flat.reported(flattened("c1", 2)) is None  # its late report changes nothing


def test_a_pending_account_is_flattened_when_back_until_it_reports_flat():
    up: set[int] = set()
    flat = Flattening(pending=(3,))
    assert flat.resumes(up.__contains__) == []
    up.add(3)
    [(login, corr)] = flat.resumes(up.__contains__)
    assert login == 3 and flat.resumes(up.__contains__) == []  # one at a time
    flat.reported(flattened(corr, 3, remaining=1))
    assert flat.pending == {3}
    [(_, corr)] = flat.resumes(up.__contains__)  # asked again
    up.discard(3)
    assert flat.resumes(up.__contains__) == [] and flat.resuming == {}  # lost again: not waited for
    up.add(3)
    [(_, corr)] = flat.resumes(up.__contains__)
    flat.reported(flattened(corr, 3))
    assert flat.pending == set()
