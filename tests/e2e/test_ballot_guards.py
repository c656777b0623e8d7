"""Issue 4: who may run the ballot, exactly-once casting against replays, double presses,
forged callbacks, presses after the close and a restart between the cast and the reply;
receipts; voters the bot cannot reach."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import func
from sqlalchemy import select

from handlers.views.ballot import CloseButton
from handlers.views.ballot import MeetingButton
from handlers.views.ballot import OpenButton
from storage.models import BallotRound
from storage.models import BallotVoter
from storage.models import TelegramAccount
from tests.e2e.test_ballot import CAST
from tests.e2e.test_ballot import CLOSE
from tests.e2e.test_ballot import CLOSE_NOW
from tests.e2e.test_ballot import Cell
from tests.e2e.test_ballot import Person
from tests.e2e.test_ballot import adopted
from tests.e2e.test_ballot import build
from tests.e2e.test_ballot import counts
from tests.e2e.test_ballot import newest
from tests.e2e.test_ballot import open_meeting
from tests.e2e.test_ballot import press
from tests.e2e.test_ballot import query
from tests.e2e.test_ballot import start_round
from tests.e2e.test_ballot import until
from tests.e2e.test_ballot import vote

CB01 = [
    Person("DV01", "Nguyễn Văn An", role="secretary"),
    Person("DV02", "Trần Thị Bình"),
    Person("DV03", "Lê Văn Cường"),
    Person("DV04", "Mai Thị Quỳnh", official=False, admitted_months_ago=8),
]
CB02 = [Person("DV11", "Phạm Thị Dung", role="secretary"), Person("DV12", "Hoàng Văn Em")]
AN = {"Nguyễn Văn An": "T", "Trần Thị Bình": "X", "Lê Văn Cường": "H", "Mai Thị Quỳnh": "-"}
BINH = {"Nguyễn Văn An": "X", "Trần Thị Bình": "T", "Lê Văn Cường": "K", "Mai Thị Quỳnh": "T"}


async def ask(user, text: str):
    """Send a message and return the bot's first new message in that chat."""
    before = len(user.messages())
    await user.send(text)
    await until(lambda: len(user.messages()) > before)
    return user.messages()[before]


async def _cells(database_url, fake):
    cb01, cb02 = Cell("CB01", "Chi bộ Khu phố 1", CB01), Cell("CB02", "Chi bộ Khu phố 2", CB02)
    await build(database_url, fake, [cb01, cb02])
    return cb01, cb02


async def _round(database_url, number=1) -> BallotRound:
    return await query(
        database_url, lambda s: s.scalar(select(BallotRound).where(BallotRound.number == number))
    )


async def _voted(database_url) -> int:
    return await query(
        database_url,
        lambda s: s.scalar(select(func.count()).select_from(BallotVoter).where(BallotVoter.has_voted)),
    )


async def test_only_the_cells_own_secretary_runs_its_meeting_and_ballot(bot, fake_telegram, database_url):
    cb01, cb02 = await _cells(database_url, fake_telegram)
    member, other_secretary = cb01.users["DV02"], cb02.users["DV11"]
    for command in ("/hop", "/bo_phieu"):
        await member.send(command)
        reply = await member.wait_message()
        assert "dành cho bí thư hoặc phó bí thư chi bộ" in reply.text, reply.text
        await other_secretary.send(f"{command} CB01")
        reply = await other_secretary.wait_message()
        # Another cell is out of this secretary's reach: not even its name is confirmed.
        assert reply.text == "Không có tổ chức mã CB01 trong phạm vi của đồng chí."

    # CB01's secretary opens the round; CB02's secretary forges buttons for it.
    await open_meeting(cb01.users["DV01"])
    await start_round(cb01.users["DV01"], fake_telegram)
    ballot_round = await _round(database_url)
    own = await open_meeting(other_secretary)  # CB02's own meeting works
    assert "Hội nghị kiểm điểm năm" in own.text and "Chi bộ Khu phố 2" in own.text
    await press(other_secretary, "✅ Tất cả có mặt", own)  # nothing changes: no edit is made
    for data in (
        MeetingButton("p", ballot_round.meeting_id, cb01.member_ids["DV02"]).encode(),
        MeetingButton("all", ballot_round.meeting_id).encode(),
        OpenButton("open", ballot_round.meeting_id).encode(),
        CloseButton("close", ballot_round.id).encode(),
        CloseButton("yes", ballot_round.id).encode(),
        OpenButton("next", ballot_round.meeting_id).encode(),
        f"bs:closeyes:{ballot_round.id}",  # the data of the version before
    ):
        answer = await other_secretary.wait_answer(await other_secretary.press_data(data, message=own))
        assert answer.text == "Nút này không còn hiệu lực."
        assert answer.show_alert
    # A plain member of CB01 cannot close the round either.
    ballot = newest(member, "Phiếu bầu kín")
    answer = await member.wait_answer(await member.press_data(CloseButton("close", ballot_round.id).encode(), message=ballot))
    assert "không có quyền" in answer.text
    assert (await _round(database_url)).state == "open"


