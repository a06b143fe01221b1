"""Parties and the law in the browser (in process): the Party cards with their declarations and articles,
the request types with their elements, deadlines and grounds, for every signed-in role."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient
from markupsafe import escape

from evidex.cases.service import Law
from evidex.core.db import make_engine, make_sessionmaker
from evidex.core.settings import Settings
from evidex.node import build_node
from evidex.parties.roles import Role
from evidex.rules import load_parties, load_rulebook
from evidex.rules.explain import declarations_of
from evidex.rules.loader import data_dir
from evidex.web import i18n
from evidex.web.page import ALL_PEOPLE
from evidex.web.site import create_site
from tests.api.conftest import UNLIMITED, Clock
from tests.factories import NOW
from tests.web.site import Site, site

__all__ = ["site"]
LAW = Law()


def text(value: str) -> str:
    """How a text from the data appears in the page (HTML-escaped)."""
    return str(escape(value))


def signed_in(site: Site, party: str, role: Role, suffix: str = "") -> None:
    site.client.cookies.clear()
    site.sign_in(party, role, suffix)


def test_every_signed_in_role_reads_the_party_cards_and_the_law(site: Site) -> None:
    for role in sorted(ALL_PEOPLE):
        signed_in(site, "RS", role)
        for path in ("/parties", "/parties/SI", "/law", "/law/subscriber_order"):
            r = site.client.get(path)
            assert r.status_code == 200, (role, path, r.text[-500:])
            assert r.headers["content-type"].startswith("text/html")
        nav = site.client.get("/").text
        assert 'href="/parties"' in nav and 'href="/law"' in nav, role
    site.client.cookies.clear()
    r = site.client.get("/parties/RS", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/sign-in?next=/parties/RS"


def test_the_cards_show_every_party_with_its_declarations_articles_and_authorities(site: Site) -> None:
    signed_in(site, "ME", Role.competent_authority)
    today = site.clock.now.date()
    page = site.client.get("/parties").text
    for code in LAW.parties.codes():
        p = LAW.parties.get(code, today)
        assert p is not None
        assert f"{text(p.display_name())} ({code})" in page
        for d in declarations_of(p, LAW.rulebook, today):
            assert text(d.reference) in page and text(d.title) in page, (code, d.reference)
        central = p.authorities.get("central_authority")
        if central is not None and central.contact and central.contact.email:
            assert text(central.contact.email) in page
        assert text(p.timezone) in page
    # The full card: each declaration with its article (and the article's title), its effect and dates.
    si = LAW.parties.get("SI", today)
    assert si is not None
    card = site.client.get("/parties/SI").text
    assert card.count('class="govuk-summary-card"') >= len(si.declarations) + len(si.reservations)
    for d in declarations_of(si, LAW.rulebook, today):
        title = LAW.rulebook.article_title(d.reference)
        assert title, d.reference
        assert f"<strong>{text(d.reference)}</strong> <span class=\"govuk-body-s\">({text(title)})</span>" in card
        assert text(d.message) in card
    assert "In effect today" in card
    if si.retention_days:
        assert f"{si.retention_days} days" in card
    for authority in si.authorities.values():
        assert text(authority.name) in card


def test_a_declaration_not_yet_in_force_says_from_when(site: Site) -> None:
    signed_in(site, "RS", Role.central_authority)
    today = site.clock.now.date()
    pending = [(code, d) for code in LAW.parties.codes()
               for d in declarations_of(LAW.parties.get(code, today), LAW.rulebook, today)  # type: ignore[arg-type]
               if not d.in_effect and d.since]
    assert pending, "the shipped profiles have a declaration that takes effect later (MK)"
    code, d = pending[0]
    card = site.client.get(f"/parties/{code}").text
    with i18n.using("en"):
        since = i18n.format_date(d.since)
    assert f"In force from {since}" in card and "Not in effect today" in card


def test_the_law_shows_each_types_elements_with_their_articles(site: Site) -> None:
    signed_in(site, "RS", Role.competent_authority)
    rb = LAW.rulebook
    page = site.client.get("/law").text
    for spec in rb.types.values():
        assert text(spec.title) in page and f'href="/law/{spec.type}"' in page
        for e in spec.elements:
            assert f"{text(e.label)} — <strong>{text(e.article)}</strong>" in page, (spec.type, e.name)
    for pid, period in rb.periods.items():
        assert pid in page and text(period.description) in page


def test_a_types_page_has_elements_channels_deadlines_today_obligations_and_grounds(site: Site) -> None:
    signed_in(site, "RS", Role.contact_24_7)
    rb = LAW.rulebook
    today = site.clock.now.date()
    for spec in rb.types.values():
        r = site.client.get(f"/law/{spec.type}")
        assert r.status_code == 200, spec.type
        page = r.text
        assert f"<h1 class=\"govuk-heading-l\">{text(spec.title)}</h1>" in page
        for e in (*spec.elements, *spec.optional_elements):
            assert text(e.label) in page and f"<strong>{text(e.article)}</strong>" in page, (spec.type, e.name)
        for c in spec.channels:
            assert text(c.means) in page and text(c.article) in page
        for d in spec.deadlines:
            assert text(d.description) in page and text(d.article) in page
            if d.period is not None:
                days = rb.value(d.period, on=today)
                assert f"{days} day" in page, (spec.type, d.name)
        for o in spec.obligations:
            assert text(o.message) in page
        for g in (*spec.refusal_grounds, *spec.postponement_grounds):
            assert text(g.message) in page and text(g.article) in page
        for entry in rb.entries_for(spec.type):
            assert text(entry.reference) in page and text(entry.effect.message) in page


def test_the_period_shown_is_the_value_of_the_day(database_url: str, tmp_path: Path) -> None:
    """A period that changes on a date (periods.yaml): the page counts the value of the clock's day."""
    data = tmp_path / "data"
    shutil.copytree(data_dir(), data)
    period = LAW.rulebook.types["subscriber_order"].deadlines[0].period
    assert period is not None
    before = LAW.rulebook.periods[period].on(NOW.date())
    change = NOW.date() + dt.timedelta(days=10)

    def add_value(d: dict[str, Any]) -> None:
        d["periods"][period]["values"].append({"from": change, "days": before + 7})

    doc = yaml.safe_load((data / "periods.yaml").read_text(encoding="utf-8"))
    add_value(doc)
    (data / "periods.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    rulebook = load_rulebook(data)
    law = Law(rulebook=rulebook, parties=load_parties(rulebook=rulebook))
    engine = make_engine(database_url)
    clock = Clock()
    settings = Settings(database_url=database_url, environment="test", evidence_dir=tmp_path / "evidence",
                        spool_dir=tmp_path / "spool", login_limit_per_account=UNLIMITED,
                        login_limit_per_address=UNLIMITED)
    app = create_site(settings, node=build_node(settings, engine=engine, law=law), clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        s = Site(client, make_sessionmaker(engine), clock, uuid.uuid4().hex[:8])
        name = LAW.rulebook.types["subscriber_order"].deadlines[0].name
        for n, (day, days) in enumerate(((NOW, before), (dt.datetime.combine(change, dt.time(9), dt.UTC), before + 7))):
            clock.now = day
            client.cookies.clear()
            s.sign_in("RS", Role.central_authority, f"-{n}")  # a session lasts hours, the change is days away
            page = client.get("/law/subscriber_order").text
            row = page.split(f'<span class="govuk-body-s evx-mono">{name}</span>', 1)[1]
            assert f"{days} days" in row.split("</tr>", 1)[0], day
    engine.dispose()


def test_unknown_parties_and_types_are_404_pages(site: Site) -> None:
    signed_in(site, "RS", Role.central_authority)
    for path in ("/parties/XX", "/parties/rsx", "/parties/1", "/law/no_such_type"):
        r = site.client.get(path)
        assert r.status_code == 404 and "Page not found" in r.text, path
    assert site.client.get("/parties/si").status_code == 200  # codes are read in either case


def test_the_cards_name_a_party_in_the_viewers_language(site: Site) -> None:
    signed_in(site, "RS", Role.central_authority)
    r = site.client.post("/language", data={"csrf_token": site.csrf("/parties"), "lang": "sr-Cyrl",
                                            "next": "/parties"}, follow_redirects=False)
    assert r.status_code == 303
    page = site.client.get("/parties").text
    rs = LAW.parties.get("RS", site.clock.now.date())
    assert rs is not None and rs.display_name("sr-Cyrl") in page and 'lang="sr-Cyrl"' in page
