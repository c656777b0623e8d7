"""The CLI speaks the default locale (BOT_DEFAULT_LOCALE, Vietnamese unless set) for its help
and its errors, argparse's own words included, as it does for its output."""

import argparse

import pytest

from bot.cli import argparse_speaks
from bot.cli import main
from bot.cli import parser
from bot.i18n import Translator


@pytest.fixture(autouse=True)
def no_env_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no developer's .env
    monkeypatch.delenv("BOT_DEFAULT_LOCALE", raising=False)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def test_help_is_vietnamese_by_default(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert out.startswith("cách dùng: kiemdiem")
    assert "tùy chọn:" in out and "hiện trợ giúp này rồi thoát" in out
    assert "nhập tổ chức và đảng viên (.xlsx hoặc .csv)" in out
    assert "usage" not in out and "show this help" not in out
    code, out, _ = run(capsys, "cycle", "create", "--help")
    assert "năm kiểm điểm" in out and "hạn báo cáo kết quả lên cấp trên" in out


def test_help_and_errors_are_english_with_the_locale_set(capsys, monkeypatch):
    monkeypatch.setenv("BOT_DEFAULT_LOCALE", "en")
    code, out, _ = run(capsys, "--help")
    assert code == 0 and out.startswith("usage: kiemdiem")
    assert "import organisations and members (.xlsx or .csv)" in out and "cách dùng" not in out
    code, _, err = run(capsys, "cycle", "create", "--org", "CB01")
    assert code == 2
    assert "error: the following arguments are required: --year" in err


def test_errors_are_vietnamese_by_default(capsys):
    code, _, err = run(capsys, "khong-co")
    assert code == 2
    assert "kiemdiem: lỗi: tham số LỆNH: lựa chọn không hợp lệ: 'khong-co'" in err
    code, _, err = run(
        capsys, "cycle", "create", "--org", "CB01", "--year", "2026", "--rulebook", "qd366-2025",
        "--finish-by", "31-12-2026", "--report-by", "15/01/2027",
    )
    assert code == 2 and "'31-12-2026': cần ngày dạng dd/mm/yyyy" in err
    # argparse speaks English again outside the CLI.
    assert argparse._("usage: ") == "usage: "


def _texts(p: argparse.ArgumentParser):
    yield p.description
    for action in p._actions:
        yield action.help
        if isinstance(action, argparse._SubParsersAction):
            yield from (choice.help for choice in action._choices_actions)
            for sub in action.choices.values():
                yield from _texts(sub)


def test_every_help_text_is_in_the_catalogs():
    """Every help string of every subcommand, a new one included, has its Vietnamese text."""
    found = {}
    for locale in ("en", "vi"):
        t = Translator(locale)
        with argparse_speaks(t):
            found[locale] = [text for text in _texts(parser(t)) if text]
    english, vietnamese = found["en"], found["vi"]
    assert len(english) == len(vietnamese) > 20
    untranslated = [en for en, vi in zip(english, vietnamese, strict=True) if en == vi]
    assert untranslated == []