async def test_exactly_once_whatever_is_pressed_replayed_forged_or_restarted(
    bot, fake_telegram, database_url
):
    cb01, _cb02 = await _cells(database_url, fake_telegram)
    an, binh, cuong, quynh = (cb01.users[c] for c in ("DV01", "DV02", "DV03", "DV04"))
    await open_meeting(an)
    await start_round(an, fake_telegram)
    round_id = (await _round(database_url)).id
    first_progress = newest(an, "0/3 đã bỏ phiếu")
    # /bo_phieu again while the round is open: the same round, its message shown anew.
    progress = await ask(an, "/bo_phieu")
    assert progress is not first_progress and "0/3 đã bỏ phiếu" in progress.text
    assert (await _round(database_url)).id == round_id
    an_ballot, binh_ballot = newest(an, "Phiếu bầu kín"), newest(binh, "Phiếu bầu kín")

    async def refused(user, data, message, expected):
        answer = await user.wait_answer(await user.press_data(data, message=message))
        assert answer.show_alert and expected in answer.text, answer
        return answer

    # Forged callbacks: someone else's ballot message, another round, an unknown candidate,
    # an unknown level, garbage; and a member who is not a voter.
    first = an_ballot.buttons[0][0]["callback_data"]
    await refused(binh, first, an_ballot, "Đây không phải phiếu bầu của đồng chí.")
    await refused(binh, f"bv1:{round_id + 1}:0:HTT", binh_ballot, "Nút này không còn hiệu lực.")
    await refused(binh, f"bv1:{round_id}:99:HTT", binh_ballot, "Nút này không còn hiệu lực.")
    await refused(binh, f"bv1:{round_id}:0:ZZZ", binh_ballot, "Nút này không còn hiệu lực.")
    await refused(binh, "bv1:garbage", binh_ballot, "Nút này không còn hiệu lực.")
    await refused(binh, f"bv1:{round_id}:0:HTT:x", binh_ballot, "Nút này không còn hiệu lực.")
    await refused(binh, f"bv1:{round_id}::HTT", binh_ballot, "Nút này không còn hiệu lực.")
    await refused(binh, f"bv:{round_id}:0:HTT", binh_ballot, "Nút này không còn hiệu lực.")
    not_voter = await ask(quynh, "/phieu")
    assert not_voter.text == "Hiện không có vòng bỏ phiếu nào dành cho đồng chí."
    await refused(quynh, f"bv1:{round_id}:0:HTT", not_voter, "không thuộc danh sách bỏ phiếu")
    assert await _voted(database_url) == 0

    # An confirms twice at the same moment: one cast, one refusal.
    await vote(an, AN, confirm=False)
    presses = await asyncio.gather(an.press(CAST, message=an_ballot), an.press(CAST, message=an_ballot))
    answers = [await an.wait_answer(p) for p in presses]
    assert sorted(a.text for a in answers) == [
        "Đồng chí đã bỏ phiếu trong vòng này. Phiếu của đồng chí chỉ được tính một lần; không có gì thay đổi.",
        "Đồng chí đã bỏ phiếu.",
    ]
    code = (await until(lambda: re.search(r"[0-9A-Z]{5}-[0-9A-Z]{5}", an_ballot.text))).group(0)
    assert an_ballot.buttons == []
    # Replays of the confirm and of a level press are refused, counts unchanged.
    await refused(an, f"bv1:{round_id}::ok", an_ballot, "đã bỏ phiếu trong vòng này")
    await refused(an, first, an_ballot, "đã bỏ phiếu trong vòng này")
    assert await _voted(database_url) == 1
    # The secretary's round message follows, in place.
    await until(lambda: "1/3 đã bỏ phiếu" in progress.text)
    assert "Chưa bỏ phiếu: Trần Thị Bình, Lê Văn Cường" in progress.text  # by given name
    assert "HTXS" not in progress.text  # who, never how
    assert "hòm chưa được mở" in (await ask(an, f"/kiem_tra_phieu {code}")).text
    pointer = await ask(an, "/phieu")  # the receipt again: a reply to the receipt message
    assert pointer.text.startswith("Đồng chí đã bỏ phiếu ở vòng 1") and "trả lời" in pointer.text
    assert pointer.reply_to_message_id == an_ballot.message_id

    # Bình's cast commits, then the receipt cannot be shown (Telegram fails), then the bot
    # restarts: the receipt was owed in the cast's transaction and arrives at start-up.
    await vote(binh, BINH, confirm=False)
    fake_telegram.inject_error("editMessageText", chat_id=binh.id, error_code=502)
    answer = await press(binh, CAST, binh_ballot)
    assert answer.text == "Đồng chí đã bỏ phiếu."
    await fake_telegram.wait_idle()
    assert len(fake_telegram.injected) == 1 and "Mã biên nhận" not in binh_ballot.text
    before = len(binh.messages())
    await bot.restart()
    receipt = await until(lambda: next(
        (m for m in binh.messages()[before:] if "Mã biên nhận" in (m.text or "")), None))
    await refused(binh, f"bv1:{round_id}::ok", binh_ballot, "đã bỏ phiếu trong vòng này")
    pointer = await ask(binh, "/phieu")
    assert pointer.text.startswith("Đồng chí đã bỏ phiếu ở vòng 1")
    assert pointer.reply_to_message_id == receipt.message_id
    assert await _voted(database_url) == 2

    # Closing is confirmed: ✖ Hủy keeps the round open, and the ✅ of that message, pressed
    # later (a stale or forged press), is checked again and refused. (First the start-up run of
    # the deadline monitor ends: from 07:00 to 21:00 it sends the secretary reminders.)
    await bot.idle()
    before = len(an.messages())
    await press(an, CLOSE, progress)
    await until(lambda: len(an.messages()) > before)
    asked = an.messages()[before]
    yes = CloseButton("yes", round_id).encode()
    assert [b["callback_data"] for row in asked.buttons for b in row][0] == yes
    before = len(an.messages())
    await press(an, "✖ Hủy", asked)
    await until(lambda: len(an.messages()) > before)
    assert an.messages()[before].text == "Đã dừng việc kết thúc vòng bỏ phiếu. Vòng bỏ phiếu vẫn tiếp tục."
    assert asked.buttons == []
    await refused(an, yes, asked, "Nút này không còn hiệu lực.")
    assert (await _round(database_url)).state == "open" and (await _round(database_url)).ended_at is None

    # The secretary closes with Cường not having voted; Cường's press comes too late.
    cuong_ballot = newest(cuong, "Phiếu bầu kín")
    before = len(an.messages())
    await press(an, CLOSE, progress)
    await until(lambda: len(an.messages()) > before)
    confirm = an.messages()[before]
    assert "Còn 1 đồng chí chưa bỏ phiếu: Lê Văn Cường" in confirm.text
    assert "không thể hoàn tác" in confirm.text
    assert confirm.button_labels() == [CLOSE_NOW, "✖ Hủy"]
    await press(an, CLOSE_NOW, confirm)
    assert confirm.button_labels() == []  # the finished step keeps no live button
    await fake_telegram.wait_idle()
    assert "Đã kết thúc bỏ phiếu: 2/3" in progress.text
    late = cuong_ballot.buttons[0][0]["callback_data"]
    await refused(cuong, late, cuong_ballot, "đã kết thúc")
    await fake_telegram.wait_idle()
    assert cuong_ballot.buttons == []  # a ballot that can no longer be used keeps no button
    # A cell under five members: the secretary alone holds the key (1 of 1).
    key = newest(an, "chìa khóa hòm phiếu của đồng chí")
    assert "khi 1/1 thành viên đã bấm" in key.text
    assert (await press(an, "🔓 Mở hòm phiếu", key)).text == "Hòm phiếu đã được mở."
    await fake_telegram.wait_idle()
    assert "Đã kết thúc: 2/3 đã bỏ phiếu" in progress.text
    assert "0/3 đã bỏ phiếu" in first_progress.text  # the replaced message is left alone
    await refused(cuong, late, cuong_ballot, "đã kết thúc")  # the old press replayed
    await refused(an, f"bv1:{round_id}::ok", an_ballot, "đã bỏ phiếu trong vòng này")
    for user in (an, binh, cuong):
        assert "Số phiếu bầu: 2/3. Mẫu số: 3" in newest(user, "Kết quả bỏ phiếu kín").text

    # Every count is exact: An's and Bình's ballots, once each.
    tallies = await counts(database_url, 1)
    for name in AN:
        expected = {"HTXS": 0, "HTT": 0, "HT": 0, "KHT": 0, "BLANK": 0}
        for ballot in (AN, BINH):
            expected[{"X": "HTXS", "T": "HTT", "H": "HT", "K": "KHT", "-": "BLANK"}[ballot[name]]] += 1
        assert tallies[name] == expected, name
    # Denominator 3, more than half = 2: An HTXS 1 + HTT 1 = 2 -> HTT; Bình HTXS 1 + HTT 1 -> HTT;
    # Cường HTXS 0, HTT 0, HT 1, KHT 1: 1 + 1 = 2 -> KHT; Quỳnh HTT 1 (+ blank) -> undecided.
    assert await adopted(database_url, 1) == {
        "Nguyễn Văn An": "HTT", "Trần Thị Bình": "HTT", "Lê Văn Cường": "KHT", "Mai Thị Quỳnh": None,
    }

    # Receipts after the close: counted; an unknown code: not found; nothing about choices.
    reply = (await ask(an, f"/kiem_tra_phieu {code.lower()}")).text
    assert "đã được tính ở vòng 1 của Chi bộ Khu phố 1" in reply
    assert not any(level in reply for level in ("HTXS", "HTT", "KHT"))
    reply = (await ask(an, "/kiem_tra_phieu ZZZZZ-ZZZZZ")).text
    assert "Không có phiếu bầu nào có mã biên nhận" in reply
    assert "Gửi mã biên nhận sau lệnh" in (await ask(an, "/kiem_tra_phieu")).text


