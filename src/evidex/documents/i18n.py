"""The languages of an official document (CETS224 Art 4): the fixed text of the documents (their own
gettext catalog, `locales/<locale>/LC_MESSAGES/documents.po`), dates in the locale's form, language
names, and the one or two languages a document is written in.

A document may be bilingual (the document's `translation_language`): every label and fixed text is
then a `Bi`, its text in each language, each marked with its `lang`, so that a reader (and a screen
reader) knows which is which. Free text is never translated: it is shown once, as written.

Catalogs are compiled in memory when first used (as the web application's). Babel has no Montenegrin
(`cnr`): its catalog is our own, dates are formatted as `sr_Latn_ME`."""

from __future__ import annotations

import datetime as dt
import functools
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from babel import Locale, dates
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from markupsafe import Markup, escape

from evidex.rules.texts import check_locale

DOMAIN = "documents"
LOCALE_ROOT = Path(__file__).parent / "locales"
# Babel's locale data for dates and plural rules (as the web application's).
BABEL_LOCALES: dict[str, str] = {
    "en": "en_GB", "sr-Cyrl": "sr_Cyrl_RS", "sr-Latn": "sr_Latn_RS", "cnr": "sr_Latn_ME", "sl": "sl_SI", "fr": "fr_FR",
}
CATALOG_DIRS: dict[str, str] = {
    "en": "en", "sr-Cyrl": "sr_Cyrl", "sr-Latn": "sr_Latn", "cnr": "cnr", "sl": "sl", "fr": "fr",
}


def N_(message: str) -> str:
    return message


# Babel names no Montenegrin: its name in each language is ours.
MONTENEGRIN = N_("Montenegrin")


def catalog_path(locale: str) -> Path:
    return LOCALE_ROOT / CATALOG_DIRS[locale] / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_catalog(path: Path, babel_locale: str, domain: str) -> NullTranslations:
    """The catalog at `path` (a .po file) compiled in memory: no build step, no .mo file to drift from it.
    No file (English, the source language): no translation. The web application's catalogs load the same way."""
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as f:
        catalog = read_po(f, locale=babel_locale, domain=domain)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)  # a fuzzy entry is not a translation: English shows instead
    buf.seek(0)
    return Translations(buf, domain=domain)


@functools.cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog of `locale` (English is the source language: no catalog)."""
    return compile_catalog(catalog_path(locale), BABEL_LOCALES[locale], DOMAIN)


@functools.cache
def babel_locale(locale: str) -> Locale:
    return Locale.parse(BABEL_LOCALES[locale])


# Language tags as Party profiles and documents give them (BCP 47) -> the locale evidex writes them in.
# Serbian without a script is Cyrillic (the official script, Constitution of Serbia Art 10). Only a
# language evidex speaks maps: a Bosnian or Croatian authority is not served Serbian because it is close.
def locale_of(tag: str | None) -> str | None:
    if not tag or not tag.strip():
        return None
    parts = tag.strip().replace("_", "-").lower().split("-")
    if parts[0] == "sr":
        if "me" in parts[1:]:
            return "cnr"  # Serbian as written in Montenegro
        return "sr-Latn" if "latn" in parts[1:] else "sr-Cyrl"
    return {"en": "en", "cnr": "cnr", "sl": "sl", "fr": "fr"}.get(parts[0])


@dataclass(frozen=True)
class Words:
    """The fixed text of a document in one language, and its dates."""

    locale: str

    def gettext(self, message: str, **variables: object) -> str:
        text = translations(self.locale).ugettext(message)
        return text % variables if variables else text

    def ngettext(self, singular: str, plural: str, n: int, **variables: object) -> str:
        text = translations(self.locale).ungettext(singular, plural, n)
        return text % {"num": n, **variables}

    def date(self, value: dt.date | None) -> str:
        return dates.format_date(value, format="long", locale=babel_locale(self.locale)) if value else ""

    def datetime(self, value: dt.datetime, tz: str = "UTC") -> str:
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return dates.format_datetime(value, format="long", tzinfo=dates.get_timezone(tz),
                                     locale=babel_locale(self.locale))

    def language_name(self, tag: str | None) -> str:
        """A language (a BCP 47 tag as a document gives it) named in this language: `en` -> `енглески`."""
        if not tag:
            return ""
        primary = tag.strip().replace("_", "-").split("-")[0].lower()
        if primary == "cnr":
            return self.gettext(MONTENEGRIN)
        name = babel_locale(self.locale).languages.get(primary)
        return name or tag


@dataclass(frozen=True)
class Bi:
    """A text in each language of the document (one or two), each part marked with its language."""

    parts: tuple[tuple[str, str], ...]  # (locale, text)
    primary: str = ""  # the document's language: a text in it alone needs no span of its own

    @property
    def first(self) -> str:
        return self.parts[0][1]

    def part(self, locale: str) -> str:
        """The text in `locale`, else the first (a text the data has in one language only)."""
        return next((text for loc, text in self.parts if loc == locale), self.first)

    def __str__(self) -> str:
        return " / ".join(text for _loc, text in self.parts)

    def __html__(self) -> str:
        """Each language in its own span (`lang` set: Serbian Cyrillic italics take their Serbian forms,
        a screen reader switches voice); the second below the first, set apart."""
        if len(self.parts) == 1 and self.parts[0][0] == self.primary:
            return str(escape(self.parts[0][1]))
        out = [f'<span lang="{loc}"{" class=second" if i else ""}>{escape(text)}</span>'
               for i, (loc, text) in enumerate(self.parts)]
        return "".join(out)

    def inline(self) -> Markup:
        """Both languages on one line, separated by a slash (a running header, a short label)."""
        if len(self.parts) == 1 and self.parts[0][0] == self.primary:
            return Markup(escape(self.parts[0][1]))
        return Markup(" / ").join(Markup(f'<span lang="{loc}">{escape(text)}</span>') for loc, text in self.parts)


def _in(variables: dict[str, object], locale: str) -> dict[str, object]:
    return {k: v.part(locale) if isinstance(v, Bi) else v for k, v in variables.items()}


class Languages:
    """The one or two languages of a document, and how each says a thing."""

    def __init__(self, locales: Iterable[str]) -> None:
        self.locales = tuple(dict.fromkeys(check_locale(loc) for loc in locales))
        self.words = tuple(Words(loc) for loc in self.locales)

    @property
    def primary(self) -> str:
        return self.locales[0]

    @property
    def bilingual(self) -> bool:
        return len(self.locales) > 1

    def bi(self, parts: Iterable[tuple[str, str]]) -> Bi:
        return Bi(tuple(parts), self.primary)

    def each(self, text_of: Callable[[str], object]) -> Bi:
        """`text_of(locale)` in each language (the rule data's translations)."""
        return self.bi((w.locale, str(text_of(w.locale))) for w in self.words)

    def gettext(self, message: str, **variables: object) -> Bi:
        """`message` in each language; a variable that is a `Bi` gives each language its own part."""
        return self.bi((w.locale, w.gettext(message, **_in(variables, w.locale))) for w in self.words)

    def ngettext(self, singular: str, plural: str, n: int, **variables: object) -> Bi:
        return self.bi((w.locale, w.ngettext(singular, plural, n, **_in(variables, w.locale))) for w in self.words)

    def date(self, value: dt.date | None) -> Bi:
        return self.bi((w.locale, w.date(value)) for w in self.words)

    def datetime(self, value: dt.datetime) -> Bi:
        return self.bi((w.locale, w.datetime(value)) for w in self.words)

    def language_name(self, tag: str | None) -> Bi:
        return self.bi((w.locale, w.language_name(tag)) for w in self.words)

