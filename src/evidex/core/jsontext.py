"""JSON that can be stored and read back: no NUL (PostgreSQL text cannot hold it) and no lone
surrogate (json.loads accepts "\\ud800"; SQLite stores it, PostgreSQL refuses it, and no answer
holding it can be encoded as UTF-8: a row stored with one breaks every later read); and only
numbers that can be sent (json.loads reads 1e400 as infinity and any integer, but what travels
between nodes is RFC 8785, whose numbers are those of I-JSON, RFC 7493: finite, integers within
±(2^53 − 1))."""

from __future__ import annotations

import math
from collections.abc import Iterator

SAFE_INTEGER = 2**53 - 1


def unstorable_text(value: object) -> tuple[str, str] | None:
    """(dotted path, what is wrong) of the first string or key that cannot be stored, or None."""
    return next(_walk(value, ()), None)


def _walk(value: object, at: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        problem = _problem(value)
        if problem:
            yield ".".join(at), problem
    elif isinstance(value, dict):
        for k, v in value.items():
            key = str(k)
            problem = _problem(key)
            if problem:
                yield ".".join((*at, key.encode("utf-8", "backslashreplace").decode("ascii"))), f"a key holds {problem}"
            yield from _walk(v, (*at, key))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _walk(v, (*at, str(i)))
    elif isinstance(value, float) and not math.isfinite(value):
        yield ".".join(at), "a number that is not finite"
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > SAFE_INTEGER:
        yield ".".join(at), "an integer beyond ±(2^53 − 1), which cannot travel exactly (RFC 7493, RFC 8785)"


def _problem(s: str) -> str:
    if "\x00" in s:
        return "a NUL character"
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return "a lone surrogate (\\ud800-\\udfff), not a character"
    return ""
