"""Elements only the requested Party's own law names (its profile's mla_required_elements: ETS185 Art
25(4)) read in the page's language, on the request page and in the drafting form — no request type labels
them, so they were shown as their English names ("Offence", "Facts summary")."""

from __future__ import annotations

import re
import uuid
from typing import Any

from evidex.parties.roles import Role
from tests.factories import document
from tests.web.site import Site, site

__all__ = ["site"]

OWN_LAW = {"offence": "Computer-related fraud", "facts_summary": "A phishing campaign", "assistance_sought":
           "Stored logs", "data_description": "SMTP logs", "domestic_legal_basis": "Criminal Procedure Code"}


def words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def posted(site: Site, doc: dict[str, Any], role: Role = Role.central_authority) -> dict[str, Any]:
    """`doc` registered as a new request of RS, in a new case, through the API: the request as it answers."""
    headers = site.api_headers("RS", role)
    case = site.client.post("/api/v1/cases", json={"reference": f"K-{uuid.uuid4().hex[:8]}", "title": "Case"},
                            headers=headers).json()
    r = site.client.post("/api/v1/requests", json={"case_id": case["id"], "document": doc}, headers=headers)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def to_serbian(site: Site) -> None:
    """The signed-in person's pages from now on in Serbian (Cyrillic)."""
    assert site.client.post("/language", data={"csrf_token": site.csrf("/"), "lang": "sr-Cyrl", "next": "/"},
                            follow_redirects=False).status_code == 303


def test_a_partys_own_law_elements_in_the_readers_language(site: Site) -> None:
    doc = document("mutual_assistance", "RS", "SI")  # SI's law requires these (its profile)
    doc["elements"] = {**doc["elements"], **OWN_LAW}
    rid = posted(site, doc)["id"]
    site.sign_in("RS", Role.central_authority)
    to_serbian(site)
    page = words(site.client.get(f"/requests/{rid}").text)
    for serbian in ("Кривично дело", "Кратак опис чињеница", "Тражена помоћ", "Опис тражених података"):
        assert serbian in page, serbian
    for english in ("Offence", "Facts summary", "Assistance sought", "Data description", "Domestic legal basis"):
        assert english not in page, english
    assert f"енглески ({doc['language']})" in page  # the request's language named, its tag beside it
    assert doc["issuing_authority"]["kind"] == "prosecutor" and "Врста: Тужилац" in page  # its kind in words
    form = words(site.client.get("/requests/new?type=mutual_assistance&requested_party=SI").text)
    assert "Тражена помоћ" in form and "Assistance sought" not in form


def test_the_type_of_access_number_in_the_readers_language(site: Site) -> None:
    """CETS224 Art 7(9)(b): a Party may limit orders to types of access number; the request page names
    the type in words, as the official document does (was the code 'static_ip_address')."""
    doc = document("subscriber_order", "RS", "ME")
    doc["elements"] = {**doc["elements"], "access_number_type": "static_ip_address"}
    rid = posted(site, doc, Role.competent_authority)["id"]
    site.sign_in("RS", Role.competent_authority)
    page = words(site.client.get(f"/requests/{rid}").text)
    assert "Static IP address" in page and "static_ip_address" not in page
    to_serbian(site)
    page = words(site.client.get(f"/requests/{rid}").text)
    assert "Статичка IP адреса" in page and "Static IP address" not in page
