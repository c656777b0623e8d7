from pathlib import Path

from bot.i18n import Translator
from bot.roster import column_reference_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_roster_table_matches_the_code():
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- roster-columns:start")
    start = text.index("\n", start) + 1
    end = text.index("<!-- roster-columns:end -->")
    expected = column_reference_markdown(Translator("vi").gettext).strip()
    assert text[start:end].strip() == expected, "regenerate the table in README.md"
