"""`Content-Disposition` for downloads under the file's original name (RFC 6266, RFC 8187).

A name comes from an uploader or another node, so it is hostile until cleaned: path separators,
quotes, control and bidirectional-formatting characters never reach the header (no header
injection, no `../`, no right-to-left trick hiding the real extension)."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_NAME = 150  # characters kept of a name (with its extension): enough to recognise it, short for every OS
_ATTR_CHARS = "!#$&+-.^_`|~"  # RFC 8187 attr-char besides letters and digits: left unencoded in filename*
# In the quoted filename: no quote, backslash, `;`, `,` or `=` (naive parsers split on them).
_ASCII_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !#$&'()+-.@[]^_`{}~")


def _unsafe(ch: str) -> bool:
    # Cc: controls (CR, LF, NUL …); Cf: formatting (U+202E right-to-left override …); Zl/Zp: line breaks;
    # Cs/Co/Cn: surrogates, private use, unassigned.
    return ch in '/\\"%*:<>?|' or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")


def _shorten(name: str, limit: int) -> str:
    if len(name) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if dot and stem and 0 < len(ext) <= 16:
        return stem[: limit - len(ext) - 1].rstrip(" .") + "." + ext
    return name[:limit]


def clean_name(name: str | None) -> str:
    """The name as a file may carry it anywhere: NFC, unsafe characters as `_`, no leading dots or
    spaces (no hidden file, no `..`), at most MAX_NAME characters. Empty when nothing is left."""
    text = unicodedata.normalize("NFC", name or "")
    text = "".join("_" if _unsafe(c) else c for c in text)
    text = " ".join(text.split())  # tabs and runs of spaces as one space
    return _shorten(text.strip(" ._"), MAX_NAME).strip(" ")


def ascii_name(name: str, fallback: str) -> str:
    """An ASCII stand-in for clients without RFC 8187: accents dropped (ž → z), anything else `_`; a
    name in another script (Cyrillic …) becomes `fallback` with the name's extension."""
    decomposed = unicodedata.normalize("NFKD", name)
    out = "".join(c if c in _ASCII_SAFE else ("" if unicodedata.combining(c) else "_") for c in decomposed)
    stem, _, ext = out.rpartition(".") if "." in out else (out, "", "")
    if not any(c.isalnum() for c in stem):
        return fallback + (f".{ext}" if ext.isalnum() else "")
    return re.sub("_{2,}", "_", out).strip(" ._")


def content_disposition(name: str | None, *, fallback: str) -> str:
    """`attachment; filename="<ascii>"; filename*=UTF-8''<percent-encoded>`; `fallback` (an id, ASCII)
    stands in for a name from which nothing safe is left."""
    cleaned = clean_name(name) or fallback
    plain = ascii_name(cleaned, fallback)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(cleaned, safe=_ATTR_CHARS)}"
