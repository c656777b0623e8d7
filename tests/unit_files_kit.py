"""Test data for the minutes and the files (issue 14 part D): what parts A–C of issue 14 write
(a framework, the collective's review, its typed report, comments, score sheets, deductions and
additions, the combined score, the ballot rounds of units and members, opinions, a rating, an
appeal, prompts), written straight into the database from the schema, and the figures a test
expects from it. Imported by tests/unit/test_minutes.py, test_dossier.py and tests/e2e/test_unit_files.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from bot.services import unit_report
from bot.services import unit_review
from bot.services import units
from storage.db import Database
from storage.models import BallotCandidate
from storage.models import BallotCount
from storage.models import BallotRound
from storage.models import BallotVoter
from storage.models import CommentStage
from storage.models import CountingCommittee
from storage.models import CountingCommitteeMember
from storage.models import CriteriaFramework
from storage.models import Cycle
from storage.models import FrameworkCriterion
from storage.models import Meeting
from storage.models import MeetingAttendance
from storage.models import Member
from storage.models import Organisation
from storage.models import ParticipantOpinion
from storage.models import Rating
from storage.models import RatingChange
from storage.models import ReviewPiece
from storage.models import ReviewPrompt
from storage.models import Role
from storage.models import ScoreAdjustment
from storage.models import ScoreGrade
from storage.models import ScoreMark
from storage.models import ScoreSheet
from storage.models import SelfReview
from storage.models import TelegramAccount
from storage.models import UnitAppeal
from storage.models import UnitRating
from storage.models import UnitRatingChange
from storage.models import UnitReview
from storage.queries import place_org


@pytest.fixture
async def db(database_url):
    """A migrated database of the suite's backend (tests take it with `db = kit.db`)."""
    database = Database(database_url)
    await database.migrate()
    yield database
    await database.dispose()

# The framework: criterion 1 (30 points) in two sub-criteria, criterion 2 (70 points).
CRITERIA = [("1", None, "Công tác chính trị, tư tưởng", 300),
            ("1.1", "1", "Học tập, quán triệt nghị quyết", 150),
            ("1.2", "1", "Nắm bắt tư tưởng đảng viên", 150),
            ("2", None, "Thực hiện nhiệm vụ chính trị", 700)]
DRAFT = {"1.1": 140, "1.2": 130, "2": 600}
# Three members' sheets: 1.1 → 14,0; 1.2 → 13,7 (41/3); 2 → 63,0; criterion 1 → 27,7.
SHEETS = [{"1.1": 140, "1.2": 140, "2": 620},
          {"1.1": 150, "1.2": 130, "2": 640},
          {"1.1": 130, "1.2": 140, "2": 630}]
COMBINED_TENTHS = 908  # each sheet's total with -1 and +1,5: 90,5; 91,5; 90,5 → 90,8
DEDUCTION_REASON = "Thu ngân sách chỉ đạt 88% kế hoạch"
DEDUCTION_WHO = "Chi ủy và đồng chí phụ trách kinh tế"
ADDITION_REASON = "Mô hình dân vận khéo được tỉnh biểu dương"
ADDITION_WHO = "Tổ dân vận chi bộ"
PROPOSED_REASON = "Đề xuất cộng điểm phong trào thể thao"
REPORT = [("results", "Chi bộ đã lãnh đạo hoàn thành các chỉ tiêu chủ yếu."),
          ("results", "Kết nạp 2 đảng viên mới."),
          ("shortcomings", "Sinh hoạt chuyên đề còn ít.")]
