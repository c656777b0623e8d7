from datetime import date

import pytest

from rules.caps import allowed_levels
from rules.caps import check_member
from rules.levels import Level
from rules.people import DisciplineForm
from rules.people import HeadException
from rules.people import MemberFacts
from rules.rulebooks import rulebook
from rules.scoring import Score

HD21 = rulebook("hd21-2019")
QD366 = rulebook("qd366-2025")
XS, TT, HT, KT = Level.HTXS, Level.HTT, Level.HT, Level.KHT


def top(member, rb, **kw):
    return allowed_levels(member, rb, **kw).highest


@pytest.mark.parametrize(
    ("rb", "months", "highest"),
    [(HD21, 4, HT), (HD21, 3, HT), (HD21, 2, XS), (QD366, 4, XS), (QD366, 12, XS)],
    ids=["hd21-4m", "hd21-3m", "hd21-2m", "qd366-4m", "qd366-12m"],
)
def test_sick_leave(rb, months, highest):  # R-C1
    allowed = allowed_levels(MemberFacts("a", sick_leave_months=months), rb)
    assert allowed.highest is highest
    assert allowed.explanations[0].rule_ids == ("R-C1",)


def test_sick_leave_cap_override():
    rb = rulebook("qd366-2025", sick_leave_cap_months=3)
    assert top(MemberFacts("a", sick_leave_months=4), rb) is HT


@pytest.mark.parametrize("rb", [HD21, QD366], ids=["hd21", "qd366"])
def test_maternity_no_cap(rb):  # R-C2
    allowed = allowed_levels(MemberFacts("a", maternity=True), rb)
    assert allowed.levels == (XS, TT, HT, KT)
    assert [e.rule_ids for e in allowed.explanations] == [("R-C2",)]


@pytest.mark.parametrize(
    ("rb", "form", "duties", "highest"),
    [
        (HD21, DisciplineForm.REPRIMAND, False, KT),
        (HD21, DisciplineForm.WARNING, True, KT),
        (HD21, None, False, KT),
        (QD366, DisciplineForm.REPRIMAND, True, KT),
        (QD366, DisciplineForm.DISMISSAL, True, KT),
        (QD366, DisciplineForm.REPRIMAND, False, XS),  # outside official duties: no cap
        (QD366, DisciplineForm.EXPULSION, False, XS),
    ],
    ids=["hd21-reprimand", "hd21-warning-duties", "hd21-unknown-form",
         "qd366-reprimand-duties", "qd366-dismissal-duties", "qd366-reprimand-outside",
         "qd366-expulsion-outside"],
)
def test_disciplined(rb, form, duties, highest):  # R-C3
    member = MemberFacts("a", disciplined=True, discipline_form=form,
                         discipline_in_official_duties=duties)
    allowed = allowed_levels(member, rb)
    assert allowed.highest is highest
    assert allowed.explanations[0].rule_ids == ("R-C3",)


def test_violation_counts_once():  # R-C3
    member = MemberFacts("a", disciplined=True, discipline_form=DisciplineForm.WARNING,
                         discipline_counted_before=True)
    assert top(member, HD21) is XS


@pytest.mark.parametrize(
    ("rb", "member", "collective", "exception", "highest"),
    [
        (HD21, MemberFacts("a", head=True), TT, False, TT),
        (HD21, MemberFacts("a", head=True), HT, False, HT),
        (HD21, MemberFacts("a"), HT, False, XS),  # not the head
        (HD21, MemberFacts("a", head=True), TT, True, XS),  # exception passed by the caller
        (HD21, MemberFacts("a", head=True, head_exception=HeadException.VILLAGE_SECRETARY),
         TT, False, XS),
        (HD21, MemberFacts("a", head=True, head_exception=HeadException.NEWLY_TRANSFERRED),
         HT, False, XS),
        (QD366, MemberFacts("a", head=True), TT, False, XS),  # off by default
        (rulebook("qd366-2025", head_cap=True), MemberFacts("a", head=True), TT, False, TT),
    ],
    ids=["hd21-head-htt", "hd21-head-ht", "hd21-not-head", "hd21-exception-arg",
         "hd21-village-secretary", "hd21-newly-transferred", "qd366-off", "qd366-on"],
)
def test_head_not_above_collective(rb, member, collective, exception, highest):  # R-C4
    assert top(member, rb, collective_level=collective, head_exception=exception) is highest


