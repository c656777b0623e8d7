"""Issue 10 item 5: the greeting after /start fits a phone screen; the full help is a button
(or /help) away."""

from tests.e2e.test_onboarding import _join  # noqa: F401 (fixture)
from tests.e2e.test_onboarding import tokens  # noqa: F401 (fixture)

PHONE_SCREEN = 1200  # characters a phone shows without scrolling far


async def test_the_greeting_is_short_and_the_full_help_is_one_press_away(tokens, fake_telegram):  # noqa: F811
    greetings = {}
    users = {}
    for code, name in (
        ("DV001", "Nguyễn Văn An"),  # secretary of a cell
        ("DV004", "Phạm Thị Dung"),  # secretary of a cell and of the grassroots committee
        ("DV002", "Trần Thị Bình"),  # a member
    ):
        users[code], greetings[code] = await _join(fake_telegram, name, tokens[code])
    for code, greeting in greetings.items():
        assert len(greeting.text) <= PHONE_SCREEN, (code, len(greeting.text), greeting.text)
        assert greeting.button_labels() == ["📖 Tất cả chức năng"]
    secretary = greetings["DV001"].text
    assert "Xin chào đồng chí Nguyễn Văn An!" in secretary
    assert "/moi" in secretary and "/kiem_diem_chi_bo" in secretary and "/hop" in secretary
    assert "/quyet_dinh" in greetings["DV004"].text
    assert "/kiem_diem" in greetings["DV002"].text and "/moi" not in greetings["DV002"].text

    an = users["DV001"]
    answer = await an.wait_answer(await an.press("📖 Tất cả chức năng", message=greetings["DV001"]))
    assert answer is not None
    help_message = await an.wait_message()
    assert help_message.text.startswith("Đồng chí có thể:") and "/moi" in help_message.text
    assert "tệp danh sách (.xlsx)" in help_message.text  # the full help, tips included
    assert greetings["DV001"].button_labels() == []  # the pressed button is gone
    await an.send("/help")
    assert (await an.wait_message()).text == help_message.text
