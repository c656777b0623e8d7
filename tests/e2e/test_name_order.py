"""Issue 10 item 5: the lists a secretary sees are in Vietnamese name order: by given name,
then family and middle names, with Đ after D and tones after letters."""

from __future__ import annotations

from tests.e2e.test_ballot import Cell
from tests.e2e.test_ballot import Person
from tests.e2e.test_ballot import build

# Given in roster order; the expected order is by given name (An, Anh/Ánh, Ung, Ưng), then family
# name: "Dương" before "Đặng" before "Vũ" (code point order would put Đ after V). "Anh" and
# "Ánh" differ only by a tone, a secondary difference: the family name decides first.
PEOPLE = [
    Person("DV01", "Vũ Văn An", role="secretary"),
    Person("DV02", "Lê Thị Ưng"),
    Person("DV03", "Đặng Thị An"),
    Person("DV04", "Nguyễn Thị Ánh"),
    Person("DV05", "Dương Văn An"),
    Person("DV06", "Trần Văn Anh"),
    Person("DV07", "Lê Văn Ung"),
]
EXPECTED = [
    "Dương Văn An",
    "Đặng Thị An",
    "Vũ Văn An",
    "Nguyễn Thị Ánh",
    "Trần Văn Anh",
    "Lê Văn Ung",
    "Lê Thị Ưng",
]


async def test_the_attendance_list_is_in_vietnamese_name_order(bot, fake_telegram, database_url):
    cell = Cell("CB01", "Chi bộ Khu phố 1", PEOPLE)
    await build(database_url, fake_telegram, [cell])
    secretary = cell.users["DV01"]
    await secretary.send("/hop")
    meeting = await secretary.wait_message()
    names = {p.name for p in PEOPLE}
    shown = [
        label.split(" ", 1)[1]
        for label in meeting.button_labels()
        if " " in label and label.split(" ", 1)[1] in names
    ]
    assert shown == EXPECTED
