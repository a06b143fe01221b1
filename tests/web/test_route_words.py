"""The route in the reader's language (in process, SQLite and PostgreSQL): the request page and the drafting
panel say the channel (with the urgent means it adds, or the route an MLA treaty sets) and what a
simultaneous notification sends from the rule data's texts, as the verdict's route says which they are; a
verdict stored before it said so shows its English, marked lang="en". The law's page of a type lists the
means by which a request may go outside evidex, in words."""

from __future__ import annotations

import html
import re
import uuid

import sqlalchemy as sa

from evidex.cases import service as cases
from evidex.parties.roles import Role
from evidex.requests.models import Request as RequestRow
from evidex.requests.texts import default_texts
from evidex.rules import default_rulebook
from tests.web.site import Site, site
from tests.web.test_drafting import form_of
from tests.web.test_requests import new_request, person

__all__ = ["site"]

TEXTS, RB = default_texts(), default_rulebook()


def speak(site: Site, lang: str, where: str = "/") -> None:
    r = site.client.post("/language", data={"csrf_token": site.csrf(where), "lang": lang, "next": where},
                         follow_redirects=False)
    assert r.status_code == 303


def stored_route(site: Site, rid: uuid.UUID) -> dict:
    with site.sessionmaker() as db:
        return db.execute(sa.select(RequestRow.verdict).where(RequestRow.id == rid)).scalar_one()["route"]


def test_the_request_page_says_an_urgent_channel_in_serbian(site: Site) -> None:
    officer = person(site, site.sign_in("RS", Role.central_authority))
    rid = new_request(site, officer, urgent=True)  # RS -> SI, central authority to central authority
    route = stored_route(site, rid)
    assert route["urgent_means"] and route["channel_index"] == 0
    speak(site, "sr-Cyrl")
    page = html.unescape(site.client.get(f"/requests/{rid}").text)
    channel = TEXTS.channel_text("mutual_assistance", 0, "sr-Cyrl")
    urgent = TEXTS.text("type.mutual_assistance.urgent_means", "sr-Cyrl")
    assert channel in page and urgent in page
    assert route["channel"] not in page and RB.types["mutual_assistance"].channels[0].means not in page


def test_the_route_of_an_mla_treaty_and_a_notification_in_french(site: Site) -> None:
    officer = person(site, site.sign_in("ME", Role.central_authority))
    treaty = new_request(site, officer, requested="RS")  # ME and RS have a mutual assistance treaty in force
    ordered = new_request(site, officer, "subscriber_order", requested="RS")  # RS is notified (CETS224 Art 7(5)(a))
    assert stored_route(site, treaty)["mla_treaty"]
    (note,) = stored_route(site, ordered)["notifications"]
    speak(site, "fr")
    page = html.unescape(site.client.get(f"/requests/{treaty}").text)
    assert TEXTS.text("type.mutual_assistance.mla_treaty.channel", "fr").format(requesting="ME", requested="RS") in page
    assert stored_route(site, treaty)["channel"] not in page
    page = html.unescape(site.client.get(f"/requests/{ordered}").text)
    assert TEXTS.text(note["message_key"], "fr") in page and note["message"] not in page


def test_a_verdict_stored_before_routes_said_their_channel_shows_its_english_marked_as_english(site: Site) -> None:
    officer = person(site, site.sign_in("ME", Role.central_authority))
    rid = new_request(site, officer, "subscriber_order", requested="RS")
    with site.sessionmaker() as db:
        req = db.execute(sa.select(RequestRow).where(RequestRow.id == rid)).scalar_one()
        verdict = dict(req.verdict)
        route = {k: v for k, v in verdict["route"].items() if k not in ("channel_index", "urgent_means", "mla_treaty")}
        route["notifications"] = [{k: v for k, v in n.items() if k != "message_key"} for n in route["notifications"]]
        req.verdict = {**verdict, "route": route}
        db.commit()
    speak(site, "sl")
    page = site.client.get(f"/requests/{rid}").text
    assert f'<span lang="en">{html.escape(route["channel"], quote=False)}</span>' in page
    assert f'<span lang="en">{html.escape(route["notifications"][0]["message"], quote=False)}</span>' in page


def test_the_drafting_panel_says_the_channel_in_the_readers_language(site: Site) -> None:
    site.sign_in("RS", Role.central_authority)
    speak(site, "cnr", "/requests/new")
    values = form_of(site.client.get("/requests/new?type=preservation&requested_party=SI").text).values
    values.update({"action": "check"})
    page = html.unescape(site.client.post("/requests/new", data=values).text)
    panel = page[page.index('id="verdict"'):]
    verdict = cases.check_document(site.client.app.state.law,  # type: ignore[attr-defined]
                                   {"type": "preservation", "requesting_party": "RS", "requested_party": "SI",
                                    **({"sent_by": values["sent_by"]} if values.get("sent_by") else {})},
                                   site.clock.now)
    assert verdict.route is not None and verdict.route.channel_index is not None
    assert TEXTS.channel_text("preservation", verdict.route.channel_index, "cnr") in panel
    assert verdict.route.channel not in panel


def test_the_law_page_of_a_type_lists_the_means_outside_evidex_in_words(site: Site) -> None:
    site.sign_in("RS", Role.central_authority)
    speak(site, "fr", "/law/mutual_assistance")
    page = html.unescape(site.client.get("/law/mutual_assistance").text)
    spec = RB.types["mutual_assistance"]
    start = page.index('id="channels"')
    channels = page[start:page.index("<h2", start)]
    rows = re.findall(r"<tr class=\"govuk-table__row\">(.*?)</tr>", channels[:channels.index("</table>")], re.S)[1:]
    assert len(rows) == len(spec.channels)
    for row, c in zip(rows, spec.channels, strict=True):
        cell = re.findall(r'<td class="govuk-table__cell">(.*?)</td>', row, re.S)[-1]
        assert cell.strip() == ", ".join(TEXTS.means_label(m, "fr") for m in c.outside_evidex)
    assert spec.urgent_means is not None and spec.displaced_by_mla_treaty is not None
    assert ", ".join(TEXTS.means_label(m, "fr") for m in spec.urgent_means.outside_evidex) in channels
    assert TEXTS.means_label("diplomatic", "fr") in channels  # only the MLA treaty's route allows it
    assert TEXTS.text("type.mutual_assistance.urgent_means", "fr") in channels  # was its English
