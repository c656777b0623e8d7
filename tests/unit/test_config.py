import pytest

from bot.config import SettingsError, load_settings

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
     ("REPORT_MAX_BYTES", "99999"), ("REPORT_MAX_BYTES", "-5")],
)
def test_bad_report_limits(monkeypatch, name, value):
    monkeypatch.setenv("BOT_TOKEN", GOOD)
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings(env_file=None)
