"""The Jinja2 environment of the pages: our templates, GOV.UK Frontend's macros (govuk-frontend-jinja),
gettext in the current locale, and the locale's date and number formats as filters."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from evidex.web import i18n

TEMPLATES = Path(__file__).parent / "templates"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([
            jinja2.FileSystemLoader(TEMPLATES),
            jinja2.PrefixLoader({"govuk_frontend_jinja": jinja2.PackageLoader("govuk_frontend_jinja", "templates")}),
        ]),
        autoescape=True,  # every page is HTML; nothing a user typed is ever trusted as markup
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Jinja's new-style gettext formats the placeholders itself (escaping them): the callables only translate.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: i18n.translations(i18n.current()).ugettext(message),
        lambda singular, plural, n: i18n.translations(i18n.current()).ungettext(singular, plural, n),
        newstyle=True)
    env.filters.update(
        date=i18n.format_date,
        datetime=i18n.format_datetime,
        number=i18n.format_number,
        filesize=i18n.format_bytes,
        delta=i18n.format_delta,
    )
    env.globals.update(native_names=i18n.NATIVE_NAMES, locales=i18n.LOCALES)
    return env


def render(request: Request, name: str, context: dict[str, Any], *, locale: str, status_code: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    """Render the page `name` in `locale`. `context` must hold what the base layout needs (page.py)."""
    with i18n.using(locale):
        html = environment().get_template(name).render(request=request, locale=locale, now_utc=dt.datetime.now(dt.UTC),
                                                        **context)
    return HTMLResponse(html, status_code=status_code, headers=headers)

