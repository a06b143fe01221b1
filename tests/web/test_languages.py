"""Every page in every language: rendered in each of the five translated locales, no message of the
catalogs is left in English (the page's own texts; data people typed stays as typed)."""

from __future__ import annotations

import html
import re
import uuid

import pytest
from babel.messages.pofile import read_po

from evidex.parties.roles import Role
from evidex.web import i18n
from tests.factories import document
from tests.web.site import Site, site

__all__ = ["site"]


def english_messages(locale: str) -> list[str]:
    """Messages of three words or more whose translation differs from the English (short labels can
    rightly be the same, e.g. `Interpol`)."""
    with i18n.catalog_path(locale).open("rb") as f:
        catalog = read_po(f, locale=i18n.BABEL_LOCALES[locale])
    out = []
    for m in catalog:
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        for msgid in ids:
            if not msgid or msgid in strings:
                continue
            fixed = re.split(r"%\([a-z_]+\)[sd]", msgid)  # the text around the placeholders
            out += [part.strip() for part in fixed if len(part.strip().split()) >= 3]
    return out


def profile_names() -> list[str]:
    """Names the Party profiles give (authorities, contacts): data of each Party, shown as written."""
    import yaml

    from evidex.rules.loader import data_dir

    names: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("name", "authority", "contact", "address", "notes") and isinstance(v, str):
                    names.append(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for path in (data_dir() / "parties").glob("*.yaml"):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return sorted(set(names), key=len, reverse=True)


def visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r'<[^>]+\blang="en"[^>]*>.*?</[a-z0-9]+>', " ", page, flags=re.S)  # data marked as English
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    for name in PROFILE_NAMES:
        text = text.replace(name, " ")
    return text


PROFILE_NAMES = profile_names()


def pages_of(site: Site) -> dict[Role, list[str]]:
    headers = site.api_headers("RS", Role.central_authority, "-arranger")
    r = site.client.post("/api/v1/cases", json={"reference": f"K-{uuid.uuid4().hex[:8]}", "title": "Ransomware"},
                         headers=headers)
    rid = site.client.post("/api/v1/requests", json={"case_id": r.json()["id"],
                                                     "document": document("mutual_assistance", "RS", "SI")},
                           headers=headers).json()["id"]
    return {
        Role.central_authority: ["/", "/requests", "/requests/new", f"/requests/{rid}", f"/requests/{rid}/evidence",
                                 "/parties", "/parties/SI", "/law", "/law/mutual_assistance", "/law/preservation",
                                 "/account"],
        Role.administrator: ["/audit", "/admin/users", "/admin/users/new", "/admin/outbox", "/admin/peers"],
    }


@pytest.mark.parametrize("locale", [loc for loc in i18n.LOCALES if loc != i18n.DEFAULT_LOCALE])
def test_every_page_in_the_language_chosen_has_no_english_left(site: Site, locale: str) -> None:
    english = english_messages(locale)
    assert len(english) > 100
    for role, paths in pages_of(site).items():
        site.client.cookies.clear()
        site.sign_in("RS", role, f"-{locale}")
        r = site.client.post("/language", data={"csrf_token": site.csrf("/"), "lang": locale, "next": "/"},
                             follow_redirects=False)
        assert r.status_code == 303
        for path in paths:
            page = site.client.get(path)
            assert page.status_code == 200, (path, page.status_code)
            assert f'<html lang="{locale}"' in page.text, path
            text = visible_text(page.text)
            left = [m for m in english if m in text]
            assert not left, f"{locale} {path}: English left: {left[:5]}"
