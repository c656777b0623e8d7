"""Pure views: (translator, data) -> text and keyboard; no Telegram calls, no database."""