COMMENT = "Đề nghị làm rõ nguyên nhân chỉ tiêu thu ngân sách chưa đạt."
OPINION = "Chi bộ phối hợp tốt với chính quyền trong công tác dân vận."
COLLECTIVE_PROMPT = "Làm rõ trách nhiệm tập thể chi ủy trong việc chậm thu ngân sách."
MEMBER_PROMPT = "Làm rõ việc chậm nộp báo cáo tháng."
CONCLUSIONS = "Hội nghị thống nhất đánh giá chi bộ hoàn thành xuất sắc nhiệm vụ.\nCần khắc phục hạn chế về sinh hoạt chuyên đề."
ORDER_REASON = "Đồng chí bí thư phải đi công tác đột xuất."
APPEAL = "Chi bộ đề nghị xem xét lại vì đã vượt các chỉ tiêu chủ yếu."
APPEAL_ANSWER = "Đảng ủy giữ nguyên mức đã quyết định."
# Round 1 (units): the organisation; round 2 (members): two members; round 3 open.
# Three voters; a denominator of four: HTXS for the unit (3 > 2), HTT for the first member
# (1 + 2 > 2), nothing for the second (a blank majority: voted again).
UNIT_COUNTS = {"HTXS": 3, "HTT": 0, "HT": 0, "KHT": 0, "BLANK": 0}
MEMBER_COUNTS = [{"HTXS": 1, "HTT": 2, "HT": 0, "KHT": 0, "BLANK": 0},
                 {"HTXS": 0, "HTT": 1, "HT": 0, "KHT": 0, "BLANK": 2}]


@dataclass
class Records:
    review_id: int
    meeting_id: int
    rating_id: int


