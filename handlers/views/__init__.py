"""Pure screens of the features: (translator, data) -> text and keyboard; no Telegram, no database."""
