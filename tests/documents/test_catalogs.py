"""The official documents' fixed text in six languages, complete: every message of the package is
translated in each catalog with the English placeholders and the locale's plural forms; Serbian Latin is
the Cyrillic transliterated; the template holds no words outside gettext."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from evidex.documents import i18n
from evidex.documents.messages import extract
from evidex.documents.render import TEMPLATES, environment
from evidex.rules.texts import LOCALES, SOURCE_LOCALE

TRANSLATED = [loc for loc in LOCALES if loc != SOURCE_LOCALE]
PLURALS = {"sr-Cyrl": 3, "sr-Latn": 3, "cnr": 3, "sl": 4, "fr": 2}


@pytest.fixture(scope="module")
def messages():
    return extract()


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_message_is_translated_with_its_placeholders(locale, messages) -> None:
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
            missing.append(message.id)
        elif found.fuzzy:
            fuzzy.append(message.id)
    assert not missing, f"{locale}: {len(missing)} untranslated (scripts/dev/document-messages): {missing[:10]}"
    assert not fuzzy, f"{locale}: fuzzy entries are not translations: {fuzzy[:10]}"
    problems = [(m.id, [str(e) for e in errs]) for m, errs in catalog.check()]
    assert not problems, f"{locale}: placeholders differ from the English: {problems[:5]}"


def test_the_template_file_is_up_to_date(messages) -> None:
    with (i18n.LOCALE_ROOT / "documents.pot").open("rb") as f:
        pot = read_po(f)
    assert {m.id for m in messages if m.id} == {m.id for m in pot if m.id}, "run scripts/dev/document-messages"


def test_montenegrin_has_its_own_catalog_and_name() -> None:
    assert i18n.catalog_path("cnr").is_file()
    assert i18n.Words("cnr").language_name("cnr") == "crnogorski"
    assert i18n.Words("sr-Cyrl").language_name("cnr") == "црногорски"
    assert i18n.Words("fr").language_name("sr") == "serbe"


ALLOWED_LITERAL = re.compile(r"^(?:evidex|SHA-256|[\s·→←|:;,.()\[\]/–—#%*&+=…-]|&[a-z]+;|\d)*$")


def test_the_template_holds_no_words_outside_gettext() -> None:
    offenders = []
    for path in sorted(TEMPLATES.glob("*.html")):
        pieces, inside = [], False
        for _line, kind, value in environment().lex(path.read_text()):
            if kind == "data":
                pieces.append(value)
                inside = False
            elif not inside:
                pieces.append("\x00")
                inside = True
        text = re.sub(r"<[^<>]*>", " ", "".join(pieces))
        text = re.sub(r"<!doctype html>", " ", text, flags=re.I)
        for piece in re.split(r"\x00|\n", text):
            piece = piece.strip()
            if piece and not ALLOWED_LITERAL.match(piece) and re.search(r"[A-Za-z]{2,}", piece):
                offenders.append((path.name, piece))
    assert not offenders, offenders
