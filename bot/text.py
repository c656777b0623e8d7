"""Helpers for Telegram message text: HTML escaping and splitting under the size limit."""

from __future__ import annotations

import html

TELEGRAM_TEXT_LIMIT = 4096


def esc(value: object) -> str:
    """Escape user-provided text for HTML parse mode."""
    return html.escape(str(value), quote=False)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _safe_cut(word: str, at: int) -> int:
    """Where to cut a word too long for one message: at `at`, or before an HTML entity or tag
    that `at` would cut in two (Telegram refuses "&g" and "<" alone)."""
    for opening, closing in (("&", ";"), ("<", ">")):
        start = word.rfind(opening, 0, at)
        if start > 0 and word.find(closing, start, at) == -1:
            at = min(at, start)
    return at


def split_message(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Split text into chunks Telegram accepts: at line breaks first, then spaces, never mid-word.

    Telegram counts UTF-16 code units; HTML tags must not span lines for this to be safe.
    A single word longer than the limit is cut, as nothing else can be done with it.
    """
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if _utf16_len(candidate) <= limit:
            current = candidate
            continue
        if current:
            chunks.append(current)
        current = ""
        for word in line.split(" "):
            candidate = f"{current} {word}" if current else word
            if _utf16_len(candidate) <= limit:
                current = candidate
                continue
            if current:
                chunks.append(current)
            while _utf16_len(word) > limit:
                cut = _safe_cut(word, limit // 2)
                chunks.append(word[:cut])
                word = word[cut:]
            current = word
    if current.strip():
        chunks.append(current)
    return chunks or [text[:1] or " "]
