"""Issue 14, part A: the head's draft as plain functions over a session (both databases): typed
points, grades and adjustments read as the seed's rule wants them, the draft's lifecycle, who
comments when, the prompts that make a meeting a full day, R-D1's notices, the Word file check."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest

from bot.frameworks import read_framework
from bot.frameworks import template_bytes
from bot.roster import BOT_LIMITS
from bot.roster import Limits
from bot.services import prompts
from bot.services import unit_deadlines
from bot.services import unit_report
from bot.services import unit_review as service
from bot.services import units
from bot.services.frameworks import apply_framework
from bot.services.frameworks import target_for
from bot.services.unit_review import TypedMark
from bot.services.unit_review import UnitReviewRefused
from rules.deadlines import reminder_stage
from rules.org_scoring import Criterion
from rules.org_scoring import Framework
from rules.rulebooks import rulebook
from storage.db import Database
from storage.models import AdjustmentKind
from storage.models import CommentStage
from storage.models import Cycle
from storage.models import Meeting
from storage.models import Member
from storage.models import Organisation
from storage.models import ReviewPrompt
from storage.models import Role
from storage.models import ScoreAdjustment
from storage.models import ScoreGrade
from storage.models import SentNotice
from storage.models import UnitReviewState
from storage.models import UnitSubject
from storage.queries import place_org
from tests.e2e.unit_review_kit import word_file

TZ = dt.timezone(dt.timedelta(hours=7))
HD21 = rulebook("hd21-2019")
LEAF = Criterion("1.1", "Học tập nghị quyết", 100, frozenset({"cell"}), "1")
FRAMEWORK = Framework((
    Criterion("1", "Giáo dục chính trị", 200, frozenset({"cell"})),
    LEAF,
    Criterion("1.2", "Nắm tư tưởng", 100, frozenset({"cell"}), "1"),
    Criterion("2", "Nhiệm vụ chính trị", 800, frozenset({"cell"})),
))


@pytest.mark.parametrize(("typed", "tenths"), [
    ("8", 80), ("8,5", 85), ("8.5", 85), ("8,50", 85), (" 10 ", 100), ("0", 0),
    ("8,55", None), ("-1", None), ("١٠", None), ("8,", None), ("", None), ("12345", None),
    ("tám", None), ("8 điểm", None),
])
def test_points_as_typed_on_a_phone(typed, tenths):
    assert service.parse_tenths(typed) == tenths


@pytest.mark.parametrize(("typed", "grade"), [
    ("Xuất sắc", ScoreGrade.EXCELLENT), ("xuat sac", ScoreGrade.EXCELLENT), ("XS", ScoreGrade.EXCELLENT),
    ("tốt", ScoreGrade.GOOD), ("Tot", ScoreGrade.GOOD), ("trung  bình", ScoreGrade.AVERAGE),
    ("TB", ScoreGrade.AVERAGE), ("kém", ScoreGrade.POOR), ("Poor", ScoreGrade.POOR), ("khá", None),
])
def test_grades_as_typed(typed, grade):
    assert service.parse_grade(typed) is grade


def _refused(call) -> UnitReviewRefused:
    with pytest.raises(UnitReviewRefused) as caught:
        call()
    return caught.value


def test_a_mark_is_points_an_optional_grade_and_the_result():
    assert service.parse_mark("9,5; Đủ 100% đảng viên", LEAF, False) == TypedMark(
        95, None, "Đủ 100% đảng viên")
    assert service.parse_mark("9; Tốt; đạt 9/10; vượt 5%", LEAF, False) == TypedMark(
        90, ScoreGrade.GOOD, "đạt 9/10; vượt 5%")
    assert service.parse_mark("9", LEAF, True) == TypedMark(90, None, None)  # keeps its result
    assert _refused(lambda: service.parse_mark("9", LEAF, False)).msgid == service.E_MARK_RESULT
    refused = _refused(lambda: service.parse_mark("10,5; x", LEAF, False))
    assert refused.msgid == service.E_MARK_RANGE and refused.params["max"] == Decimal(10)
    assert _refused(lambda: service.parse_mark("chín; x", LEAF, False)).msgid == \
        service.E_MARK_FORMAT
    assert _refused(lambda: service.parse_mark("9; " + "x" * 3000, LEAF, False)).msgid == \
        service.E_TOO_LONG


def test_adjustments_follow_the_seeds_rule():
    deduction, addition = AdjustmentKind.DEDUCTION, AdjustmentKind.ADDITION

    def parse(text, kind=deduction):
        return service.parse_adjustment(text, kind, FRAMEWORK, HD21, "Chi bộ 1")

    typed = parse("2; 12; Thu ngân sách đạt 88%; Chi ủy")
    assert (typed.criterion, typed.tenths, typed.responsible) == ("2", 120, "Chi ủy")
    assert parse("1.1; 5%; lý do; ai").tenths == 50
    assert _refused(lambda: parse("2; 4,9; lý do; ai")).msgid == service.E_ADJ_SMALL
    assert _refused(lambda: parse("2; 101; lý do; ai")).msgid == service.E_ADJ_SHORTFALL
    assert _refused(lambda: parse("2; 12; ; ai")).msgid == service.E_ADJ_GROUNDS
    assert _refused(lambda: parse("2; 12; lý do")).msgid == service.E_ADJ_FORMAT
    assert _refused(lambda: parse("9; 12; lý do; ai")).msgid == service.E_ADJ_CRITERION
    assert parse("2; 2; Thành tích nổi bật; Chi bộ", addition).tenths == 20
    assert _refused(lambda: parse("2; 2,1; Thành tích; Chi bộ", addition)).msgid == \
        service.E_ADJ_BONUS
    assert _refused(lambda: parse("2; 0; Thành tích; Chi bộ", addition)).msgid == \
        service.E_ADJ_POINTS

    def moved(kind, tenths):
        row = ScoreAdjustment(kind=kind.value, reason="r", responsible="c",
                              shortfall_tenths=tenths if kind == deduction else None,
                              points_tenths=tenths if kind == addition else None)
        return service.adjustment_points(row, HD21)

    # 0.5 points per full 5% short, at most 2 per target; an addition as given, at most 2.
    assert [moved(deduction, t) for t in (50, 99, 120, 300)] == [
        Decimal("-0.5"), Decimal("-0.5"), Decimal("-1"), Decimal("-2")]
    assert moved(addition, 15) == Decimal("1.5")


@pytest.mark.parametrize(("due", "today", "stage"), [
    (dt.date(2026, 11, 26), dt.date(2026, 11, 22), None),
    (dt.date(2026, 11, 26), dt.date(2026, 11, 23), "d3"),
    (dt.date(2026, 11, 26), dt.date(2026, 11, 24), "d3"),
    (dt.date(2026, 11, 26), dt.date(2026, 11, 25), "d1"),
    (dt.date(2026, 11, 26), dt.date(2026, 11, 26), "d0"),
    (dt.date(2026, 11, 26), dt.date(2026, 11, 27), None),
])
def test_reminder_stages(due, today, stage):
    assert reminder_stage(due, today) == stage


# --- the Word file ----------------------------------------------------------------------------


def _rezip(content: bytes, change) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = change(item.filename, source.read(item.filename))
            if data is not None:
                target.writestr(item.filename, data)
    return out.getvalue()


def test_a_word_file_is_checked_before_it_becomes_the_report():
    found = unit_report.read_report_docx(word_file("BÁO CÁO KIỂM ĐIỂM", "Kết quả đạt được năm 2026"))
    assert (found.words, found.paragraphs) == (10, 2)

    def refused(content, limits=BOT_LIMITS):
        with pytest.raises(unit_report.ReportFileRefused) as caught:
            unit_report.read_report_docx(content, limits)
        return caught.value.msgid

    assert refused(word_file()) == unit_report.E_EMPTY
    assert refused(b"\xd0\xcf\x11\xe0 an old .doc or an encrypted file") == unit_report.E_NOT_DOCX
    assert refused(b"PK\x03\x04 broken") == unit_report.E_NOT_DOCX
    good = word_file("Nội dung")
    assert refused(_rezip(good, lambda name, data: None if name == "word/document.xml" else data)) \
        == unit_report.E_NOT_DOCX
    macro = _rezip(good, lambda name, data: data.replace(
        b"document.main+xml", b"document.macroEnabled.main+xml") if name == "[Content_Types].xml"
        else data)
    assert refused(macro) == unit_report.E_NOT_DOCX
    assert refused(good, Limits(file_bytes=1000)) == unit_report.E_TOO_LARGE
    assert refused(good, Limits(unzipped_bytes=2000)) == unit_report.E_UNPACKED
    assert unit_report.safe_filename("C:\\Users\\an\\Báo cáo.docx") == "Báo cáo.docx"
    assert unit_report.safe_filename("bao-cao") == "bao-cao.docx"


# --- over a database ----------------------------------------------------------------------------


@pytest.fixture
async def db(database_url):
    database = Database(database_url)
    await database.migrate()
    yield database
    await database.dispose()


async def _org(session, code, kind, parent=None):
    org = Organisation(code=code, name=f"Tổ chức {code}", kind=kind, path="")
    await place_org(session, org, parent)
    return org


async def _member(session, code, org, *roles):
    member = Member(code=code, full_name=f"Đảng viên {code}", org_id=org.id, status="official",
                    admitted_on=dt.date(2000, 1, 1))
    session.add(member)
    await session.flush()
    for role_org, role in roles:
        session.add(Role(member_id=member.id, org_id=role_org.id, role=role))
    await session.flush()
    return member


async def _world(session):
    upper = await _org(session, "XA", "upper")
    grassroots = await _org(session, "DBCS", "grassroots", upper)
    cell = await _org(session, "CB1", "cell", grassroots)
    people = {
        "head": await _member(session, "DV1", cell, (cell, "secretary"), (grassroots, "secretary")),
        "deputy": await _member(session, "DV2", cell, (cell, "deputy")),
        "plain": await _member(session, "DV3", cell),
        "committee": await _member(session, "DV4", cell, (grassroots, "committee_member")),
        "upper": await _member(session, "DV5", cell, (upper, "committee_member")),
    }
    cycle = Cycle(org_id=upper.id, year=2026, rulebook="hd21-2019",
                  finish_by=dt.date(2026, 12, 31), report_by=dt.date(2027, 1, 15))
    session.add(cycle)
    await session.flush()
    target = await target_for(session, upper)
    parsed = read_framework("k.xlsx", template_bytes(), target.rulebook, BOT_LIMITS)
    await apply_framework(session, target, parsed, filename="k.xlsx", actor="test")
    return upper, grassroots, cell, cycle, people


NOON = dt.datetime(2026, 11, 20, 5, 0, tzinfo=dt.UTC)


async def test_the_draft_from_its_first_mark_to_circulation(db):
    async with db.session() as session:
        upper, grassroots, cell, cycle, people = await _world(session)
        assert [r.subject for r in await service.open_reviews(session, grassroots)] == [
            "organisation", "committee"]
        [review] = await service.open_reviews(session, cell)
        assert await service.open_reviews(session, cell) == [review]  # opened once
        with pytest.raises(UnitReviewRefused):
            await service.open_reviews(session, upper)  # not reviewed as an organisation
        assert [o.code for o in await service.headed_units(session, people["head"].id)] == [
            "DBCS", "CB1"]
        session.add(Meeting(cycle_id=cycle.id, org_id=cell.id,
                            scheduled_at=dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)))
        await session.flush()

        draft = await service.load_draft(session, review, TZ, NOON.date())
        assert draft.scored and len(draft.leaves()) == 6 and draft.draft_due == dt.date(2026, 11, 26)
        assert draft.participants == 5 and draft.meeting_days == Decimal("0.5")
        assert draft.missing_parts() == ["results", "shortcomings", "earlier_fixes", "direction"]
        assert not draft.ready()
        for criterion in draft.leaves():
            typed = service.parse_mark(f"{criterion.max_tenths // 10 - 1}; Đạt", criterion, False)
            await service.save_mark(session, review, criterion, typed, ScoreGrade.GOOD, "tg:1",
                                    now=NOON)
        await service.set_grade(session, review, draft.leaves()[0], ScoreGrade.EXCELLENT)
        for kind, text in ((AdjustmentKind.DEDUCTION, "2; 12; Thu ngân sách; Chi ủy"),
                           (AdjustmentKind.ADDITION, "3; 1,5; Dân vận khéo; Chi bộ")):
            typed = service.parse_adjustment(text, kind, draft.framework, HD21, cell.name)
            await service.add_adjustment(session, review, typed, "tg:1")
        await unit_report.add_piece(session, review, "results", "Kết quả.", 11, "tg:1")
        draft = await service.load_draft(session, review, TZ, NOON.date())
        assert draft.marks["1.1"].grade == "excellent" and not draft.unmarked()
        score = draft.score()
        assert (score.marks, score.deducted, score.added, score.total) == (
            Decimal(94), Decimal(1), Decimal("1.5"), Decimal("94.5"))
        assert draft.missing_parts() == ["shortcomings", "earlier_fixes", "direction"]
        for key in ("shortcomings", "earlier_fixes", "direction"):
            await unit_report.add_piece(session, review, key, "Nội dung.", None, "tg:1")
        await unit_report.add_piece(session, review, "direction", "Gửi nhầm.", None, "tg:1")
        assert await unit_report.drop_last_piece(session, review, "direction")
        assert (await unit_report.section_texts(session, review.id))["direction"] == "Nội dung."
        assert await unit_report.drop_last_piece(session, review, "direction")
        assert not await unit_report.drop_last_piece(session, review, "direction")
        await unit_report.add_piece(session, review, "direction", "Biện pháp.", None, "tg:1")
        [deduction, _addition] = await units.adjustments(session, review.id, proposed_only=True)
        assert await service.remove_adjustment(session, review, deduction.id)
        assert not await service.remove_adjustment(session, review, deduction.id)
        draft = await service.load_draft(session, review, TZ, NOON.date())
        assert draft.ready() and draft.score().total == Decimal("95.5")

        # Comments: the committee while drafting, the participants once it went out.
        async def stage(who, *, leader=False, now=NOON):
            return await service.comment_stage(session, review, cell, people[who],
                                               is_leader=leader, now=now)

        assert await stage("deputy", leader=True) == CommentStage.COMMITTEE
        with pytest.raises(UnitReviewRefused) as caught:
            await stage("plain")
        assert caught.value.msgid == service.E_NOT_LEADER
        assert not await service.may_read(session, review, people["plain"], is_leader=False)
        service.circulate(session, draft, "tg:1", NOON, TZ)
        first = review.circulated_at
        assert review.state == UnitReviewState.CIRCULATED and first == NOON
        service.circulate(session, draft, "tg:1", NOON + dt.timedelta(days=1), TZ)
        assert review.circulated_at == first  # R-D1 is met by the first one
        assert await stage("plain") == CommentStage.PARTICIPANT
        assert await service.may_read(session, review, people["plain"], is_leader=False)
        outsider = await _member(session, "DV9", await _org(session, "CB2", "cell", grassroots))
        with pytest.raises(UnitReviewRefused) as caught:
            await service.comment_stage(session, review, cell, outsider, is_leader=False, now=NOON)
        assert caught.value.msgid == service.E_NOT_PARTICIPANT
        with pytest.raises(UnitReviewRefused) as caught:
            await stage("plain", now=dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC))
        assert caught.value.msgid == service.E_COMMENTS_CLOSED
        await service.add_comment(session, review, people["plain"], CommentStage.PARTICIPANT,
                                  "Góp ý.", NOON)
        assert [c.author for c in await service.comments_of(session, review.id)] == [
            "Đảng viên DV3"]
        heads = await service.head_recipients(session, review, people["plain"].id)
        assert sorted(h.member.code for h in heads) == ["DV1", "DV2"]
        assert not any(h.reachable for h in heads)  # nobody linked a Telegram account here

        review.state = UnitReviewState.REVIEWED.value
        draft = await service.load_draft(session, review, TZ, NOON.date())
        with pytest.raises(UnitReviewRefused):
            service.require_open(draft)


async def test_prompts_make_the_meeting_a_full_day(db):
    async with db.session() as session:
        upper, grassroots, cell, cycle, people = await _world(session)
        assert await service.prompted(session, cycle.id, cell) is False
        needs = await service.meeting_needs(session, cycle, cell, dt.date(2026, 12, 1))
        assert (needs.days, needs.draft_due, needs.working_days) == (
            Decimal("0.5"), dt.date(2026, 11, 26), 3)
        # Points to a member of the cell count for the cell's meeting, not for the đảng bộ's.
        session.add(ReviewPrompt(cycle_id=cycle.id, member_id=people["plain"].id,
                                 org_id=grassroots.id, text="Làm rõ.", sent_by="tg:1"))
        await session.flush()
        assert await service.prompted(session, cycle.id, cell) is True
        assert await service.prompted(session, cycle.id, grassroots) is False
        # Points to the đảng bộ's collective: both its reviews show them.
        await prompts.add_unit_prompt(session, cycle, grassroots, ["organisation", "committee"],
                                      upper, "Làm rõ việc chậm.", actor="tg:5")
        assert await service.prompted(session, cycle.id, grassroots) is True
        for subject in ("organisation", "committee"):
            [prompt] = await prompts.unit_prompts(session, cycle.id, grassroots.id, subject)
            assert (prompt.org_name, prompt.text) == ("Tổ chức XA", "Làm rõ việc chậm.")
        [review, _committee] = await service.open_reviews(session, grassroots)
        draft = await service.load_draft(session, review, TZ, NOON.date())
        assert draft.meeting_days == Decimal(1)
        assert "prompts" in draft.missing_parts()  # part IV must answer them now


async def test_draft_deadline_notices_are_decided_from_the_database(db):
    async with db.session() as session:
        upper, grassroots, cell, cycle, people = await _world(session)
        session.add(Meeting(cycle_id=cycle.id, org_id=cell.id,
                            scheduled_at=dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)))
        session.add(Meeting(cycle_id=cycle.id, org_id=grassroots.id,
                            scheduled_at=dt.datetime(2026, 12, 3, 1, 0, tzinfo=dt.UTC)))
        await session.commit()

    async def notices(day: dt.date):
        async with db.session() as session:
            found = await unit_deadlines.decide(
                session, dt.datetime.combine(day, dt.time(10), TZ), TZ)
            return sorted((n.kind, n.owed.org.name.removeprefix("Tổ chức "), n.owed.subject, n.stage.rsplit(":", 1)[-1],
                           n.member_id) for n in found)

    head, committee, deputy = (people[k].id for k in ("head", "committee", "deputy"))
    assert await notices(dt.date(2026, 11, 22)) == []
    # The cell's draft is due on 26/11, the đảng bộ's two (organisation, committee) on 30/11.
    assert await notices(dt.date(2026, 11, 23)) == [
        ("draft_due", "CB1", "organisation", "d3", head)]
    assert await notices(dt.date(2026, 11, 27)) == sorted([
        ("draft_due", "DBCS", "committee", "d3", head),
        ("draft_due", "DBCS", "organisation", "d3", head),
        ("draft_late", "CB1", "organisation", "2026-11-26", head),
        ("draft_late_upper", "CB1", "organisation", "2026-11-26", committee),
        ("draft_late_upper", "CB1", "organisation", "2026-11-26", head),
    ])
    assert deputy not in {n[-1] for n in await notices(dt.date(2026, 11, 27))}  # a secretary
    async with db.session() as session:  # the ledger: sent once
        session.add(SentNotice(kind="draft_late", target=f"member:{head}", cycle_id=cycle.id,
                               stage=f"{cell.id}:organisation:2026-11-26", state="sent",
                               claimed_at=NOON))
        review = await units.ensure_review(session, cycle, grassroots, UnitSubject.COMMITTEE)
        review.circulated_at = NOON  # the committee's draft went out
        await session.commit()
    assert await notices(dt.date(2026, 11, 27)) == sorted([
        ("draft_due", "DBCS", "organisation", "d3", head),
        ("draft_late_upper", "CB1", "organisation", "2026-11-26", committee),
        ("draft_late_upper", "CB1", "organisation", "2026-11-26", head),
    ])
