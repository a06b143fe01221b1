"""Six languages for every text a person reads: gettext catalogs (Babel) for the pages, the rule
data's own translations for the law's labels (rules/), and dates, numbers and plurals per locale.

Catalogs are .po files in the package, compiled in memory when first used: no build step for a user,
and no .mo file that can drift from its source. Babel has no Montenegrin (`cnr`) locale data: the
catalog is our own, dates and numbers are formatted as `sr_Latn_ME`."""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from babel import Locale, UnknownLocaleError, dates, numbers, units
from babel.support import NullTranslations

from evidex.documents.i18n import compile_catalog  # the one way a .po catalog is loaded
from evidex.rules.texts import LOCALES as LOCALES  # one list of languages for the law and the pages
from evidex.rules.texts import SOURCE_LOCALE

DEFAULT_LOCALE = SOURCE_LOCALE
# Each language named in itself (the switcher), as its speakers write it.
NATIVE_NAMES: dict[str, str] = {
    "en": "English",
    "sr-Cyrl": "Српски (ћирилица)",
    "sr-Latn": "Srpski (latinica)",
    "cnr": "Crnogorski",
    "sl": "Slovenščina",
    "fr": "Français",
}
# Babel's locale data for dates, numbers and plural rules.
BABEL_LOCALES: dict[str, str] = {
    "en": "en_GB", "sr-Cyrl": "sr_Cyrl_RS", "sr-Latn": "sr_Latn_RS", "cnr": "sr_Latn_ME", "sl": "sl_SI", "fr": "fr_FR",
}
CATALOG_DIRS: dict[str, str] = {
    "en": "en", "sr-Cyrl": "sr_Cyrl", "sr-Latn": "sr_Latn", "cnr": "cnr", "sl": "sl", "fr": "fr",
}
LOCALE_ROOT = Path(__file__).parent / "locales"
DOMAIN = "messages"

_current: contextvars.ContextVar[str] = contextvars.ContextVar("evidex_locale", default=DEFAULT_LOCALE)


def catalog_path(locale: str) -> Path:
    return LOCALE_ROOT / CATALOG_DIRS[locale] / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog of `locale` (English is the source language: its catalog may be empty)."""
    return compile_catalog(catalog_path(locale), BABEL_LOCALES[locale], DOMAIN)


@functools.cache
def babel_locale(locale: str) -> Locale:
    return Locale.parse(BABEL_LOCALES[locale])


def current() -> str:
    return _current.get()


@contextmanager
def using(locale: str) -> Iterator[None]:
    """Render (or format) in `locale` within the block."""
    token = _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)
    try:
        yield
    finally:
        _current.reset(token)


def gettext(message: str, **variables: object) -> str:
    text = translations(current()).ugettext(message)
    return text % variables if variables else text


class _KeepUnknown(dict[str, object]):
    """Leaves a placeholder it has no value for as it is: a template's ngettext passes its other
    variables (`count=...`) only afterwards, to Jinja's own formatting of what this returns."""

    def __missing__(self, key: str) -> str:
        return f"%({key})s"


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    text = translations(current()).ungettext(singular, plural, n)
    return text % _KeepUnknown({"num": n, **variables})


_ = gettext


def lazy(message: str) -> str:
    """Mark `message` for extraction where it is defined; translate it where it is shown (`_(x)`)."""
    return message


# --- choosing the language -------------------------------------------------------------------

_TAG = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$")


def match(tag: str) -> str | None:
    """A language tag (Accept-Language, a user's choice) -> one of LOCALES, or None.
    Serbian without a script is Cyrillic (the official script, Constitution of Serbia Art 10);
    Serbian as written in Montenegro (sr-ME) and `cnr` are Montenegrin."""
    t = tag.strip().lower().replace("_", "-")
    if not t or not _TAG.match(t):
        return None
    for loc in LOCALES:
        if t == loc.lower():
            return loc
    parts = t.split("-")
    if parts[0] in ("cnr",) or (parts[0] == "sr" and "me" in parts[1:]):
        return "cnr"
    if parts[0] in ("sr", "sh", "bs", "hr"):
        return "sr-Latn" if "latn" in parts[1:] or parts[0] != "sr" else "sr-Cyrl"
    for loc in LOCALES:
        if parts[0] == loc.split("-")[0]:
            return loc
    return None


def negotiate(accept_language: str | None) -> str:
    """The best of LOCALES for an Accept-Language header (RFC 9110 §12.5.4), else English."""
    if not accept_language:
        return DEFAULT_LOCALE
    ranked: list[tuple[float, int, str]] = []
    for i, item in enumerate(accept_language.split(",")[:20]):
        tag, _sep, params = item.partition(";")
        q = 1.0
        m = re.search(r"q\s*=\s*([0-9.]+)", params)
        if m:
            try:
                q = float(m.group(1))
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag))
    for neg_q, _i, tag in sorted(ranked):
        if neg_q >= 0:
            break
        found = match(tag)
        if found:
            return found
    return DEFAULT_LOCALE


# --- formatting ------------------------------------------------------------------------------

def format_date(value: dt.date | dt.datetime | None, form: str = "medium") -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    return dates.format_date(value, format=form, locale=babel_locale(current()))


def format_datetime(value: dt.datetime | None, tz: str = "UTC", form: str = "medium") -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return dates.format_datetime(value, format=form, tzinfo=dates.get_timezone(tz), locale=babel_locale(current()))


def language_name(tag: str) -> str:
    """A language tag of a document (`en`, `sr-Latn`, `cnr`) named in the reader's language, with the tag
    beside it (what the rules engine and the other side read): "енглески (en)". Montenegrin, which Babel
    does not know, by its own name; an unknown tag as it is."""
    if tag == "cnr":
        return f"{NATIVE_NAMES['cnr']} (cnr)"
    try:
        name = Locale.parse(tag.replace("-", "_")).get_display_name(babel_locale(current()))
    except (UnknownLocaleError, ValueError, TypeError, LookupError):
        return tag
    return f"{name} ({tag})" if name else tag


def format_number(value: int | float) -> str:
    return numbers.format_decimal(value, locale=babel_locale(current()))


_BYTE_UNITS = ((10**12, "digital-terabyte"), (10**9, "digital-gigabyte"), (10**6, "digital-megabyte"),
               (10**3, "digital-kilobyte"))


def format_bytes(size: int) -> str:
    """A file size as people read it, in decimal (SI) units: `2.4 MB`, `2,4 Mo`, `512 bytes`."""
    for factor, unit in _BYTE_UNITS:
        if size >= factor:
            return units.format_unit(size / factor, unit, length="short", format="#,##0.#",
                                     locale=babel_locale(current()))
    return units.format_unit(size, "digital-byte", length="long", locale=babel_locale(current()))


def format_delta(delta: dt.timedelta, *, direction: bool = True) -> str:
    """`in 3 days` / `2 hours ago`, in the current locale."""
    text = dates.format_timedelta(delta, granularity="minute", threshold=1.5, add_direction=direction,
                                  format="long", locale=babel_locale(current()))
    if current() == "cnr":  # sr_Latn_ME's data is ekavian; Montenegrin is ijekavian ("prije 5 sati")
        text = re.sub(r"\bpre\b", "prije", text)
    return text