async def fill(session, *, cycle: Cycle, cell: Organisation, framework_org: Organisation,
               present: list[Member], excused: list[Member], secretary_actor: str,
               candidates: list[Member], tellers: list[Member], denominator: int,
               decider_actor: str | None = None,
               prompted: Member | None = None, conclusions: bool = True,
               now: dt.datetime) -> Records:
    """Everything parts A–C record for `cell`'s meeting (held two hours before `now`)."""
    framework = CriteriaFramework(org_id=framework_org.id, year=cycle.year,
                                  filename="khung.xlsx", loaded_by="cli")
    session.add(framework)
    await session.flush()
    for position, (code, parent, text, maximum) in enumerate(CRITERIA):
        session.add(FrameworkCriterion(framework_id=framework.id, position=position, code=code,
                                       parent_code=parent, text=text, max_tenths=maximum,
                                       kinds="cell,grassroots_cell"))
    meeting = await session.scalar(
        select(Meeting).where(Meeting.cycle_id == cycle.id, Meeting.org_id == cell.id))
    if meeting is None:
        meeting = Meeting(cycle_id=cycle.id, org_id=cell.id, scheduled_at=now)
        session.add(meeting)
    meeting.scheduled_at = now - dt.timedelta(hours=2)
    meeting.order_reason = ORDER_REASON  # the members' ballot opened before the review ended
    await session.flush()
    for member in present:
        session.add(MeetingAttendance(meeting_id=meeting.id, member_id=member.id,
                                      presence="present"))
    for member in excused:
        session.add(MeetingAttendance(meeting_id=meeting.id, member_id=member.id,
                                      presence="absent_excused"))
    review = UnitReview(cycle_id=cycle.id, org_id=cell.id, subject="organisation",
                        state="reviewed", prepared_by=secretary_actor,
                        circulated_at=now - dt.timedelta(days=5), circulated_by=secretary_actor,
                        meeting_id=meeting.id, reviewed_at=now - dt.timedelta(minutes=20),
                        combined_tenths=COMBINED_TENTHS)
    session.add(review)
    await session.flush()
    # The report, the comment and the draft sheet as part A's /tap_the and /gop_y store them.
    for key, text in REPORT:
        await unit_report.add_piece(session, review, key, text, None, secretary_actor)
    await unit_review.add_comment(session, review, present[-1], CommentStage.PARTICIPANT,
                                  COMMENT, now - dt.timedelta(days=2))
    framework_rules = await units.criteria_of(session, cell)
    for code, tenths in DRAFT.items():
        await unit_review.save_mark(
            session, review, framework_rules.get(code),
            unit_review.TypedMark(tenths, None, "Đạt 95% kế hoạch"), ScoreGrade.GOOD,
            secretary_actor, now=now - dt.timedelta(days=6))
    for member, marks in zip(present, SHEETS, strict=False):  # the first three present
        sheet = ScoreSheet(review_id=review.id, member_id=member.id, submitted_at=now)
        session.add(sheet)
        await session.flush()
        for code, tenths in marks.items():
            session.add(ScoreMark(sheet_id=sheet.id, criterion=code, tenths=tenths))
    session.add_all([
        ScoreAdjustment(review_id=review.id, agreed=True, kind="deduction", criterion="2",
                        shortfall_tenths=120, reason=DEDUCTION_REASON, responsible=DEDUCTION_WHO,
                        entered_by=secretary_actor, at=now - dt.timedelta(minutes=50)),
        ScoreAdjustment(review_id=review.id, agreed=True, kind="addition", criterion="1.1",
                        points_tenths=15, reason=ADDITION_REASON, responsible=ADDITION_WHO,
                        entered_by=secretary_actor, at=now - dt.timedelta(minutes=40)),
        ScoreAdjustment(review_id=review.id, agreed=False, kind="addition", criterion="1.2",
                        points_tenths=10, reason=PROPOSED_REASON, responsible="Chi đoàn",
                        entered_by=secretary_actor, at=now - dt.timedelta(days=6)),
    ])
    decided = decider_actor is not None
    rating = UnitRating(review_id=review.id, state="decided" if decided else "proposed",
                        score_tenths=COMBINED_TENTHS, proposed_level="HTXS", proposed_at=now,
                        decided_level="HTT" if decided else None,
                        decided_at=now if decided else None, decided_by=decider_actor)
    session.add(rating)
    await session.flush()
    session.add(UnitRatingChange(rating_id=rating.id, at=now, actor=secretary_actor,
                                 kind="proposed", level="HTXS"))
    if decided:
        session.add(UnitRatingChange(rating_id=rating.id, at=now, actor=decider_actor,
                                     kind="decided", level="HTT"))
        session.add(UnitAppeal(rating_id=rating.id, filed_by=present[0].id,
                               deciding_org_id=framework_org.id, text=APPEAL, filed_at=now,
                               answer=APPEAL_ANSWER, answered_at=now, answered_by=decider_actor))
    session.add(ParticipantOpinion(review_id=review.id, body="council", level="HTT",
                                   text=OPINION, entered_by=secretary_actor, at=now))
    session.add(ReviewPrompt(cycle_id=cycle.id, member_id=None, org_id=framework_org.id,
                             subject_org_id=cell.id, subject="organisation",
                             text=COLLECTIVE_PROMPT, sent_by="cli"))
    if prompted is not None:
        session.add(ReviewPrompt(cycle_id=cycle.id, member_id=prompted.id,
                                 org_id=framework_org.id, text=MEMBER_PROMPT, sent_by="cli"))
    session.add(CountingCommittee(meeting_id=meeting.id, threshold=2))
    for member in tellers:
        session.add(CountingCommitteeMember(meeting_id=meeting.id, member_id=member.id))
    voters = [m for m in present if m.status == "official"]
    await _round(session, meeting, 1, "units", "closed", voters, denominator, now,
                 [(None, review.id, "HTXS", UNIT_COUNTS)])
    await _round(session, meeting, 2, "members", "closed", voters, denominator, now,
                 [(m.id, None, level, counts)
                  for m, level, counts in zip(candidates, ("HTT", None), MEMBER_COUNTS,
                                              strict=False)])
    await _round(session, meeting, 3, "members", "open", voters, denominator, now, [])
    meeting.conclusions = CONCLUSIONS if conclusions else None
    await session.flush()
    return Records(review.id, meeting.id, rating.id)


async def _round(session, meeting, number, kind, state, voters, denominator, now, candidates):
    ballot_round = BallotRound(meeting_id=meeting.id, number=number, kind=kind, state=state,
                               counting_rule="cumulative", denominator_rule="convened",
                               denominator=denominator,
                               opened_by="tg:1", opened_at=now - dt.timedelta(minutes=30),
                               closed_at=now if state == "closed" else None)
    session.add(ballot_round)
    await session.flush()
    for index, member in enumerate(voters):
        session.add(BallotVoter(round_id=ballot_round.id, member_id=member.id,
                                has_voted=state == "closed" or index == 0))
    for position, (member_id, review_id, level, counts) in enumerate(candidates):
        session.add(BallotCandidate(round_id=ballot_round.id, position=position,
                                    candidate_id=member_id, review_id=review_id,
                                    adopted_level=level, undecided=level is None))
        await session.flush()
        for choice, votes in counts.items():
            session.add(BallotCount(round_id=ballot_round.id, position=position, level=choice,
                                    votes=votes))
    await session.flush()


