"""Issue 11: the counting committee as the secretary and its members see it: named at /hop,
its shares delivered or the round not opened, the box opened by k presses and not by fewer,
presses lost in a restart; and what the bot finishes at start-up after a crash (issue 9)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.services import ballot as service
from handlers.views.ballot import redact_vote
from storage.db import Database
from storage.models import BallotRound
from storage.models import OutboxMessage
from tests.e2e.test_ballot import KEY_MESSAGE
from tests.e2e.test_ballot import RECEIPTS
from tests.e2e.test_ballot import UNLOCK
from tests.e2e.test_ballot import Cell
from tests.e2e.test_ballot import Person
from tests.e2e.test_ballot import build
from tests.e2e.test_ballot import counts
from tests.e2e.test_ballot import newest
from tests.e2e.test_ballot import open_meeting
from tests.e2e.test_ballot import press
from tests.e2e.test_ballot import query
from tests.e2e.test_ballot import until
from tests.e2e.test_ballot import vote

SIX = [
    Person("DV01", "Nguyễn Văn An", role="secretary"),
    Person("DV02", "Trần Thị Bình"),
    Person("DV03", "Lê Văn Cường"),
    Person("DV04", "Phạm Thị Dung"),
    Person("DV05", "Hoàng Văn Em"),
    Person("DV06", "Vũ Thị Giang"),
]
ALL_T = {p.name: "T" for p in SIX}


async def ask(user, text: str):
    before = len(user.messages())
    await user.send(text)
    await until(lambda: len(user.messages()) > before)
    return user.messages()[before]


async def _round(database_url) -> BallotRound | None:
    return await query(database_url, lambda s: s.scalar(select(BallotRound)))


async def _ballots_out(users, codes) -> None:
    await until(lambda: all(
        any("Phiếu bầu kín" in (m.text or "") for m in users[c].messages()) for c in codes
    ), seconds=20)


async def test_the_secretary_names_the_committee_and_k_of_them_open_the_box(
    bot, fake_telegram, database_url
):
    cell = Cell("CB01", "Chi bộ Khu phố 1", SIX)
    await build(database_url, fake_telegram, [cell])
    users = cell.users
    an = users["DV01"]
    meeting = await open_meeting(an)
    # The default for six: the secretary and the first two others by name (given name first),
    # two of three.
    assert "Ban kiểm phiếu: Nguyễn Văn An, Trần Thị Bình, Lê Văn Cường; cần 2/3" in meeting.text
    await press(an, "🧮 Ban kiểm phiếu", meeting)
    assert "bỏ phiếu lại, như khi hòm phiếu giấy bị hỏng" in meeting.text  # a lost share
    await press(an, "☐ Hoàng Văn Em", meeting)  # on
    await press(an, "☑ Hoàng Văn Em", meeting)  # off again
    await press(an, "☐ Vũ Thị Giang", meeting)  # on: four members
    assert "3/4 ✓" in meeting.button_labels()  # four members: three of them by default
    await press(an, "2/4", meeting)
    await press(an, "3/4", meeting)
    assert "Ban kiểm phiếu: Nguyễn Văn An, Trần Thị Bình, Lê Văn Cường, Vũ Thị Giang; cần 3/4" in meeting.text
    await press(an, "⬅ Quay lại", meeting)
    assert "cần 3/4 đồng chí để mở hòm phiếu" in meeting.text

    await an.send("/bo_phieu")
    await _ballots_out(users, [p.code for p in SIX])
    tellers = [users[c] for c in ("DV01", "DV03", "DV02", "DV06")]
    for user in tellers:
        key = newest(user, KEY_MESSAGE)
        assert "khi 3/4 thành viên đã bấm" in key.text and key.button_labels() == [UNLOCK]
        assert len(key.buttons[0][0]["callback_data"].encode()) <= 64
    assert not any(KEY_MESSAGE in (m.text or "") for m in users["DV05"].messages())
    # Pressing while voting goes on: refused, the button stays.
    binh_key = newest(users["DV02"], KEY_MESSAGE)
    early = await press(users["DV02"], UNLOCK, binh_key)
    assert early.show_alert and "vẫn đang diễn ra" in early.text
    assert binh_key.button_labels() == [UNLOCK]
    # Someone else's key pressed from another chat: refused.
    data = binh_key.buttons[0][0]["callback_data"]
    forged = await users["DV05"].wait_answer(
        await users["DV05"].press_data(data, message=newest(users["DV05"], "Phiếu bầu kín")))
    assert forged.text == "Đây không phải chìa khóa của đồng chí."

    codes = {}
    for person in SIX:
        codes[person.code] = await vote(users[person.code], ALL_T)
    await fake_telegram.wait_idle()
    called = newest(users["DV06"], "Đã kết thúc bỏ phiếu ở vòng 1")
    assert "bấm “🔓 Mở hòm phiếu”" in called.text and "3/4" in called.text
    progress = newest(an, "Đã kết thúc bỏ phiếu: 6/6")
    assert "Nguyễn Văn An, Trần Thị Bình, Lê Văn Cường, Vũ Thị Giang" in progress.text

    # Two of the three needed press: still sealed; the secretary hears who has not pressed.
    first = await press(users["DV03"], UNLOCK, newest(users["DV03"], KEY_MESSAGE))
    assert first.text == ("Đã nhận chìa khóa của đồng chí. Đã có 1/3 cần thiết; đang chờ: "
                          "Nguyễn Văn An, Trần Thị Bình, Vũ Thị Giang.")
    await press(users["DV06"], UNLOCK, newest(users["DV06"], KEY_MESSAGE))
    await fake_telegram.wait_idle()
    told = newest(an, "Hòm phiếu vòng 1: đã có 2/3")
    assert "chưa bấm: Nguyễn Văn An, Trần Thị Bình" in told.text
    assert await counts(database_url, 1) == {}
    assert "hòm chưa được mở" in (await ask(an, f"/kiem_tra_phieu {codes['DV04']}")).text

    # A restart forgets the presses (they were in memory only): both press again, then the third.
    await bot.restart()
    again = await press(users["DV03"], UNLOCK, newest(users["DV03"], KEY_MESSAGE))
    assert "Đã có 1/3" in again.text
    await press(users["DV06"], UNLOCK, newest(users["DV06"], KEY_MESSAGE))
    opened = await press(users["DV02"], UNLOCK, binh_key)
    assert opened.text == "Hòm phiếu đã được mở."
    await fake_telegram.wait_idle()
    assert "Đồng chí đã mở hòm phiếu của vòng 1" in binh_key.text and binh_key.buttons == []
    tally = await counts(database_url, 1)
    assert all(tally[p.name]["HTT"] == 6 for p in SIX)
    for person in SIX:
        receipts = newest(users[person.code], RECEIPTS)
        assert all(code in receipts.text for code in codes.values())
    late = await press(an, UNLOCK, newest(an, KEY_MESSAGE))
    assert late.text == "Hòm phiếu của vòng này đã được mở."
    assert "đã được tính ở vòng 1" in (await ask(an, f"/kiem_tra_phieu {codes['DV04']}")).text


@pytest.mark.allow_refused
async def test_a_share_that_cannot_be_delivered_keeps_the_round_closed(
    bot, fake_telegram, database_url
):
    cell = Cell("CB01", "Chi bộ Khu phố 1", SIX)
    await build(database_url, fake_telegram, [cell])
    users = cell.users
    an, cuong = users["DV01"], users["DV03"]
    cuong.block()  # on the default committee; the database does not know yet
    await open_meeting(an)
    await an.send("/bo_phieu")
    told = await until(lambda: next(
        (m for m in an.messages() if "Vòng bỏ phiếu chưa được mở" in (m.text or "")), None))
    await fake_telegram.wait_idle()
    assert "• Lê Văn Cường: đã chặn bot" in told.text and "/hop, 🧮" in told.text
    assert await _round(database_url) is None  # removed: no ballot went out
    for code in ("DV02", "DV04", "DV05", "DV06"):
        assert not any("Phiếu bầu kín" in (m.text or "") for m in users[code].messages())
    # The share already delivered to the secretary was taken back.
    assert not any(KEY_MESSAGE in (m.text or "") and not m.deleted for m in an.messages())
    assert [(c.method, c.error_code) for c in fake_telegram.refused] == [("sendMessage", 403)]

    # Known to be unreachable now: refused before anything is made; replaced, the round opens.
    reply = await ask(an, "/bo_phieu")
    assert "Lê Văn Cường: đã chặn bot" in reply.text
    meeting = newest(an, "Hội nghị kiểm điểm năm")
    await press(an, "🧮 Ban kiểm phiếu", meeting)
    await press(an, "☑ Lê Văn Cường", meeting)
    await press(an, "☐ Phạm Thị Dung", meeting)
    await press(an, "⬅ Quay lại", meeting)
    await an.send("/bo_phieu")
    await _ballots_out(users, ["DV01", "DV02", "DV04", "DV05", "DV06"])
    assert (await _round(database_url)).state == "open"
    assert KEY_MESSAGE in newest(users["DV04"], KEY_MESSAGE).text


async def test_start_up_ends_a_round_whose_voters_all_cast_and_voids_a_half_opened_one(
    bot, fake_telegram, database_url
):
    people = SIX[:3]  # a cell of three: the secretary alone holds the key
    cell = Cell("CB01", "Chi bộ Khu phố 1", people)
    await build(database_url, fake_telegram, [cell])
    users = cell.users
    an = users["DV01"]
    await open_meeting(an)
    await an.send("/bo_phieu")
    await _ballots_out(users, ["DV01", "DV02", "DV03"])
    round_id = (await _round(database_url)).id
    choices = {p.name: "H" for p in people}
    await vote(users["DV01"], choices)
    await vote(users["DV02"], choices)
    # The bot dies just after the last cast committed, before it could end the voting: the
    # cast is made here, with the bot stopped, exactly as the turn would have committed it.
    await bot.stop()
    db = Database(database_url)
    try:
        async with db.session() as session:
            member_id = cell.member_ids["DV03"]
            await service.cast(session, round_id, member_id, {0: "HT", 1: "HT", 2: "HT"})
    finally:
        await db.dispose()
    await bot.start()
    await fake_telegram.wait_idle()
    assert newest(an, "Đã kết thúc bỏ phiếu ở vòng 1")  # announced to the committee
    progress = newest(an, "Tiến độ")
    await until(lambda: "Đã kết thúc bỏ phiếu: 3/3" in progress.text)
    await press(an, UNLOCK, newest(an, KEY_MESSAGE))
    await fake_telegram.wait_idle()
    assert (await counts(database_url, 1))["Nguyễn Văn An"]["HT"] == 3

    # A round left half-opened (its shares being handed out) is removed at start-up and the
    # secretary asked to open it again.
    await bot.stop()
    db = Database(database_url)
    try:
        async with db.session() as session:
            ballot_round = await session.get(BallotRound, round_id)
            session.add(BallotRound(
                meeting_id=ballot_round.meeting_id, number=2, state="pending",
                counting_rule="cumulative", denominator_rule="convened", opened_by=f"tg:{an.id}",
                opened_at=ballot_round.opened_at,
            ))
    finally:
        await db.dispose()
    await bot.start()
    await fake_telegram.wait_idle()
    assert "Vòng bỏ phiếu 2 chưa được mở" in newest(an, "chưa được mở").text
    rounds = await query(database_url, lambda s: s.scalars(select(BallotRound.number)))
    assert list(rounds) == [1]
    assert await query(database_url, lambda s: s.scalar(select(OutboxMessage.id))) is None


async def test_a_stored_choice_press_replayed_after_a_restart_asks_to_choose_again(
    bot, fake_telegram, database_url
):
    people = SIX[:3]
    cell = Cell("CB01", "Chi bộ Khu phố 1", people)
    await build(database_url, fake_telegram, [cell])
    users = cell.users
    await open_meeting(users["DV01"])
    await users["DV01"].send("/bo_phieu")
    await _ballots_out(users, ["DV01", "DV02", "DV03"])
    binh = users["DV02"]
    ballot = newest(binh, "Phiếu bầu kín")
    data = ballot.buttons[0][0]["callback_data"]
    redacted = redact_vote(data)  # what the inbox keeps of the press
    assert redacted == re.sub(r":[A-Z]+$", ":x", data)
    answer = await binh.wait_answer(await binh.press_data(redacted, message=ballot))
    assert answer.show_alert and "vui lòng chọn lại" in answer.text
    assert "Đảng viên 1/3" in ballot.text
    assert await vote(binh, {p.name: "X" for p in people})
