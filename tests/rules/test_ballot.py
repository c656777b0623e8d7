from datetime import date

import pytest

from rules.ballot import candidates
from rules.ballot import denominator
from rules.ballot import quorum_met
from rules.ballot import tally
from rules.ballot import tally_for
from rules.ballot import voters
from rules.levels import Level
from rules.people import MemberFacts
from rules.people import Presence
from rules.people import Status
from rules.rulebooks import CountingRule
from rules.rulebooks import rulebook

XS, TT, HT, KT = Level.HTXS, Level.HTT, Level.HT, Level.KHT
CUM, PLU, STRICT = CountingRule.CUMULATIVE, CountingRule.PLURALITY, CountingRule.STRICT_2011
HD21 = rulebook("hd21-2019")


@pytest.mark.parametrize(
    ("rule", "counts", "denom", "level"),
    [
        # Cumulative from the top (R-B4).
        (CUM, {XS: 7, TT: 3, HT: 2}, 12, XS),  # 7 > 6
        (CUM, {XS: 6, TT: 4, HT: 2}, 12, TT),  # 6 is not more than half of 12; 6+4 = 10 is
        (CUM, {XS: 3, TT: 3, HT: 1, None: 5}, 12, HT),  # 3, 6 (not > 6), 7
        (CUM, {XS: 2, TT: 2, HT: 1, KT: 1, None: 6}, 12, None),  # 6 at KHT: undecided
        (CUM, {None: 12}, 12, None),
        (CUM, {KT: 7, None: 5}, 12, KT),
        (CUM, {XS: 6, TT: 1}, 13, TT),  # 6 of 13 no, 7 of 13 yes
        (CUM, {XS: 7}, 13, XS),
        # Plurality over half: only the exact level's votes count.
        (PLU, {XS: 6, TT: 4, HT: 2}, 12, None),  # cumulative would give HTT
        (PLU, {XS: 7, TT: 4, HT: 1}, 12, XS),
        (PLU, {XS: 2, TT: 7, HT: 3}, 12, TT),
        (PLU, {XS: 5, TT: 5, KT: 2}, 12, None),
        (PLU, {HT: 6, KT: 6}, 12, None),
        # Strict 2011 (R-B5): HTXS needs at least two thirds, lower levels more than half.
        (STRICT, {XS: 8, TT: 4}, 12, XS),  # 8 of 12 is exactly two thirds
        (STRICT, {XS: 7, TT: 5}, 12, TT),  # cumulative would give HTXS
        (STRICT, {XS: 6}, 9, XS),  # 6 of 9 is two thirds
        (STRICT, {XS: 5, TT: 4}, 9, TT),
        (STRICT, {XS: 3, TT: 3, None: 6}, 12, None),
    ],
    ids=["cum-7-of-12", "cum-6-of-12-falls-to-htt", "cum-blank-ballots-ht",
         "cum-undecided", "cum-all-blank", "cum-kht", "cum-6-of-13", "cum-7-of-13",
         "plu-6-4-2-undecided", "plu-7-htxs", "plu-7-htt", "plu-5-5-2", "plu-6-6",
         "strict-8-of-12", "strict-7-of-12", "strict-6-of-9", "strict-5-of-9",
         "strict-undecided"],
)
def test_tally(rule, counts, denom, level):
    # Every official member convened here: the strict variant's base equals the denominator.
    decision = tally(counts, denom, rule, official_members=denom)
    assert decision.level is level
    assert decision.undecided is (level is None)


def test_tally_explanations():
    adopted = tally({XS: 6, TT: 4, HT: 2}, 12)
    assert adopted.explanation.render() == (
        "HTT: 10 of 12 votes for it or a higher level, more than half (R-B4)")
    undecided = tally({XS: 2, TT: 2, HT: 1, KT: 1, None: 6}, 12)
    assert undecided.explanation.render() == (
        "No level has more than half of 12 votes: vote again on this member (R-B4)")
    strict = tally({XS: 8, TT: 4}, 12, STRICT, official_members=12)
    assert strict.explanation.render() == (
        "HTXS: 8 votes of the 12 official members, at least 2/3 (R-B5)")