async def _org(session, code, name, kind, parent=None):
    org = Organisation(code=code, name=name, kind=kind, path="")
    await place_org(session, org, parent)
    return org


async def _member(session, code, name, org, status="official"):
    member = Member(code=code, full_name=name, org_id=org.id, status=status,
                    admitted_on=dt.date(2000, 1, 1))
    session.add(member)
    await session.flush()
    return member


async def tree(session, now: dt.datetime, *, decided: bool = False):
    """A đảng bộ cơ sở with two cells; the first held its meeting with everything recorded
    (for the unit tests; the end-to-end tests import their tree through the CLI)."""
    upper = await _org(session, "XA", "Đảng bộ xã Hòa Bình", "upper")
    grassroots = await _org(session, "DBCS", "Đảng bộ Công ty Điện lực", "grassroots", upper)
    cell = await _org(session, "CB1", "Chi bộ Phòng Kỹ thuật", "cell", grassroots)
    other = await _org(session, "CB2", "Chi bộ Phòng Kinh doanh", "cell", grassroots)
    people = {
        "DV1": await _member(session, "DV1", "Vũ Văn Bình", cell),
        "DV2": await _member(session, "DV2", "Đặng Thị An", cell),
        "DV3": await _member(session, "DV3", "Dương Văn Cường", cell),
        "DV4": await _member(session, "DV4", "Lê Thị Dung", cell),
        "DV5": await _member(session, "DV5", "Hoàng Văn Em", cell, status="probationary"),
        "DV6": await _member(session, "DV6", "Trịnh Văn Phúc", cell),
        "DV9": await _member(session, "DV9", "Ngô Thị Lan", other),
    }
    session.add(Role(member_id=people["DV1"].id, org_id=cell.id, role="secretary"))
    session.add(TelegramAccount(telegram_id=501, member_id=people["DV1"].id, language_code="vi"))
    session.add(TelegramAccount(telegram_id=502, member_id=people["DV9"].id, language_code="vi"))
    cycle = Cycle(org_id=upper.id, year=now.year, rulebook="hd21-2019",
                  finish_by=dt.date(now.year, 12, 31), report_by=dt.date(now.year + 1, 1, 15))
    session.add(cycle)
    await session.flush()
    records = await fill(
        session, cycle=cycle, cell=cell, framework_org=grassroots,
        present=[people[c] for c in ("DV1", "DV2", "DV3", "DV5")], excused=[people["DV4"]],
        secretary_actor="tg:501", candidates=[people["DV2"], people["DV5"]],
        tellers=[people["DV1"], people["DV2"]], denominator=4, prompted=people["DV2"], now=now,
        decider_actor="tg:502" if decided else None)
    return cycle, cell, other, people, records


async def self_review(session, *, cycle: Cycle, member: Member, now: dt.datetime,
                      proposed: str = "HTT", decided_by: str | None = None) -> None:
    """A submitted self-review (2025 form, with points) and a rating for `member`."""
    review = SelfReview(cycle_id=cycle.id, member_id=member.id, form_code="2B", state="submitted",
                        stage="preview", reached_preview=True, late=False, general_score=26,
                        task_score=60, proposed_level=proposed,
                        submitted_at=now - dt.timedelta(days=4))
    session.add(review)
    await session.flush()
    session.add(ReviewPiece(review_id=review.id, section_key="politics", seq=0,
                            text="Tôi luôn giữ vững lập trường tư tưởng."))
    rating = Rating(cycle_id=cycle.id, member_id=member.id,
                    state="decided" if decided_by else "proposed", proposed_level=proposed,
                    proposed_at=now, decided_level=proposed if decided_by else None,
                    decided_at=now if decided_by else None, decided_by=decided_by)
    session.add(rating)
    await session.flush()
    session.add(RatingChange(rating_id=rating.id, at=now, actor="tg:1", kind="proposed",
                             level=proposed))
    await session.flush()
