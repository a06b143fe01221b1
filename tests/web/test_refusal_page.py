"""A refusal (403) in the reader's language (in process, SQLite and PostgreSQL): the page says in a
translated sentence that this person may not do it; the domain's English reason is only its technical
details, marked lang="en" (as the dashboard shows what came from another node)."""

from __future__ import annotations

import html
import re
import uuid

import pytest

from evidex.parties.roles import Role
from evidex.web import i18n
from evidex.web.page import REFUSED
from tests.web.site import Site, site
from tests.web.test_languages import visible_text

__all__ = ["site"]

TRANSLATED = [loc for loc in i18n.LOCALES if loc != i18n.DEFAULT_LOCALE]
DETAILS = re.compile(r'<div class="govuk-details__text" lang="en">(.*?)</div>', re.S)


def speak(site: Site, locale: str) -> None:
    r = site.client.post("/language", data={"csrf_token": site.csrf("/"), "lang": locale, "next": "/"},
                         follow_redirects=False)
    assert r.status_code == 303


@pytest.mark.parametrize("locale", TRANSLATED)
def test_a_role_refusal_is_said_in_the_readers_language_with_its_reason_as_technical_details(
        site: Site, locale: str) -> None:
    site.sign_in("RS", Role.administrator, f"-{locale}")
    speak(site, locale)
    r = site.client.get("/requests/new")  # drafting is for the authorities that send requests
    assert r.status_code == 403 and f'<html lang="{locale}"' in r.text
    with i18n.using(locale):
        sentence, title = i18n._(REFUSED), i18n._("You cannot do this")
    assert sentence != str(REFUSED)
    text = visible_text(r.text)
    assert title in text and sentence in text
    (reason,) = DETAILS.findall(r.text)
    assert "needs the role" in html.unescape(reason)
    assert "needs the role" not in text  # only as the technical details, marked as English


def test_a_refusal_by_the_domain_shows_its_reason_only_as_technical_details(site: Site) -> None:
    """Opening a file is refused by evidence.service (OPENERS), whatever the file, not by the page."""
    site.sign_in("RS", Role.data_protection_officer)
    speak(site, "sr-Latn")
    r = site.client.get(f"/evidence/{uuid.uuid4()}/download")
    assert r.status_code == 403
    with i18n.using("sr-Latn"):
        assert i18n._(REFUSED) in visible_text(r.text)
    (reason,) = DETAILS.findall(r.text)
    assert "does not open evidence" in reason and "does not open evidence" not in visible_text(r.text)
    # The API's answer to the same refusal is untouched: its reason in English, for the log and the caller.
    api = site.client.get(f"/api/v1/evidence/{uuid.uuid4()}/content",
                          headers=site.api_headers("RS", Role.data_protection_officer))
    assert api.status_code == 403 and "does not open evidence" in api.json()["detail"]
