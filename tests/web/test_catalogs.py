"""Six languages, complete: every message of the pages is translated in every catalog, with the same
placeholders and the locale's plural forms; and no template holds text outside gettext."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from evidex.web import i18n
from evidex.web.messages import extract
from evidex.web.templates import TEMPLATES, environment

TRANSLATED = [loc for loc in i18n.LOCALES if loc != i18n.DEFAULT_LOCALE]
PLURALS = {"sr-Cyrl": 3, "sr-Latn": 3, "cnr": 3, "sl": 4, "fr": 2}


@pytest.fixture(scope="module")
def messages():
    return extract()


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_message_is_translated_with_its_placeholders(locale, messages):
    with i18n.catalog_path(locale).open("rb") as f:
        catalog = read_po(f, locale=i18n.BABEL_LOCALES[locale])
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
    assert not missing, f"{locale}: {len(missing)} untranslated (run scripts/dev/messages): {missing[:10]}"
    assert not fuzzy, f"{locale}: fuzzy entries are not translations: {fuzzy[:10]}"
    problems = [(m.id, [str(e) for e in errs]) for m, errs in catalog.check()]
    assert not problems, f"{locale}: placeholders differ from the English: {problems[:5]}"


def test_the_template_file_is_up_to_date(messages):
    with (i18n.LOCALE_ROOT / "messages.pot").open("rb") as f:
        pot = read_po(f)
    assert {m.id for m in messages if m.id} == {m.id for m in pot if m.id}, "run scripts/dev/messages"


# Text a template may hold outside gettext: symbols and the product's name, no words of a language.
ALLOWED_LITERAL = re.compile(r"^(?:evidex|[\s·→←|:;,.()\[\]/–—#%*&+=-]|&[a-z]+;|\d)*$")


def _literal_text(source: str) -> list[str]:
    """The words of a template outside any Jinja expression, statement or comment and outside tags
    (attributes are markup, not text a person reads; `aria-label`/`title` go through gettext anyway)."""
    pieces, inside = [], False
    for _line, kind, value in environment().lex(source):  # Jinja's own lexer: nested braces are no trap
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
        if piece and not ALLOWED_LITERAL.match(piece) and re.search(r"[A-Za-z]{2,}", piece):
            out.append(piece)
    return out


def test_no_template_holds_text_outside_gettext():
    offenders = {}
    for path in sorted(Path(TEMPLATES).rglob("*.html")):
        found = _literal_text(path.read_text())
        if found:
            offenders[path.relative_to(TEMPLATES).as_posix()] = found[:5]
    assert not offenders, f"words outside _() in templates: {offenders}"
