"""Issue 5: the deadline monitor and the checks after the ballot, through the fake Bot API,
with a clock the test controls: a whole cycle from the plan to the decision, every reminder
and warning once and outside quiet hours; 429, 403 and failed sends; a restart in the middle
of a batch."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy import update

from bot.jobs import JOB_NAME
from bot.jobs import MORNING_JOB_NAME
from bot.services.plans import save_own_plan
from storage.models import AuditEntry
from storage.models import Cycle
from storage.models import Meeting
from storage.models import Member
from storage.models import Organisation
from storage.models import Rating
from storage.models import RatingChange
from storage.models import SelfReview
from storage.models import SentNotice
from storage.models import TelegramAccount
from storage.models import UnitReview
from tests.e2e.orderkit import collectives_reviewed
from tests.e2e.reviewkit import schedule
from tests.e2e.test_ballot import newest
from tests.e2e.test_ballot import open_meeting
from tests.e2e.test_ballot import press
from tests.e2e.test_ballot import unseal_with
from tests.e2e.test_ballot import until
from tests.e2e.test_ballot import vote
from tests.e2e.test_plan_kit import Inbox
from tests.e2e.test_plan_kit import build_tree
from tests.e2e.test_plan_kit import local
from tests.e2e.test_plan_kit import monitor
from tests.e2e.test_plan_kit import open_plan
from tests.e2e.test_plan_kit import query

REMIND_3 = "📝 Bản tự kiểm điểm năm 2026 cần nộp trước ngày 07/12/2026, còn 3 ngày."
REMIND_1 = "📝 Bản tự kiểm điểm năm 2026 cần nộp trước ngày 07/12/2026, còn 1 ngày."
REMIND_0 = "📝 Hôm nay (07/12/2026) là hạn nộp bản tự kiểm điểm năm 2026."
NOT_SUBMITTED = ["DV01", "DV03", "DV04", "DV05"]  # DV02 (Trần Thị Bình) has submitted


async def next_with(user, needle: str, after: int = 0):
    """Wait for a bot message in the user's chat, after the first `after`, containing
    `needle`."""

    def found():
        hits = [m for m in user.messages()[after:] if needle in (m.text or "")]
        return hits[0] if hits else None

    return await until(found)


def starting(texts: dict[str, list[str]], prefix: str) -> dict[str, int]:
    return {code: sum(t.startswith(prefix) for t in found) for code, found in texts.items()}


async def submitted(database_url, member_id, cycle_org="UP01"):
    async def run(session):
        cycle = await session.scalar(
            select(Cycle).join(Organisation, Organisation.id == Cycle.org_id)
            .where(Organisation.code == cycle_org)
        )
        session.add(SelfReview(cycle_id=cycle.id, member_id=member_id, form_code="02",
                               state="submitted", stage="preview", submitted_at=local(2026, 12, 1)))

    await query(database_url, run)


async def draft_sent(database_url, cell_code="CB01"):
    """The cell's collective draft report went out in time (R-D1 has its own tests,
    tests/e2e/test_unit_deadlines.py): the monitor says nothing of it here."""

    async def run(session):
        org = await session.scalar(select(Organisation).where(Organisation.code == cell_code))
        cycle = await session.scalar(select(Cycle).order_by(Cycle.id))
        session.add(UnitReview(cycle_id=cycle.id, org_id=org.id, subject="organisation",
                               state="circulated", circulated_at=local(2026, 11, 20)))

    await query(database_url, run)


async def test_a_whole_cycle_from_plan_to_decision(bot, fake_telegram, database_url, clock):
    queue = bot.application.job_queue
    [hourly] = queue.get_jobs_by_name(JOB_NAME)
    assert hourly.job.trigger.interval == dt.timedelta(hours=1)
    assert queue.get_jobs_by_name(MORNING_JOB_NAME)

    clock.current = local(2026, 11, 21, 10, 0)
    tree = await build_tree(database_url, fake_telegram)
    users = tree.users
    an = users["DV01"]
    # The upper committee's plan: hd21-2019 with the 2017 plan's small-cell rule (R-Q4).
    await open_plan(users["DV08"], settings={4: "7"})
    # The cell finishes earlier than the plan's 31/12 (R-D5).
    await an.send("/ke_hoach")
    await an.wait_message()
    await an.send("18/12/2026")
    prompt = await an.wait_message()
    while any(label.startswith("Giữ ") for label in prompt.button_labels()):
        await an.press(prompt.button_labels()[0], message=prompt)
        prompt = await an.wait_message()
    await an.press("✅ Lưu kế hoạch", message=prompt)
    await an.wait_message()
    confirmation = await schedule(an, "10/12/2026 08:00")
    assert "Hạn nộp bản tự kiểm điểm: 07/12/2026" in confirmation.text
    await draft_sent(database_url)
    await submitted(database_url, tree.member_ids["DV02"])
    await fake_telegram.wait_idle(quiet=0.1)
    inbox = Inbox(users)

    # Three days before the self-reviews are due: one reminder each, never twice.
    clock.current = local(2026, 12, 4, 10, 0)
    assert await monitor(bot, clock) == 4
    got = inbox.all_new()
    assert got == {code: [REMIND_3 + " Đồng chí gửi /kiem_diem để viết và nộp."]
                   for code in NOT_SUBMITTED}
    assert await monitor(bot, clock) == 0
    clock.current = local(2026, 12, 5, 10, 0)
    assert await monitor(bot, clock) == 0
    # The day before: due at midnight, but 21:00–07:00 is quiet; it goes out at 07:00.
    clock.current = local(2026, 12, 6, 6, 30)
    assert await monitor(bot, clock) == 0
    clock.current = local(2026, 12, 6, 7, 0)
    assert await monitor(bot, clock) == 4
    assert starting(inbox.all_new(), REMIND_1) == dict.fromkeys(NOT_SUBMITTED, 1)
    await bot.restart()  # the start-up run finds nothing left to send
    await fake_telegram.wait_idle(quiet=0.3)
    assert inbox.all_new() == {}
    clock.current = local(2026, 12, 6, 21, 30)
    assert await monitor(bot, clock) == 0
    # On the day.
    clock.current = local(2026, 12, 7, 8, 0)
    assert await monitor(bot, clock) == 4
    assert starting(inbox.all_new(), REMIND_0) == dict.fromkeys(NOT_SUBMITTED, 1)
    # The due date passed: the secretary gets the names.
    clock.current = local(2026, 12, 8, 9, 0)
    assert await monitor(bot, clock) == 1
    assert inbox.all_new() == {"DV01": [
        "⏰ Hạn nộp bản tự kiểm điểm của Chi bộ Giáo viên là ngày 07/12/2026; còn 4 đồng chí "
        "chưa nộp: Nguyễn Văn An, Lê Văn Cường, Phạm Thị Dung, Hoàng Văn Em."]}  # by given name
    # The meeting day passed with no ballot closed.
    clock.current = local(2026, 12, 11, 9, 0)
    assert await monitor(bot, clock) == 1
    assert inbox.all_new() == {"DV01": [
        "🗳 Hội nghị kiểm điểm của Chi bộ Giáo viên đã họp ngày 10/12/2026 nhưng chưa kết thúc "
        "vòng bỏ phiếu kín nào. Đồng chí tổ chức bỏ phiếu bằng lệnh /bo_phieu."]}
    clock.current = local(2026, 12, 13, 9, 0)
    assert await monitor(bot, clock) == 0  # CB02 has no meeting, but its finish-by is 31/12

    # The ballot, on 11/12: An and Bình HTXS, the others HTT (Cường has 4 months of sick
    # leave: at most HT under hd21-2019, R-C1); a cell of 5 under 7: at most 1 HTXS (R-Q4);
    # 20% of 5 reaching HTT in the grassroots đảng bộ: at most 1 (R-Q1, R-Q3, R-Q5).
    clock.current = local(2026, 12, 11, 10, 0)
    await an.collect(quiet=0.1)  # what the monitor sent is read
    await collectives_reviewed(database_url)  # R-D3: the collectives before the members
    await open_meeting(an)
    await an.send("/bo_phieu")
    await until(lambda: all(
        any("Phiếu bầu kín" in (m.text or "") for m in users[c].messages())
        for c in ("DV01", "DV02", "DV03", "DV04", "DV05")))
    choices = {"Nguyễn Văn An": "X", "Trần Thị Bình": "X", "Lê Văn Cường": "T",
               "Phạm Thị Dung": "T", "Hoàng Văn Em": "T"}
    await asyncio.gather(*(vote(users[c], choices) for c in ("DV01", "DV02", "DV03", "DV04",
                                                             "DV05")))
    await fake_telegram.wait_idle()
    await unseal_with([users[c] for c in ("DV01", "DV02", "DV03", "DV04", "DV05")])  # issue 11
    await fake_telegram.wait_idle()
    warning = newest(an, "vi phạm quy định")
    assert "Lê Văn Cường" in warning.text and "(R-" not in warning.text
    assert "tối đa 1 ở nơi có ít đảng viên" in warning.text  # the small-cell quota
    assert "tối đa 1: 20% của 5 đảng viên đạt HTT" in warning.text  # the peer share
    assert "Nguyễn Văn An, Trần Thị Bình" in warning.text
    assert warning.button_labels() == [
        "⬇ Hạ mức: Lê Văn Cường (HTT)", "⬇ Hạ mức: Nguyễn Văn An (HTXS)",
        "⬇ Hạ mức: Trần Thị Bình (HTXS)", "🗳 Bỏ phiếu lại cho các đồng chí liên quan"]
    inbox.all_new()

    # The upper committee: one grouped message per member per run, listing the units.
    clock.current = local(2026, 12, 11, 11, 0)
    assert await monitor(bot, clock) == 2
    got = inbox.all_new()
    assert set(got) == {"DV07", "DV08"}
    for code in ("DV07", "DV08"):
        [text] = got[code]
        assert text.startswith("⚠️ Mức xếp loại đề xuất vi phạm tỷ lệ hoặc giới hạn")
        assert "\nChi bộ Giáo viên\n" in text and "\nĐảng bộ Trường THPT Lê Lợi\n" in text
        assert "Lê Văn Cường" in text and "(R-" not in text
        assert text.count("•") == 3  # the cap, the cell's small-cell quota, the peer share
    assert await monitor(bot, clock) == 0

    # The secretary lowers two proposals, with reasons.
    lower_cuong = warning.find_button("⬇ Hạ mức: Lê Văn Cường (HTT)")["callback_data"]
    await press(an, "⬇ Hạ mức: Lê Văn Cường (HTT)", warning)
    ask = await next_with(an, "Hạ xuống mức")
    assert ask.button_labels() == ["HT", "KHT", "✖ Hủy"]
    await press(an, "HT", ask)
    count = len(an.messages())
    await an.send("Nghỉ ốm 4 tháng trong năm (R-C1)")
    confirm = await next_with(an, "sẽ được hạ từ HTT xuống HT", count)  # irreversible: confirmed
    assert confirm.button_labels() == ["✅ Xác nhận", "✖ Hủy"]
    count = len(an.messages())
    await press(an, "✅ Xác nhận", confirm)
    done = await next_with(an, "Đã hạ mức", count)
    assert done.text.startswith("✅ Đã hạ mức đề xuất của Lê Văn Cường từ HTT xuống HT.")
    assert "vi phạm quy định" in done.text and "Lê Văn Cường" not in done.text.split("\n", 2)[2]
    # The warning's buttons follow what still stands: Cường's is gone from it. A press of it
    # still in a chat is checked again: his proposal is HT now.
    await fake_telegram.wait_idle()
    assert warning.button_labels() == done.button_labels() == [
        "⬇ Hạ mức: Nguyễn Văn An (HTXS)", "⬇ Hạ mức: Trần Thị Bình (HTXS)",
        "🗳 Bỏ phiếu lại cho các đồng chí liên quan"]
    count = len(an.messages())
    await an.wait_answer(await an.press_data(lower_cuong, message=warning))
    again = await next_with(an, "Hạ xuống mức", count)
    assert "Lê Văn Cường" in again.text and "HT." in again.text and again.button_labels() == ["KHT", "✖ Hủy"]
    count = len(an.messages())
    await press(an, "⬇ Hạ mức: Trần Thị Bình (HTXS)", done)
    await press(an, "HTT", await next_with(an, "Hạ xuống mức", count))
    count = len(an.messages())
    await an.send("Chi bộ dưới 7 đảng viên chỉ được 1 HTXS")
    confirm = await next_with(an, "sẽ được hạ", count)
    count = len(an.messages())
    await press(an, "✅ Xác nhận", confirm)
    done = await next_with(an, "Đã hạ mức", count)
    assert "không vi phạm tỷ lệ hay giới hạn nào" in done.text

    async def history(session):
        rows = await session.execute(
            select(Member.full_name, RatingChange.level, RatingChange.reason)
            .join(Rating, Rating.id == RatingChange.rating_id)
            .join(Member, Member.id == Rating.member_id)
            .where(RatingChange.kind == "lowered")
        )
        audit = (await session.scalars(
            select(AuditEntry.action).where(AuditEntry.action == "rating.lower"))).all()
        return sorted(rows.all()), audit

    lowered, audit = await query(database_url, history)
    assert lowered == [("Lê Văn Cường", "HT", "Nghỉ ốm 4 tháng trong năm (R-C1)"),
                       ("Trần Thị Bình", "HTT", "Chi bộ dưới 7 đảng viên chỉ được 1 HTXS")]
    assert audit == ["rating.lower", "rating.lower"]
    inbox.all_new()
    clock.current = local(2026, 12, 12, 9, 0)
    assert await monitor(bot, clock) == 0  # nothing stands: nothing new upstairs

    # CB01's own finish-by (18/12) has passed and nothing is decided yet.
    clock.current = local(2026, 12, 19, 9, 0)
    assert await monitor(bot, clock) == 1
    [text] = inbox.all_new()["DV01"]
    assert text.startswith("⚠️ Đã quá hạn hoàn thành 18/12/2026 theo kế hoạch mà mức xếp loại "
                           "của 5 đảng viên Chi bộ Giáo viên chưa được quyết định")

    # CB02 has no meeting 7 days before the plan's finish-by (31/12).
    clock.current = local(2026, 12, 24, 9, 0)
    assert await monitor(bot, clock) == 1
    assert inbox.all_new() == {"DV06": [
        "📅 Chi bộ Hành chính chưa có lịch hội nghị kiểm điểm, trong khi kế hoạch yêu cầu hoàn "
        "thành trước ngày 31/12/2026. Đồng chí đặt lịch bằng lệnh /lich_hop."]}

    # The deciding level decides CB01 (issue 6 writes decisions; here straight in the database).
    async def decide(session):
        await session.execute(update(Rating).values(state="decided",
                                                    decided_level=Rating.proposed_level))

    await query(database_url, decide)
    clock.current = local(2027, 1, 2, 9, 0)
    # CB02 only: its finish-by 31/12 has passed; and the đảng ủy's committee is told once of
    # the units it has not decided (issue 14: the plan's units, none rated here).
    assert await monitor(bot, clock) == 3
    got = inbox.all_new()
    units = {code: [t for t in texts if "tổ chức, tập thể thuộc thẩm quyền" in t]
             for code, texts in got.items()}
    assert {code: len(texts) for code, texts in units.items() if texts} == {"DV07": 1, "DV08": 1}
    assert "• Chi bộ Giáo viên (tổ chức đảng)" in units["DV07"][0]
    assert got["DV06"] == [t for t in got["DV06"] if not t.startswith("⏰")]
    assert len(got["DV06"]) == 1 and got["DV06"][0].startswith("⚠️ Đã quá hạn hoàn thành 31/12/2026")
    assert await monitor(bot, clock) == 0
    assert not fake_telegram.refused

    async def ledger(session):
        return (await session.execute(select(SentNotice.kind, SentNotice.state))).all()

    rows = await query(database_url, ledger)
    assert {state for _, state in rows} == {"sent"}
    assert sorted({kind for kind, _ in rows}) == [
        "breach", "no_ballot", "no_meeting", "not_decided", "review_due", "reviews_missing",
        "units_undecided"]


# --- sending at scale --------------------------------------------------------------------------


async def reminders_due(database_url, fake):
    """The tree, a plan saved by the service, CB01's meeting on 10/12: five reminders due on
    04/12 (nobody has submitted)."""
    tree = await build_tree(database_url, fake)

    async def run(session):
        org = await session.scalar(select(Organisation).where(Organisation.code == "UP01"))
        cycle = await save_own_plan(session, org, year=2026, rulebook_code="hd21-2019",
                                    overrides={}, deadlines={}, actor="test",
                                    now=local(2026, 11, 1))
        session.add(Meeting(cycle_id=cycle.id, org_id=tree.org_ids["CB01"],
                            scheduled_at=local(2026, 12, 10, 8, 0)))

    await query(database_url, run)
    await draft_sent(database_url)
    return tree


CB01 = ["DV01", "DV02", "DV03", "DV04", "DV05"]


async def test_429_is_retried_403_is_reported_once_and_failures_wait_for_the_next_run(
    bot, fake_telegram, database_url, clock
):
    tree = await reminders_due(database_url, fake_telegram)
    users = tree.users
    inbox = Inbox(users)
    fake_telegram.inject_error("sendMessage", chat_id=users["DV03"].id, error_code=429,
                               retry_after=1)
    fake_telegram.inject_error("sendMessage", chat_id=users["DV04"].id, error_code=403)
    fake_telegram.inject_error("sendMessage", chat_id=users["DV05"].id, error_code=500)
    clock.current = local(2026, 12, 4, 10, 0)
    assert await monitor(bot, clock) == 4  # An, Bình, Cường after the wait; An's 403 notice
    got = inbox.all_new()
    assert starting(got, REMIND_3) == {"DV01": 1, "DV02": 1, "DV03": 1}
    assert got["DV01"][1] == (
        "🚫 Đồng chí Phạm Thị Dung đã chặn bot nên không nhận được nhắc việc. Đề nghị đồng chí "
        "báo trực tiếp, hoặc nhắc đồng chí ấy mở lại bot.")
    assert len(got["DV01"]) == 2 and "DV04" not in got and "DV05" not in got
    assert sorted(c.error_code for c in fake_telegram.injected) == [403, 429, 500]
    # The 429 was waited out (retry_after=1) and the same message sent again, once.
    to_cuong = [c for c in fake_telegram.calls_to("sendMessage")
                if c.params.get("chat_id") == users["DV03"].id]
    assert [c.kind for c in to_cuong] == ["injected", "ok"]
    assert to_cuong[1].time - to_cuong[0].time >= 0.9

    async def blocked(session):
        return await session.scalar(
            select(TelegramAccount.blocked_at).where(TelegramAccount.telegram_id == users["DV04"].id))

    assert await query(database_url, blocked) == clock()
    # Next run: the failed one goes out; the blocked member and the secretary hear nothing more.
    clock.current = local(2026, 12, 4, 11, 0)
    assert await monitor(bot, clock) == 1
    assert starting(inbox.all_new(), REMIND_3) == {"DV05": 1}
    assert await monitor(bot, clock) == 0
    assert len(fake_telegram.injected) == 3 and not fake_telegram.refused


class CrashAfter:
    """The process stops right after Telegram accepted the `n`-th message, before the
    monitor could mark it sent."""

    def __init__(self, bot, n: int) -> None:
        self.bot, self.n, self.count = bot, n, 0

    async def send_message(self, *args, **kwargs):
        message = await self.bot.send_message(*args, **kwargs)
        self.count += 1
        if self.count == self.n:
            raise RuntimeError("the process stops here")
        return message


async def test_a_restart_halfway_through_a_batch_sends_the_rest_and_nothing_twice(
    bot, fake_telegram, database_url, clock
):
    tree = await reminders_due(database_url, fake_telegram)
    users = tree.users
    inbox = Inbox(users)
    clock.current = local(2026, 12, 4, 10, 0)
    app = bot.application
    with pytest.raises(RuntimeError):
        from bot.jobs import run_monitor

        await run_monitor(app.bot_data["services"], CrashAfter(app.bot, 3), now=clock())
    first = starting(inbox.all_new(), REMIND_3)
    assert sum(first.values()) == 3

    await bot.restart()  # the start-up run sends what is left
    await until(lambda: sum(len(u.messages()) for u in users.values()) >= 5)
    await fake_telegram.wait_idle(quiet=0.3)
    second = starting(inbox.all_new(), REMIND_3)
    assert sum(second.values()) == 2 and not set(first) & set(second)
    assert set(first) | set(second) == set(CB01)
    assert await monitor(bot, clock) == 0

    async def ledger(session):
        return sorted((await session.scalars(select(SentNotice.state))).all())

    # The one in flight when the process stopped stays "pending": never sent again.
    assert await query(database_url, ledger) == ["pending", "sent", "sent", "sent", "sent"]
    assert not fake_telegram.refused
