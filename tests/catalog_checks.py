"""What both gettext catalogs are checked for — the web application's (tests/web/test_catalogs.py) and the
official documents' (tests/documents/test_catalogs.py): every message translated with the English
placeholders and the locale's plural forms, the .pot current, and no template words outside gettext."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jinja2
from babel.messages.pofile import read_po

# The number of plural forms of each translated locale (CLDR): Serbian and Montenegrin three, Slovenian four.
PLURALS = {"sr-Cyrl": 3, "sr-Latn": 3, "cnr": 3, "sl": 4, "fr": 2}


def assert_translated(catalog_file: Path, locale: str, babel_locale: str, messages: Iterable[Any], update: str) -> None:
    """Every message of `messages` translated in the catalog, none fuzzy, the placeholders the English's."""
    with catalog_file.open("rb") as f:
        catalog = read_po(f, locale=babel_locale)
    assert catalog.num_plurals == PLURALS[locale]
    missing, fuzzy = [], []
    for message in messages:
        if not message.id:
            continue
        found = catalog.get(message.id)
        strings = (found.string if isinstance(found.string, tuple) else (found.string,)) if found else ()
        if found is None or not strings or not all(strings):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
        elif found.fuzzy:
            fuzzy.append(message.id)
    assert not missing, f"{locale}: {len(missing)} untranslated (run {update}): {missing[:10]}"
    assert not fuzzy, f"{locale}: fuzzy entries are not translations: {fuzzy[:10]}"
    problems = [(m.id, [str(e) for e in errs]) for m, errs in catalog.check()]
    assert not problems, f"{locale}: placeholders differ from the English: {problems[:5]}"


def assert_pot_current(pot_file: Path, messages: Iterable[Any], update: str) -> None:
    with pot_file.open("rb") as f:
        pot = read_po(f)
    assert {m.id for m in messages if m.id} == {m.id for m in pot if m.id}, f"run {update}"


def literal_text(environment: jinja2.Environment, source: str, allowed: re.Pattern[str]) -> list[str]:
    """The words of a template outside any Jinja expression, statement or comment and outside tags
    (attributes are markup, not text a person reads; `aria-label`/`title` go through gettext anyway),
    but those `allowed` (symbols, the product's name)."""
    pieces, inside = [], False
    for _line, kind, value in environment.lex(source):  # Jinja's own lexer: nested braces are no trap
        if kind == "data":
            pieces.append(value)
            inside = False
        elif not inside:
            pieces.append("\x00")
            inside = True
    text = re.sub(r"<[^<>]*>", " ", "".join(pieces))
    out = []
    for piece in re.split(r"\x00|\n", text):
        piece = piece.strip()
        if piece and not allowed.match(piece) and re.search(r"[A-Za-z]{2,}", piece):
            out.append(piece)
    return out
