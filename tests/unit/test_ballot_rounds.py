"""The pure parts of a ballot round's life after a turn (bot/services/ballot_rounds.py): the
next candidate, the key shares kept in memory until k are in, the checks of a pressed key."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot.services import ballot_rounds as rounds
from bot.services.ballot import CLOSED
from bot.services.ballot import PENDING
from bot.services.ballot import BallotError
from bot.services.ballot_box import key_id
from bot.services.ballot_box import new_round_keys
from tests.unit.test_views_ballot import AN
from tests.unit.test_views_ballot import BINH
from tests.unit.test_views_ballot import CUONG
from tests.unit.test_views_ballot import view


def test_the_next_candidate_is_the_next_without_a_choice():
    positions = [0, 1, 2]
    assert rounds.next_position(positions, {}, None) == 0
    assert rounds.next_position(positions, {0: "HT"}, 0) == 1
    assert rounds.next_position(positions, {0: "HT", 2: "KHT"}, 2) == 1  # wraps to the first
    assert rounds.next_position(positions, {0: "HT", 1: "HT", 2: "HT"}, 1) is None


def _keyed(**changes):
    shown = view(ended=True)
    keys = new_round_keys(2, 3)
    shown.round.public_key, shown.round.wrapped_key = keys.public_key, keys.wrapped_key
    for name, value in changes.items():
        setattr(shown.round, name, value)
    return shown, keys


def test_a_pressed_key_is_checked_against_the_round():
    shown, keys = _keyed()
    share = keys.shares[0]
    key, encoded = key_id(shown.round.public_key), share.encode()
    assert rounds.check_key(shown, AN, share.index, encoded, key, "x") == share

    def refused(v, who=AN, data=encoded, kid=key) -> str:
        with pytest.raises(BallotError) as raised:
            rounds.check_key(v, who, share.index, data, kid, "x")
        return raised.value.msgid

    assert refused(None) == rounds.STALE
    assert refused(_keyed(state=PENDING)[0]) == rounds.STALE
    assert refused(shown, who=SimpleNamespace(id=1)) == rounds.NOT_YOUR_KEY
    assert refused(_keyed(state=CLOSED)[0]).startswith("The ballot box of this round is already")
    assert refused(_keyed(ended_at=None)[0]).startswith("Voting is still going on.")
    assert refused(shown, data="x").startswith("The bot restarted")  # the stored press: cut out
    assert refused(shown, kid="other") == rounds.STALE  # a share of another round's key


def test_shares_stay_in_memory_until_k_are_in_then_leave_it():
    shown, keys = _keyed()
    application = SimpleNamespace(bot_data={})
    first = rounds.take_share(application, shown, AN, keys.shares[0])
    assert (first.count, first.threshold, first.shares) == (1, 2, None)
    assert first.waiting == [BINH, CUONG]
    again = rounds.take_share(application, shown, AN, keys.shares[0])  # pressed twice: once
    assert again.count == 1 and again.shares is None
    done = rounds.take_share(application, shown, CUONG, keys.shares[2])
    assert done.shares == [keys.shares[0], keys.shares[2]]
    assert rounds.pressed_shares(application) == {}  # nothing of the key is left in memory
