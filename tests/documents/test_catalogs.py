"""The official documents' fixed text in six languages, complete: every message of the package is
translated in each catalog with the English placeholders and the locale's plural forms; Serbian Latin is
the Cyrillic transliterated; the template holds no words outside gettext."""

from __future__ import annotations

import re

import pytest

from evidex.documents import i18n
from evidex.documents.messages import extract
from evidex.documents.render import TEMPLATES, environment
from evidex.rules.texts import LOCALES, SOURCE_LOCALE
from tests.catalog_checks import assert_pot_current, assert_translated, literal_text

TRANSLATED = [loc for loc in LOCALES if loc != SOURCE_LOCALE]


@pytest.fixture(scope="module")
def messages():
    return extract()


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_message_is_translated_with_its_placeholders(locale, messages) -> None:
    assert_translated(i18n.catalog_path(locale), locale, i18n.BABEL_LOCALES[locale], messages,
                      "scripts/dev/document-messages")


def test_the_template_file_is_up_to_date(messages) -> None:
    assert_pot_current(i18n.LOCALE_ROOT / "documents.pot", messages, "scripts/dev/document-messages")


def test_montenegrin_has_its_own_catalog_and_name() -> None:
    assert i18n.catalog_path("cnr").is_file()
    assert i18n.Words("cnr").language_name("cnr") == "crnogorski"
    assert i18n.Words("sr-Cyrl").language_name("cnr") == "црногорски"
    assert i18n.Words("fr").language_name("sr") == "serbe"


ALLOWED_LITERAL = re.compile(r"^(?:evidex|SHA-256|[\s·→←|:;,.()\[\]/–—#%*&+=…-]|&[a-z]+;|\d)*$")


def test_the_template_holds_no_words_outside_gettext() -> None:
    offenders = [(path.name, piece) for path in sorted(TEMPLATES.glob("*.html"))
                 for piece in literal_text(environment(), path.read_text(), ALLOWED_LITERAL)]
    assert not offenders, offenders