@pytest.mark.parametrize(
    ("score", "highest"),
    [(82, TT), (90, XS), (89, TT), (70, TT), (69, HT), (50, HT), (49, KT), (100, XS)],
    ids=lambda v: str(v),
)
def test_score_bands_qd366(score, highest):  # R-C5
    assert top(MemberFacts("a"), QD366, score=score) is highest


def test_score_82_explanation():
    allowed = allowed_levels(MemberFacts("a"), QD366, score=82)
    assert allowed.levels == (TT, HT, KT)
    assert allowed.explanations[0].render() == "A total of 82 points allows HTT at most (R-C5)"


def test_score_ignored_under_hd21():
    assert top(MemberFacts("a"), HD21, score=40) is XS


@pytest.mark.parametrize(
    ("score", "highest"),
    [
        (Score(28, 64, True, 30, True), XS),
        (Score(28, 64), XS),  # conditions not stated yet do not shut HTXS
        (Score(28, 64, False, 40, True), TT),  # a task late
        (Score(28, 64, True, 29, True), TT),  # only 29% beyond target
        (Score(28, 64, True, 35, False), TT),  # shortcomings not fixed
        (Score(20, 62), TT),
    ],
    ids=["all-conditions", "unknown-conditions", "late-task", "29-percent", "not-fixed",
         "82-points"],
)
def test_htxs_conditions(score, highest):  # R-C5
    assert top(MemberFacts("a"), QD366, score=score) is highest


def test_caps_combine_to_the_lowest():
    member = MemberFacts("a", head=True, sick_leave_months=5, disciplined=True)
    allowed = allowed_levels(member, HD21, collective_level=TT)
    assert allowed.levels == (KT,)
    assert [c.reason.rule_ids[0] for c in allowed.caps] == ["R-C1", "R-C3", "R-C4"]


@pytest.mark.parametrize(
    ("rb", "member", "proposed", "kw", "codes"),
    [
        (HD21, MemberFacts("a", sick_leave_months=4), TT, {}, ["cap.sick_leave"]),
        (HD21, MemberFacts("a", sick_leave_months=4), HT, {}, []),
        (QD366, MemberFacts("a", sick_leave_months=4), XS, {}, []),
        (HD21, MemberFacts("a", disciplined=True), HT, {}, ["cap.discipline"]),
        (HD21, MemberFacts("a", head=True), XS, {"collective_level": TT}, ["cap.head"]),
        (QD366, MemberFacts("a"), XS, {"score": 82}, ["cap.score"]),
        (QD366, MemberFacts("a"), TT, {"score": 82}, []),
        (HD21, MemberFacts("a", admitted_on=date(2025, 9, 1)), TT,
         {"review_date": date(2025, 12, 15)}, ["member.not_rated"]),
    ],
    ids=["sick-htt", "sick-ht", "qd366-sick-htxs", "disciplined-ht", "head-above",
         "score-82-htxs", "score-82-htt", "new-member"],
)
def test_check_member(rb, member, proposed, kw, codes):
    assert [b.code for b in check_member(member, proposed, rb, **kw)] == codes


def test_check_member_message():
    member = MemberFacts("a", name="Nguyễn Văn A", sick_leave_months=4)
    [found] = check_member(member, XS, HD21)
    assert found.member_ids == ("a",)
    assert found.render() == "Nguyễn Văn A proposed HTXS, at most HT allowed (R-C1)"
