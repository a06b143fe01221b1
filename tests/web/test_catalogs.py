"""Six languages, complete: every message of the pages is translated in every catalog, with the same
placeholders and the locale's plural forms; and no template holds text outside gettext."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evidex.web import i18n
from evidex.web.messages import extract
from evidex.web.templates import TEMPLATES, environment
from tests.catalog_checks import assert_pot_current, assert_translated, literal_text

TRANSLATED = [loc for loc in i18n.LOCALES if loc != i18n.DEFAULT_LOCALE]


@pytest.fixture(scope="module")
def messages():
    return extract()


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_message_is_translated_with_its_placeholders(locale, messages):
    assert_translated(i18n.catalog_path(locale), locale, i18n.BABEL_LOCALES[locale], messages, "scripts/dev/messages")


def test_the_template_file_is_up_to_date(messages):
    assert_pot_current(i18n.LOCALE_ROOT / "messages.pot", messages, "scripts/dev/messages")


# Text a template may hold outside gettext: symbols and the product's name, no words of a language.
ALLOWED_LITERAL = re.compile(r"^(?:evidex|[\s·→←|:;,.()\[\]/–—#%*&+=-]|&[a-z]+;|\d)*$")


def test_no_template_holds_text_outside_gettext():
    offenders = {}
    for path in sorted(Path(TEMPLATES).rglob("*.html")):
        found = literal_text(environment(), path.read_text(), ALLOWED_LITERAL)
        if found:
            offenders[path.relative_to(TEMPLATES).as_posix()] = found[:5]
    assert not offenders, f"words outside _() in templates: {offenders}"
