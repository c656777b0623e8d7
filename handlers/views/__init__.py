"""Views: pure functions from data to the text and buttons a screen shows (no Telegram, no database)."""
