"""The feed-gap sequencer: hold, backfill, release in time order."""

from bridge.tick_gaps import BACKFILL_TIMEOUT_S, TickSequencer


def ticks(*times):
    return [(t, 1.0 + t / 1e6, 1.0001 + t / 1e6) for t in times]


def test_consecutive_batches_pass_straight_through():
    seq = TickSequencer()
    assert seq.on_batch(1, ticks(100, 200), now=0.0) == (ticks(100, 200), None)
    assert seq.on_batch(2, ticks(300), now=0.0) == (ticks(300), None)
    assert seq.gaps == 0 and seq.last_time == 300


def test_a_gap_holds_later_batches_and_asks_from_the_last_tick_seen():
    seq = TickSequencer()
    seq.on_batch(1, ticks(100, 200), now=0.0)
    assert seq.on_batch(4, ticks(700, 800), now=1.0) == ([], 201)
    assert seq.on_batch(5, ticks(900), now=1.1) == ([], None)  # held while the backfill is out
    assert seq.backfilling and seq.gaps == 1
    # The backfill overlaps what we had and what is held: only the missing ticks are new.
    released, again = seq.on_backfill(ticks(200, 300, 400, 500, 600, 700, 800), now=1.2)
    assert (released, again) == (ticks(300, 400, 500, 600, 700, 800, 900), None)
    assert not seq.backfilling and seq.last_time == 900
    assert seq.on_batch(6, ticks(1000), now=2.0) == (ticks(1000), None)


def test_an_overdue_backfill_releases_what_was_held():
    seq = TickSequencer()
    seq.on_batch(1, ticks(100), now=0.0)
    seq.on_batch(3, ticks(300), now=10.0)
    assert seq.expire(now=10.0 + BACKFILL_TIMEOUT_S / 2) is None
    assert seq.expire(now=10.0 + BACKFILL_TIMEOUT_S) == ticks(300)
    assert seq.on_backfill(ticks(200), now=20.0) == ([], None)  # too late: nothing is waiting for it


def test_a_restarted_ea_counting_from_one_is_not_a_gap():
    seq = TickSequencer()
    seq.on_batch(41, ticks(100), now=0.0)
    assert seq.on_batch(1, ticks(200), now=0.0) == (ticks(200), None)
    assert seq.gaps == 0


def test_the_first_batch_is_never_a_gap():
    assert TickSequencer().on_batch(977, ticks(5), now=0.0) == (ticks(5), None)


def test_a_loss_while_the_backfill_travels_is_backfilled_again():
    seq = TickSequencer()
    seq.on_batch(1, ticks(100), now=0.0)
    assert seq.on_batch(3, ticks(300), now=1.0) == ([], 101)
    seq.on_batch(4, ticks(400), now=1.1)
    seq.on_batch(7, ticks(700), now=1.2)  # 5 and 6 lost too, after the terminal answered
    released, again = seq.on_backfill(ticks(100, 200, 300, 400), now=1.3)
    assert released == ticks(200, 300, 400) and again == 401
    assert seq.on_batch(8, ticks(800), now=1.4) == ([], None)  # still held
    released, again = seq.on_backfill(ticks(500, 600, 700, 800), now=1.5)
    assert (released, again) == (ticks(500, 600, 700, 800), None)
    assert seq.gaps == 2


def test_batches_the_backfill_already_covered_are_not_counted_twice():
    seq = TickSequencer()
    seq.on_batch(1, ticks(100), now=0.0)
    seq.on_batch(3, ticks(300), now=1.0)
    released, _ = seq.on_backfill(ticks(200, 300, 400, 500), now=1.1)
    assert released == ticks(200, 300, 400, 500)
    # Batch 4 (ticks 400, 500) was published before the terminal answered but arrives after.
    assert seq.on_batch(4, ticks(400, 500), now=1.2) == ([], None)
    assert seq.on_batch(5, ticks(600), now=1.3) == (ticks(600), None)


def test_only_the_backfill_in_flight_is_answered():
    seq = TickSequencer()
    seq.on_batch(1, ticks(100), now=0.0)
    assert seq.on_batch(3, ticks(300), now=1.0) == ([], 101)
    assert seq.answers(101) and not seq.answers(51)  # a late answer to an older request is stale
    seq.on_backfill(ticks(200), now=1.1)
    assert not seq.answers(101)