@pytest.mark.allow_refused
async def test_voters_the_bot_cannot_reach_are_listed_with_the_invite_hint(
    bot, fake_telegram, database_url
):
    people = [
        Person("DV01", "Nguyễn Văn An", role="secretary"),
        Person("DV02", "Trần Thị Bình", started=False),  # never started the bot
        Person("DV03", "Lê Văn Cường"),  # blocks the bot; the database does not know yet
    ]
    cell = Cell("CB01", "Chi bộ Khu phố 1", people)
    await build(database_url, fake_telegram, [cell])
    an, cuong = cell.users["DV01"], cell.users["DV03"]
    cuong.block()
    await open_meeting(an)
    await an.send("/bo_phieu")
    listing = await until(lambda: next((m for m in an.messages()
                                        if "Không gửi được phiếu bầu cho 2 đồng chí" in (m.text or "")), None))
    await fake_telegram.wait_idle()
    assert "Trần Thị Bình: chưa mở bot hoặc chưa liên kết tài khoản" in listing.text
    assert "Lê Văn Cường: đã chặn bot" in listing.text
    assert "/moi" in listing.text and "/phieu" in listing.text
    # The one refusal is Telegram's 403 for the blocked user, now recorded.
    assert [(c.method, c.error_code) for c in fake_telegram.refused] == [("sendMessage", 403)]
    account = await query(database_url, lambda s: s.get(TelegramAccount, cuong.id))
    assert account.blocked_at is not None

    # Cường unblocks and asks for his ballot.
    ballot = await ask(cuong, "/phieu")
    assert "Đảng viên 1/3" in ballot.text
    await vote(cuong, {"Nguyễn Văn An": "T", "Trần Thị Bình": "T", "Lê Văn Cường": "H"})
    assert await _voted(database_url) == 1
