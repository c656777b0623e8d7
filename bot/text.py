"""Helpers for Telegram message text: HTML escaping and splitting under the size limit."""

from __future__ import annotations

import html

TELEGRAM_TEXT_LIMIT = 4096


def esc(value: object) -> str:
    """Escape user-provided text for HTML parse mode."""
    return html.escape(str(value), quote=False)


def bold(value: object) -> str:
    """`value` escaped, in bold (a screen's title, a section's heading)."""
    return f"<b>{esc(value)}</b>"


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


class _Chunks:
    """Pieces joined into chunks of at most `limit` UTF-16 units."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.done: list[str] = []
        self.current = ""

    def add(self, piece: str, separator: str) -> bool:
        """Append `piece` to the current chunk if it still fits; False if it does not."""
        candidate = f"{self.current}{separator}{piece}" if self.current else piece
        if _utf16_len(candidate) > self.limit:
            return False
        self.current = candidate
        return True

    def close(self) -> None:
        if self.current:
            self.done.append(self.current)
        self.current = ""


def split_message(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Split text into chunks Telegram accepts: at line breaks first, then spaces, never mid-word.

    Telegram counts UTF-16 code units; HTML tags must not span lines for this to be safe.
    A single word longer than the limit is cut, as nothing else can be done with it.
    """
    chunks = _Chunks(limit)
    for line in text.split("\n"):
        if chunks.add(line, "\n"):
            continue
        chunks.close()
        for word in line.split(" "):
            if chunks.add(word, " "):
                continue
            chunks.close()
            while _utf16_len(word) > limit:
                cut = _safe_cut(word, limit // 2)
                chunks.done.append(word[:cut])
                word = word[cut:]
            chunks.current = word
    if chunks.current.strip():
        chunks.done.append(chunks.current)
    return chunks.done or [text[:1] or " "]
