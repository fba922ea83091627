"""The deals the journal is owed (actors/account/deal_fetches.py): asked again with backoff until
an answer shows what was asked for, then forgotten; given up after MAX_TRIES."""

from __future__ import annotations

from actors.account.deal_fetches import BACKOFF_S, MAX_TRIES, DealFetches
from bridge import mt5

ENTRY = {"entry": mt5.DEAL_ENTRY_IN}
EXIT = {"entry": mt5.DEAL_ENTRY_OUT}


def test_a_lost_answer_is_asked_again_after_the_backoff():
    owed = DealFetches()
    assert owed.want(7, exit_needed=True)
    assert not owed.want(7, exit_needed=True)  # a question is out already
    assert owed.answered(7, False, (), now=100.0) == "again"  # timed out under load: the stress harness's case
    assert owed.due(100.0 + BACKOFF_S[0] - 0.01) == []
    assert owed.due(100.0 + BACKOFF_S[0]) == [7]
    assert owed.answered(7, True, (ENTRY, EXIT), now=101.0) == "done" and len(owed) == 0


def test_a_vanished_position_needs_its_exit_deal_an_opened_one_does_not():
    owed = DealFetches()
    owed.want(1, exit_needed=False)
    assert owed.answered(1, True, (ENTRY,), now=0.0) == "done"
    owed.want(2, exit_needed=True)
    assert owed.answered(2, True, (ENTRY,), now=0.0) == "again"  # the history not written yet


def test_given_up_after_max_tries_and_asked_at_once_when_wanted_again_or_the_link_was_lost():
    owed = DealFetches()
    owed.want(3, exit_needed=True)
    for i in range(MAX_TRIES - 1):
        assert owed.answered(3, False, (), now=float(i)) == "again"
        assert owed.want(3, exit_needed=True)  # wanted again while waiting for its backoff: asked now
    assert owed.answered(3, False, (), now=99.0) == "gave_up" and len(owed) == 0
    owed.want(4, exit_needed=False)
    owed.link_lost(50.0)
    assert owed.due(50.0) == [4]