def test_tally_for_uses_the_rulebook():
    counts = {XS: 6, TT: 4, HT: 2}
    assert tally_for(counts, 12, HD21, official_members=12).level is TT
    plurality = rulebook("hd21-2019", counting_rule="plurality")
    assert tally_for(counts, 12, plurality, official_members=12).undecided
    three_quarters = rulebook("hd21-2019", counting_rule="strict-2011",
                              strict_htxs_numerator=3, strict_htxs_denominator=4)
    assert tally_for({XS: 8, TT: 4}, 12, three_quarters, official_members=12).level is TT
    assert tally_for({XS: 9, TT: 3}, 12, three_quarters, official_members=12).level is XS


@pytest.mark.parametrize("bad", [({XS: -1}, 12), ({XS: 1}, 0)],
                         ids=["negative", "zero-denom"])
def test_tally_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        tally(*bad)


MEETING = date(2025, 12, 15)
MEMBERS = [MemberFacts(f"p{i}") for i in range(10)] + [
    MemberFacts("probationary", status=Status.PROBATIONARY, admitted_on=date(2025, 1, 5)),
    MemberFacts("away", temporary=True),  # sent to a temporary chi bộ elsewhere
    MemberFacts("exempt-absent", exempt=True),
    MemberFacts("exempt-present", exempt=True),
    MemberFacts("suspended", suspended=True),
    MemberFacts("prosecuted", prosecuted=True),
    MemberFacts("excused"),
    MemberFacts("unexcused"),
    MemberFacts("guest", temporary_here=True),  # official elsewhere, temporary here
]
PRESENCE = {m.member_id: Presence.PRESENT for m in MEMBERS} | {
    "away": Presence.ABSENT, "exempt-absent": Presence.ABSENT,
    "suspended": Presence.ABSENT, "prosecuted": Presence.ABSENT,
    "excused": Presence.ABSENT_EXCUSED, "unexcused": Presence.ABSENT,
}


def test_denominator_r_b3():
    # 10 present + the exempt member who came + the one absent without excuse.
    assert denominator(MEMBERS, PRESENCE, HD21) == 12


def test_denominator_ballots_cast_setting():
    rb = rulebook("hd21-2019", denominator_rule="ballots-cast")
    assert denominator(MEMBERS, PRESENCE, rb, ballots_cast=11) == 11
    with pytest.raises(ValueError):
        denominator(MEMBERS, PRESENCE, rb)


def test_voters_r_b1():
    ids = [m.member_id for m in voters(MEMBERS, PRESENCE)]
    assert ids == [f"p{i}" for i in range(10)] + ["exempt-present"]


def test_candidates_r_b2():
    ids = {m.member_id for m in candidates(MEMBERS, HD21, MEETING, PRESENCE)}
    # "away" is absent: rated at the next meeting (R-E5).
    assert ids == {f"p{i}" for i in range(10)} | {"probationary"}


def test_temporary_member_present_counts_and_votes():
    presence = PRESENCE | {"away": Presence.PRESENT}
    assert denominator(MEMBERS, presence, HD21) == 13
    assert "away" in {m.member_id for m in voters(MEMBERS, presence)}


@pytest.mark.parametrize(
    ("present", "denom", "met"),
    [(8, 12, True), (7, 12, False), (6, 9, True), (5, 9, False), (7, 10, True),
     (6, 10, False), (0, 0, False)],
    ids=["8-of-12", "7-of-12", "6-of-9", "5-of-9", "7-of-10", "6-of-10", "empty"],
)
def test_quorum_r_b9(present, denom, met):
    assert quorum_met(present, denom, HD21) is met


def test_quorum_off():
    assert quorum_met(1, 12, rulebook("hd21-2019", quorum_required=False))
