"""R-D3, the meeting's order (seed 004 A.4.2): the head first, then the deputies, then the
members, each group in Vietnamese name order; the members' ballot after the collectives, or
with the reason the meeting recorded."""

import pytest

from rules.meeting_order import Seat
from rules.meeting_order import ballot_may_open
from rules.meeting_order import individuals_order

PEOPLE = [
    ("Vũ Thị Giang", Seat.MEMBER),
    ("Trần Thị Bình", Seat.DEPUTY),
    ("Lê Văn Cường", Seat.MEMBER),
    ("Nguyễn Văn An", Seat.HEAD),
    ("Đặng Văn Anh", Seat.DEPUTY),
    ("Phạm Thị Dung", Seat.MEMBER),
]


def test_the_head_first_then_the_deputies_then_the_members_by_name():
    ordered = individuals_order(PEOPLE, lambda p: p[1], lambda p: p[0])
    assert [name for name, _seat in ordered] == [
        "Nguyễn Văn An",  # the head
        "Đặng Văn Anh", "Trần Thị Bình",  # the deputies: An(h) before Bình by given name
        "Lê Văn Cường", "Phạm Thị Dung", "Vũ Thị Giang",
    ]


@pytest.mark.parametrize(
    ("done", "reason", "rounds", "opens"),
    [
        (False, None, 0, False),  # collectives first (R-D3)
        (True, None, 0, True),
        (False, "Đồng chí bí thư phải đi công tác", 0, True),  # the meeting said why not
        (False, "   ", 0, False),  # a blank reason is no reason
        (False, None, 1, True),  # a meeting that already voted has settled its order
    ],
)
def test_the_members_ballot_waits_for_the_collectives(done, reason, rounds, opens):
    assert ballot_may_open(done, reason, rounds) is opens
