"""Telegram ``parse_mode="HTML"`` parser/validator, modelled on the Bot API server (tdlib).

``parse_html(text)`` returns ``(plain_text, entities)`` where entities are Bot API
MessageEntity dicts with UTF-16 offsets, or raises :class:`EntityParseError` whose
``str()`` is the part after ``"Bad Request: can't parse entities: "``.

Differences from the real server (all deliberately stricter, marked ``fake:``):
an ``&`` that does not start ``&lt; &gt; &amp; &quot; &#NN; &#xHH;`` is an error when
``strict_ampersand`` is true (the real server shows it literally, which nearly always
means user text was not escaped with ``html.escape``).
"""

from __future__ import annotations

import re

__all__ = ["EntityParseError", "parse_html", "utf16_len", "strip_entities_text"]


class EntityParseError(ValueError):
    pass


_SPACE = " \t\r\n\v\f"

_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
}
_ALL_TAGS = set(_SIMPLE_TAGS) | {"a", "code", "pre", "span", "blockquote", "tg-emoji", "tg-time"}

_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_URL_RE = re.compile(r"^(?:(?:https?|tg|ftp)://|mailto:)?[^\s<>\"]+$", re.IGNORECASE)


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def _decode_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decode an HTML entity starting at text[pos] == '&'. Returns (char, new_pos) or None."""
    n = len(text)
    end = pos + 1
    if end < n and text[end] == "#":
        end += 1
        value = 0
        if end < n and text[end] in "xX":
            end += 1
            start = end
            while end < n and text[end] in "0123456789abcdefABCDEF":
                end += 1
            if end == start:
                return None
            value = int(text[start:end], 16)
        else:
            start = end
            while end < n and text[end].isascii() and text[end].isdigit():
                end += 1
            if end == start:
                return None
            value = int(text[start:end])
        if value == 0 or value >= 0x10FFFF or end - pos >= 10:
            return None
        ch = chr(value)
    else:
        start = end
        while end < n and text[end].isascii() and text[end].isalpha():
            end += 1
        ch = _NAMED.get(text[start:end])
        if ch is None:
            return None
    if end < n and text[end] == ";":
        end += 1
    return ch, end


def _byte_offset(text: str, pos: int) -> int:
    return len(text[:pos].encode("utf-8", "surrogatepass"))


def parse_html(text: str, *, strict_ampersand: bool = True) -> tuple[str, list[dict]]:
    out: list[str] = []
    utf16 = 0
    entities: list[dict] = []
    # stack entries: [tag, attrs, utf16_offset, out_len]
    stack: list[tuple[str, dict[str, str], int, int]] = []
    n = len(text)
    i = 0

    def cur(j: int) -> str:
        return text[j] if j < n else "\0"

    while i < n:
        c = text[i]
        if c == "&":
            dec = _decode_entity(text, i)
            if dec is not None:
                ch, i = dec
                out.append(ch)
                utf16 += utf16_len(ch)
                continue
            if strict_ampersand:
                snippet = text[i : i + 12].split()[0] if text[i:].strip() else "&"
                raise EntityParseError(
                    f"fake: unescaped '&' ({snippet!r}) at byte offset {_byte_offset(text, i)}; "
                    "only &lt; &gt; &amp; &quot; and numeric entities are supported "
                    "(the real server would show it literally)"
                )
        if c != "<":
            out.append(c)
            utf16 += utf16_len(c)
            i += 1
            continue

        begin = i
        boff = _byte_offset(text, begin)
        i += 1
        if cur(i) != "/":
            while cur(i) not in _SPACE + "\0>":
                i += 1
            if i >= n:
                raise EntityParseError(f"Unclosed start tag at byte offset {boff}")
            tag = text[begin + 1 : i].lower()
            if tag not in _ALL_TAGS:
                raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {boff}')
            attrs: dict[str, str] = {}
            while cur(i) != ">":
                while i < n and text[i] in _SPACE:
                    i += 1
                if cur(i) == ">":
                    break
                attr_begin = i
                while cur(i) not in _SPACE + "\0=>":
                    i += 1
                attr = text[attr_begin:i].lower()
                if not attr:
                    raise EntityParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset {boff}'
                    )
                while i < n and text[i] in _SPACE:
                    i += 1
                if cur(i) != "=":
                    if tag == "blockquote" and attr == "expandable":
                        attrs[attr] = ""
                        continue
                    raise EntityParseError(
                        'Expected equal sign in declaration of an attribute of the tag '
                        f'"{tag}" at byte offset {boff}'
                    )
                i += 1
                while i < n and text[i] in _SPACE:
                    i += 1
                if i >= n:
                    raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {boff}')
                if text[i] not in "'\"":
                    tok = i
                    while i < n and (text[i].isascii() and (text[i].isalnum() or text[i] in ".-")):
                        i += 1
                    value = text[tok:i].lower()
                    if cur(i) not in _SPACE + ">":
                        raise EntityParseError(
                            f"Unexpected end of name token at byte offset {_byte_offset(text, tok)}"
                        )
                else:
                    quote = text[i]
                    i += 1
                    buf: list[str] = []
                    while i < n and text[i] != quote:
                        if text[i] == "&":
                            dec = _decode_entity(text, i)
                            if dec is not None:
                                buf.append(dec[0])
                                i = dec[1]
                                continue
                        buf.append(text[i])
                        i += 1
                    if i < n:
                        i += 1
                    value = "".join(buf)
                if i >= n:
                    raise EntityParseError(f"Unclosed start tag at byte offset {boff}")
                attrs[attr] = value
            i += 1  # skip '>'
            if tag == "span" and attrs.get("class") != "tg-spoiler":
                raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {boff}')
            if tag == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
                raise EntityParseError(
                    f'Tag "tg-emoji" must have attribute "emoji-id" with a custom emoji identifier at byte offset {boff}'
                )
            if tag == "tg-time" and not attrs.get("unix", "").lstrip("-").isdigit():
                raise EntityParseError(f'Tag "tg-time" must have attribute "unix" at byte offset {boff}')
            stack.append((tag, attrs, utf16, len(out)))
        else:
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {boff}")
            i += 1
            while cur(i) not in _SPACE + "\0>":
                i += 1
            end_name = text[begin + 2 : i].lower()
            while i < n and text[i] in _SPACE:
                i += 1
            if cur(i) != ">":
                raise EntityParseError(f"Unclosed end tag at byte offset {boff}")
            i += 1
            tag, attrs, off, out_len = stack[-1]
            if end_name and end_name != tag:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {boff}, expected "</{tag}>", found "</{end_name}>"'
                )
            stack.pop()
            length = utf16 - off
            if length > 0:
                ent = _make_entity(tag, attrs, off, length, "".join(out[out_len:]), entities)
                if ent is not None:
                    entities.append(ent)
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    for ent in entities:
        ent.pop("_language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _make_entity(
    tag: str, attrs: dict[str, str], off: int, length: int, inner: str, entities: list[dict]
) -> dict | None:
    if tag in _SIMPLE_TAGS:
        return {"type": _SIMPLE_TAGS[tag], "offset": off, "length": length}
    if tag == "span":
        return {"type": "spoiler", "offset": off, "length": length}
    if tag == "a":
        url = attrs.get("href") or inner
        m = re.match(r"^tg://user\?id=(\d+)$", url)
        if m:
            return {"type": "text_mention", "offset": off, "length": length,
                    "user": {"id": int(m.group(1)), "is_bot": False, "first_name": inner or "user"}}
        if not _URL_RE.match(url):
            return None  # the real server silently drops links with invalid URLs
        return {"type": "text_link", "offset": off, "length": length, "url": url}
    if tag == "code":
        lang = attrs.get("class", "")
        if (entities and entities[-1]["type"] == "pre" and entities[-1]["offset"] == off
                and entities[-1]["length"] == length and lang.startswith("language-")):
            entities[-1]["language"] = lang[9:]
            return None
        ent = {"type": "code", "offset": off, "length": length}
        if lang.startswith("language-"):
            ent["_language"] = lang[9:]
        return ent
    if tag == "pre":
        if (entities and entities[-1]["type"] == "code" and entities[-1]["offset"] == off
                and entities[-1]["length"] == length):
            code = entities.pop()
            ent = {"type": "pre", "offset": off, "length": length}
            if code.get("_language"):
                ent["language"] = code["_language"]
            return ent
        return {"type": "pre", "offset": off, "length": length}
    if tag == "blockquote":
        kind = "expandable_blockquote" if "expandable" in attrs else "blockquote"
        return {"type": kind, "offset": off, "length": length}
    if tag == "tg-emoji":
        return {"type": "custom_emoji", "offset": off, "length": length,
                "custom_emoji_id": attrs["emoji-id"]}
    if tag == "tg-time":
        ent = {"type": "date_time", "offset": off, "length": length, "unix_time": int(attrs["unix"])}
        if attrs.get("format"):
            ent["date_time_format"] = attrs["format"]
        return ent
    return None


def strip_entities_text(text: str, entities: list[dict]) -> tuple[str, list[dict]]:
    """Trim leading/trailing whitespace like Telegram does and fix entity offsets."""
    lead = len(text) - len(text.lstrip())
    stripped = text.strip()
    lead16 = utf16_len(text[:lead])
    total16 = utf16_len(stripped)
    result = []
    for e in entities:
        e = dict(e)
        start = max(e["offset"] - lead16, 0)
        end = min(e["offset"] + e["length"] - lead16, total16)
        if end > start:
            e["offset"], e["length"] = start, end - start
            result.append(e)
    return stripped, result
