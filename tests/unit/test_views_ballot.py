"""The meeting's and the ballot's screens (handlers/views/ballot.py), without Telegram."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from bot.callbacks import CALLBACK_LIMIT
from bot.i18n import Translator
from bot.services.ballot import OPEN
from bot.services.ballot import RoundResult
from bot.services.ballot import RoundView
from bot.services.ballot_box import key_id
from bot.services.ballot_box import new_round_keys
from handlers.views import ballot as views
from rules.ballot import needed

BIG = 2**31 - 1  # the largest row id a button takes
T = Translator("vi")


def member(number: int, name: str):
    return SimpleNamespace(id=BIG - number, full_name=name)


AN, BINH, CUONG = member(1, "Nguyễn Văn An"), member(2, "Trần Thị Bình"), member(3, "Lê <Cường>")


def view(*, voted=(True, False, False), ended=False) -> RoundView:
    ballot_round = SimpleNamespace(
        id=BIG, number=2, state=OPEN, ended_at=dt.datetime(2026, 12, 1) if ended else None,
        denominator=3, threshold=2, public_key=new_round_keys(2, 3).public_key, kind="members",
    )
    candidates = [(SimpleNamespace(position=p), m) for p, m in enumerate((AN, BINH, CUONG))]
    return RoundView(
        round=ballot_round, meeting=SimpleNamespace(id=BIG), cell=SimpleNamespace(name="Chi bộ 1"),
        candidates=candidates, voters=list(zip((AN, BINH, CUONG), voted, strict=True)),
        tellers=[AN, BINH, CUONG],
    )


def datas(markup) -> list[str]:
    return [b.callback_data for row in markup.inline_keyboard for b in row]


def test_every_ballot_button_is_typed_and_fits_with_the_largest_ids():
    shown = view()
    screens = [views.ballot_screen(T, shown, {}, 0), views.ballot_screen(T, shown, {0: "HT"}, None)]
    presses = [views.VoteButton.decode(d) for _text, markup in screens for d in datas(markup)]
    assert {p.choice for p in presses} == {"HTXS", "HTT", "HT", "KHT", "BLANK", "edit", "ok"}
    assert all(p.round_id == BIG for p in presses)
    assert views.VoteButton(BIG, None, "ok") in presses  # the cast: no position
    for share in new_round_keys(3, 5).shares:
        data = datas(views.share_keyboard(T, shown, share))[0]
        assert len(data.encode()) <= CALLBACK_LIMIT
        pressed = views.KeyButton.decode(data)
        assert (pressed.index, pressed.share) == (share.index, share.encode())
        assert pressed.key == key_id(shown.round.public_key)


def test_the_summary_shows_each_choice_and_escapes_names():
    text, _markup = views.ballot_screen(T, view(), {0: "HTXS", 1: "BLANK"}, None)
    assert "1. Nguyễn Văn An: <b>HTXS</b>" in text
    assert "2. Trần Thị Bình: <b>để trống</b>" in text
    assert "3. Lê &lt;Cường&gt;: <b>…</b>" in text


def test_closing_says_who_loses_their_vote_and_asks_to_confirm():
    shown = view()
    text = views.close_text(T, shown)
    assert "Còn 2 đồng chí chưa bỏ phiếu: Trần Thị Bình, Lê &lt;Cường&gt;" in text
    assert "không thể hoàn tác" in text
    [data] = datas(views.close_keyboard(T, shown))
    assert views.CloseButton.decode(data) == views.CloseButton("yes", BIG)
    everyone = views.close_text(T, view(voted=(True, True, True)))
    assert "chưa bỏ phiếu" not in everyone and "không thể hoàn tác" in everyone


def test_the_round_message_while_voting_and_once_sealed():
    text, markup = views.progress_screen(T, view())
    assert "<b>1/3 đã bỏ phiếu</b>" in text
    assert views.CloseButton.decode(datas(markup)[0]) == views.CloseButton("close", BIG)
    text, markup = views.progress_screen(T, view(ended=True))
    assert markup is None and "Đã kết thúc bỏ phiếu: 1/3" in text


def test_another_round_is_offered_only_for_undecided_members():
    decided = SimpleNamespace(undecided=False)
    results = [SimpleNamespace(member=AN, decision=decided)]
    result = RoundResult(view(), 3, 3, None, results)
    assert views.results_keyboard(T, result) is None
    result.results.append(SimpleNamespace(member=BINH, decision=None))
    [data] = datas(views.results_keyboard(T, result))
    assert views.OpenButton.decode(data) == views.OpenButton("next", BIG)


def test_more_than_half():
    assert [needed(n) for n in (1, 2, 3, 4, 12, 13)] == [1, 2, 2, 3, 7, 7]


def test_the_meeting_screen_buttons_name_the_meeting_and_the_member():
    from rules.people import Presence

    state = SimpleNamespace(
        meeting=SimpleNamespace(id=BIG), members=[AN, BINH],
        presence={AN.id: Presence.PRESENT, BINH.id: Presence.ABSENT_EXCUSED},
    )
    markup = views.meeting_keyboard(T, state)
    labels = [b.text for row in markup.inline_keyboard for b in row]
    assert labels[:2] == ["✅ Nguyễn Văn An", "🟡 Trần Thị Bình"]
    pressed = datas(markup)
    assert views.MeetingButton.decode(pressed[0]) == views.MeetingButton("p", BIG, AN.id)
    assert views.MeetingButton.decode(pressed[2]) == views.MeetingButton("all", BIG)
    assert views.MeetingButton.decode(pressed[3]) == views.MeetingButton("cm", BIG)
    assert views.OpenButton.decode(pressed[4]) == views.OpenButton("open", BIG)


def test_what_the_round_says_outside_a_turn():
    shown = view(ended=True)
    missing = [(AN, views.undelivered(T, True)), (CUONG, views.undelivered(T, False))]
    text = views.unreachable_voters_text(T, missing)
    assert "2" in text.splitlines()[0] and "• Lê &lt;Cường&gt;: " in text and "/phieu" in text
    assert views.undelivered(T, True) == views.why_unreachable(T, SimpleNamespace(blocked_at=1))
    call = views.box_call_text(Translator("en"), shown)
    assert "round 2 of Chi bộ 1" in call and "2 of 3" in call
    assert "/bo_phieu" in views.not_opened_text(T, 2)


def test_the_keys_pressed_are_counted_by_name():
    from bot.services.ballot_rounds import Press

    press = Press(1, 2, [CUONG, BINH])
    en = Translator("en")
    assert views.key_in_text(en, press) == (
        "Your key is in. 1 of 2 needed; waiting for: Trần Thị Bình, Lê &lt;Cường&gt;.")
    assert "round 2: 1 of the 2 presses" in views.presses_text(en, view(), press)


def test_a_receipt_check_and_the_pointer_to_a_receipt():
    from bot.services.ballot import ReceiptCheck

    en = Translator("en")
    assert "<code>&lt;x&gt;</code>" in views.receipt_check_text(en, ReceiptCheck(False), "<x>")
    sealed = ReceiptCheck(True, SimpleNamespace(number=2, state=OPEN), SimpleNamespace(name="CB"))
    assert "not opened yet" in views.receipt_check_text(en, sealed, "AB")
    counted = ReceiptCheck(True, SimpleNamespace(number=2, state="closed"), SimpleNamespace(name="CB"))
    assert "was counted in round 2 of CB" in views.receipt_check_text(en, counted, "AB")
    here = views.receipt_pointer(en, view(), "here")
    assert here.startswith("You have already voted in round 2 of Chi bộ 1.")
    assert here.endswith("in the message this one answers.")
    assert "deleted" in views.receipt_pointer(en, view(), "gone")
