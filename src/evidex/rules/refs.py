"""Canonical references to treaty provisions: `<INSTRUMENT> Art <n>[(<para>)][(<letter>)][(<roman>)]`.

LEGAL.md §1: a rule, an element, a declaration or a reservation is always named this way,
e.g. `ETS185 Art 29(2)(f)` or `CETS224 Art 8(3)(b)(iii)`.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

INSTRUMENTS = ("ETS185", "CETS224", "UNCC")

REFERENCE_RE = re.compile(
    r"^(?P<instrument>ETS185|CETS224|UNCC) Art (?P<article>\d+)"
    r"(?:\((?P<paragraph>\d+)\))?(?:\((?P<letter>[a-z])\))?(?:\((?P<roman>[ivx]+)\))?$"
)


def parse_reference(text: str) -> tuple[str, str]:
    """Return (instrument, article number) of a canonical reference, or raise ValueError."""
    m = REFERENCE_RE.match(text)
    if not m:
        raise ValueError(
            f"{text!r} is not a canonical reference like 'ETS185 Art 29(2)(f)' or 'CETS224 Art 7(3)(d)'"
        )
    return m["instrument"], m["article"]


def _check(text: str) -> str:
    parse_reference(text)
    return text


Reference = Annotated[str, AfterValidator(_check)]


def article_of(reference: str) -> str:
    """`CETS224 Art 7(3)(d)` -> `CETS224 Art 7`."""
    instrument, article = parse_reference(reference)
    return f"{instrument} Art {article}"
