"""Vietnamese name order: given name first, Vietnamese alphabet, tones second."""

import random

import pytest

from rules.people import name_sort_key


def _sorted(names):
    return sorted(names, key=name_sort_key)


def test_given_name_comes_first():
    # By family name this would be Lê, Nguyễn, Trần; by given name it is An, Bình, Cường.
    names = ["Trần Văn An", "Lê Thị Cường", "Nguyễn Văn Bình"]
    assert _sorted(names) == ["Trần Văn An", "Nguyễn Văn Bình", "Lê Thị Cường"]


def test_same_given_name_orders_by_family_then_middle_names():
    names = ["Nguyễn Văn Hùng", "Lê Văn Hùng", "Nguyễn Đức Hùng", "Lê Hùng"]
    assert _sorted(names) == ["Lê Hùng", "Lê Văn Hùng", "Nguyễn Đức Hùng", "Nguyễn Văn Hùng"]


def test_d_stroke_sorts_after_d_not_after_v():
    # Code point order puts "Đ" (U+0110) after "V"; Vietnamese puts it right after "D".
    names = ["Vũ Đặng", "Đặng Dương", "Dương Vũ"]
    assert _sorted(["A " + w for w in ("Vũ", "Đặng", "Dương")]) == ["A Dương", "A Đặng", "A Vũ"]
    assert _sorted(names) == ["Đặng Dương", "Vũ Đặng", "Dương Vũ"]
    assert _sorted(["Nguyễn Văn Đức", "Nguyễn Văn Dũng", "Nguyễn Văn Em"]) == [
        "Nguyễn Văn Dũng",
        "Nguyễn Văn Đức",
        "Nguyễn Văn Em",
    ]


def test_tone_is_a_secondary_difference():
    # Tones only decide between names whose letters are the same ...
    assert _sorted(["Lê Thị Ánh", "Lê Thị Anh", "Lê Thị Ảnh"]) == [
        "Lê Thị Anh",
        "Lê Thị Ảnh",
        "Lê Thị Ánh",
    ]
    # ... and never before a difference of letters: Ánh < Anhx although á > a.
    assert _sorted(["Hồ Anhx", "Hồ Ánh"]) == ["Hồ Ánh", "Hồ Anhx"]
    # Same letters in the given name: the family name (Bùi < Võ) decides before the tone.
    assert _sorted(["Võ Anh", "Bùi Ánh"]) == ["Bùi Ánh", "Võ Anh"]


def test_tone_order_is_huyen_hoi_nga_sac_nang():
    names = ["X Mạ", "X Má", "X Mã", "X Mả", "X Mà", "X Ma"]
    assert _sorted(names) == ["X Ma", "X Mà", "X Mả", "X Mã", "X Má", "X Mạ"]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("Lê Văn Ung", "Lê Văn Ưng"),  # u < ư
        ("Lê Văn Ưng", "Lê Văn Vinh"),  # ư < v
        ("Phạm Thị Lan", "Phạm Thị Lăng"),  # a < ă
        ("Phạm Thị Lăng", "Phạm Thị Lâm"),  # ă < â (letters beat the later m/n)
        ("Hà Văn Toàn", "Hà Văn Tôn"),  # o < ô
        ("Hà Văn Tôn", "Hà Văn Tơ"),  # ô < ơ
        ("Ngô Thị Nhe", "Ngô Thị Nhê"),  # e < ê
        ("Mai Văn Zu", "Mai Văn Øa"),  # unknown letters after the alphabet
    ],
)
def test_vietnamese_letters_are_letters_of_their_own(before, after):
    assert name_sort_key(before) < name_sort_key(after)


def test_eth_lookalike_reads_as_d_stroke():
    # "Ð" (U+00D0) is typed for "Đ" (U+0110) by some keyboards.
    assert name_sort_key("Trần Ðức")[:1] == name_sort_key("Trần Đức")[:1]
    assert _sorted(["Trần Ðức", "Trần Dũng"]) == ["Trần Dũng", "Trần Ðức"]


def test_composed_and_decomposed_spellings_sort_alike():
    composed = "Nguyễn Thị Ánh"
    decomposed = "Nguye\u0302\u0303n Thi\u0323 A\u0301nh"
    assert name_sort_key(composed)[:3] == name_sort_key(decomposed)[:3]


def test_case_and_extra_spaces_do_not_change_the_order():
    assert name_sort_key("nguyễn văn an")[:2] == name_sort_key("Nguyễn  Văn An ")[:2]


def test_order_is_total_and_stable_under_shuffling():
    names = [
        "Đặng Văn Anh", "Dương Thị Ánh", "Vũ Minh Anh", "Nguyễn Anh", "Ông Ích Khiêm",
        "Lò Văn Ư", "Lý Thị U", "Bế Văn Đàn", "Hoàng Thị Dung", "Một", "", "Nguyễn Văn 2",
    ]
    expected = _sorted(names)
    for seed in range(20):
        shuffled = names[:]
        random.Random(seed).shuffle(shuffled)
        assert _sorted(shuffled) == expected
    assert expected[0] == ""  # an empty name sorts first and does not break the key
    assert expected.index("Nguyễn Anh") < expected.index("Vũ Minh Anh")
    # Same letters in the given name: the family name decides (Dương < Đặng), not the tone.
    assert expected.index("Dương Thị Ánh") < expected.index("Đặng Văn Anh")
