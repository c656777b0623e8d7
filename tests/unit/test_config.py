"""Settings from the environment; a wrong one stops the CLI with a short message in its
language (BOT_DEFAULT_LOCALE), exit status 2, never a traceback."""

import pytest

from bot.cli import main
from bot.config import SettingsError
from bot.config import load_settings

GOOD = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_defaults(monkeypatch):
    monkeypatch.setenv("BOT_TOKEN", GOOD)
    for name in ("TELEGRAM_API_URL", "DATABASE_URL", "BOT_TIMEZONE", "BOT_DEFAULT_LOCALE"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(env_file=None)
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.api_base_url == "https://api.telegram.org/bot"
    assert settings.api_base_file_url == "https://api.telegram.org/file/bot"
    assert settings.database_url == "sqlite+aiosqlite:///kiemdiem.db"
    assert settings.timezone == "Asia/Ho_Chi_Minh"
    assert settings.default_locale == "vi"


def test_env_file_is_read(tmp_path, monkeypatch):
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.delenv("TELEGRAM_API_URL", raising=False)
    env = tmp_path / ".env"
    env.write_text(f"BOT_TOKEN={GOOD}\nTELEGRAM_API_URL=http://127.0.0.1:8081/\n")
    settings = load_settings(env_file=env)
    assert settings.bot_token == GOOD
    assert settings.api_base_url == "http://127.0.0.1:8081/bot"
    monkeypatch.delenv("BOT_TOKEN")
    monkeypatch.delenv("TELEGRAM_API_URL")


@pytest.mark.parametrize("token", ["", "abc", "123:short", "notanumber:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"])
def test_bad_token(monkeypatch, token):
    monkeypatch.setenv("BOT_TOKEN", token)
    with pytest.raises(SettingsError):
        load_settings(env_file=None)


@pytest.mark.parametrize(("name", "value"), [("BOT_TIMEZONE", "Mars/Olympus"), ("BOT_DEFAULT_LOCALE", "fr")])
def test_bad_settings(monkeypatch, name, value):
    monkeypatch.setenv("BOT_TOKEN", GOOD)
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings(env_file=None)


def test_report_limits(monkeypatch):
    monkeypatch.setenv("BOT_TOKEN", GOOD)
    monkeypatch.delenv("REPORT_MAX_ROWS", raising=False)
    monkeypatch.delenv("REPORT_MAX_BYTES", raising=False)
    settings = load_settings(env_file=None)
    assert (settings.report_max_rows, settings.report_max_bytes) == (1_048_576, 50_000_000)
    monkeypatch.setenv("REPORT_MAX_ROWS", "1000")
    monkeypatch.setenv("REPORT_MAX_BYTES", "200000")
    settings = load_settings(env_file=None)
    assert (settings.report_max_rows, settings.report_max_bytes) == (1000, 200_000)


@pytest.mark.parametrize(
    ("name", "value"),
    [("REPORT_MAX_ROWS", "4"), ("REPORT_MAX_ROWS", "2000000"), ("REPORT_MAX_ROWS", "1e6"),
     ("REPORT_MAX_BYTES", "99999"), ("REPORT_MAX_BYTES", "-5"),
     ("REPORT_MAX_BYTES", "3000000000")],
)
def test_bad_report_limits(monkeypatch, name, value):
    monkeypatch.setenv("BOT_TOKEN", GOOD)
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings(env_file=None)


# --- errors as the command line tells them ---------------------------------------------------

SETTINGS = ("BOT_TOKEN", "TELEGRAM_API_URL", "DATABASE_URL", "BOT_TIMEZONE", "BOT_DEFAULT_LOCALE",
            "INVITE_TTL_DAYS", "BOT_ANSWER_WINDOW_SECONDS", "BOT_CONCURRENT_UPDATES",
            "REPORT_MAX_ROWS", "REPORT_MAX_BYTES")


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no developer's .env
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def told(capsys, *argv: str) -> str:
    """What the CLI says on stderr for `argv`, which must stop it with exit status 2."""
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err and err.endswith("\n")
    return err


@pytest.mark.parametrize(
    ("name", "value", "vi", "en"),
    [
        ("BOT_TIMEZONE", "Mars/Olympus",
         "BOT_TIMEZONE=Mars/Olympus không phải là một múi giờ hợp lệ",
         "BOT_TIMEZONE=Mars/Olympus is not a known time zone"),
        ("BOT_CONCURRENT_UPDATES", "300",
         "BOT_CONCURRENT_UPDATES phải là một số nguyên từ 1 đến 256.",
         "BOT_CONCURRENT_UPDATES must be a whole number from 1 to 256."),
        ("BOT_CONCURRENT_UPDATES", "0",
         "BOT_CONCURRENT_UPDATES phải là một số nguyên từ 1 đến 256.",
         "BOT_CONCURRENT_UPDATES must be a whole number from 1 to 256."),
        ("DATABASE_URL", "kiemdiem.db",
         "DATABASE_URL không phải là địa chỉ của một cơ sở dữ liệu.",
         "DATABASE_URL is not a database address."),
        ("DATABASE_URL", "postgresql://kiemdiem:bí-mật@localhost:5432/kiemdiem",
         "DATABASE_URL bắt đầu bằng postgresql://, là loại cơ sở dữ liệu",
         "DATABASE_URL starts with postgresql://, a database or driver the bot does not use."),
        ("DATABASE_URL", "postgresql+asyncpg://kiemdiem:bí-mật@localhost:port/kiemdiem",
         "DATABASE_URL không phải là địa chỉ của một cơ sở dữ liệu.",
         "DATABASE_URL is not a database address."),
        ("TELEGRAM_API_URL", "api.telegram.org",
         "TELEGRAM_API_URL phải là một địa chỉ http:// hoặc https://",
         "TELEGRAM_API_URL must be an http:// or https:// address"),
        ("INVITE_TTL_DAYS", "0",
         "INVITE_TTL_DAYS phải là một số ngày nguyên từ 1 đến 3650.",
         "INVITE_TTL_DAYS must be a whole number of days from 1 to 3650."),
        ("INVITE_TTL_DAYS", "99999999999",
         "INVITE_TTL_DAYS phải là một số ngày nguyên từ 1 đến 3650.",
         "INVITE_TTL_DAYS must be a whole number of days from 1 to 3650."),
    ],
)
@pytest.mark.parametrize("locale", ["vi", "en"])
def test_a_wrong_setting_is_told_in_the_cli_language(cli_env, capsys, locale, name, value, vi, en):
    if locale == "en":
        cli_env.setenv("BOT_DEFAULT_LOCALE", "en")
    cli_env.setenv(name, value)
    err = told(capsys, "migrate")
    assert (vi if locale == "vi" else en) in err
    assert len(err.splitlines()) == 1 and "bí-mật" not in err  # short; a password is not shown


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("vi", "BOT_TOKEN bị thiếu hoặc không đúng dạng."), ("en", "BOT_TOKEN is missing or malformed.")],
)
def test_a_missing_token_is_told_in_the_cli_language(cli_env, capsys, locale, expected):
    cli_env.setenv("BOT_DEFAULT_LOCALE", locale)
    for argv in (["run"], ["invite", "--org", "CB01"]):
        err = told(capsys, *argv)
        assert err.startswith(expected) and "@BotFather" in err and len(err.splitlines()) == 3
    cli_env.setenv("BOT_TOKEN", "123:short")
    assert told(capsys, "run").startswith(expected)


def test_an_unknown_default_locale_is_told_in_vietnamese(cli_env, capsys):
    cli_env.setenv("BOT_DEFAULT_LOCALE", "fr")
    assert told(capsys, "cycle", "list") == (
        "BOT_DEFAULT_LOCALE=fr không phải là ngôn ngữ bot sử dụng; hãy ghi vi / en.\n")
