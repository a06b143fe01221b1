"""Parties without a node in the browser, in process (issue 15 item 5): where the requested Party has no
node this node trusts, a request page offers 'Send outside evidex' instead of 'Send': a plain warning that
evidex will not deliver it, the link to the official document, the means the route allows in words (in
the viewer's language), the dispatch's reference; after sending, the page says evidex did not deliver
it. With a trusted node, the page offers the usual send, through the outbox."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from evidex.core.db import make_engine, make_sessionmaker
from evidex.core.settings import Settings
from evidex.exchange import keys
from evidex.exchange import service as exchange
from evidex.exchange.models import OutboxMessage
from evidex.parties.roles import Principal, Role
from evidex.web.site import create_site
from tests.api.conftest import UNLIMITED, Clock
from tests.web.site import Site, site
from tests.web.test_requests import action_forms, events_of, main, move, new_request, person, post_action, stored

__all__ = ["site"]


@pytest.fixture
def node_site(own_database_url: str, tmp_path: Any) -> Iterator[Site]:
    """The web application of an RS node with a federation identity (it delivers to its trust list)."""
    engine = make_engine(own_database_url)
    clock = Clock()
    app = create_site(Settings(database_url=own_database_url, environment="test", node_party="RS",
                               evidence_dir=tmp_path / "evidence", spool_dir=tmp_path / "spool",
                               login_limit_per_account=UNLIMITED, login_limit_per_address=UNLIMITED),
                      engine=engine, clock=clock, identity=keys.generate("RS", "https://rs.example:8443"))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Site(client, make_sessionmaker(engine), clock, uuid.uuid4().hex[:8])
    engine.dispose()


def approved(site: Site) -> uuid.UUID:
    ca = person(site, site.sign_in("RS", Role.central_authority))
    second = person(site, site.person("RS", Role.central_authority, "-2")[0])
    rid = new_request(site, ca, "mutual_assistance", "SI")  # RS -> SI, central authorities (ETS185 Art 27(2)(b))
    move(site, rid, "check", ca)
    move(site, rid, "approve", second)
    return rid


def form_of(html: str, event: str) -> str:
    return unescape(html.split(f'name="event" value="{event}"', 1)[1].split("</form>", 1)[0])


def means_words(form: str) -> dict[str, str]:
    """The radios of the means: value -> the words of its label."""
    return {v: w.strip() for v, w in re.findall(r'name="means" type="radio" value="([a-z_0-9]+)"[^>]*>\s*'
                                                 r'<label[^>]*>([^<]+)</label>', form)}


def outbox_of(site: Site, rid: uuid.UUID) -> list[str]:
    with site.sessionmaker() as db:
        conversation = stored(site, rid).conversation_id
        return [m.recipient for m in db.execute(sa.select(OutboxMessage).where(
            OutboxMessage.conversation_id == conversation)).scalars()]


def test_without_a_node_the_request_is_sent_outside_evidex_and_the_page_says_so(site: Site) -> None:
    rid = approved(site)  # this node trusts no other node
    html = site.client.get(f"/requests/{rid}").text
    assert "send_outside" in action_forms(html) and "send" not in action_forms(html)
    form = form_of(html, "send_outside")
    assert ("Slovenia has no evidex node that this node trusts: evidex will not deliver this request. Download "
            "the official document (PDF) and send it yourself") in form
    assert f'href="/requests/{rid}/document.pdf"' in form and "Download the official document (PDF)" in form
    assert means_words(form) == {"post": "Post", "email": "E-mail"}  # no fax: not urgent (ETS185 Art 25(3))
    assert "The means the route of this request allows (ETS185 Art 27(2)(b))." in form
    assert 'name="dispatch_reference"' in form and "registered-mail number" in form
    assert "Send outside evidex" in form  # the button, in the lifecycle's words

    r = post_action(site, rid, "send_outside", page=html)  # no means chosen
    assert r.status_code == 422 and 'href="#send_outside-means"' in r.text
    assert "Choose the means by which you send the request" in r.text
    r = post_action(site, rid, "send_outside", page=html, means="fax")  # not a means of this route
    assert r.status_code == 422 and "Choose the means by which you send the request" in r.text
    assert stored(site, rid).status == "approved"

    site.clock.now += dt.timedelta(minutes=2)
    r = post_action(site, rid, "send_outside", page=html, means="post", dispatch_reference="RR123456789RS")
    assert r.status_code == 303 and r.headers["location"] == f"/requests/{rid}?notice=outside", r.text
    done = main(site.client.get(r.headers["location"]).text)
    assert ("Recorded: you sent this request outside evidex (Post). evidex did not deliver it and holds no "
            "receipt of it") in done
    assert "sent it outside evidex (Post) on" in done and "evidex did not deliver this request." in done
    timeline = done.split('id="timeline-heading"', 1)[1]
    assert "Sent outside evidex (Post): evidex did not deliver this request." in timeline
    assert "Reference of the dispatch: RR123456789RS" in timeline and "ETS185 Art 27(2)(b)" in timeline
    assert events_of(site, rid)[-1] == "send_outside" and stored(site, rid).status == "sent"
    assert outbox_of(site, rid) == []
    assert "send_outside" not in action_forms(done)


def test_the_means_are_in_the_viewers_language(site: Site) -> None:
    rid = approved(site)
    r = site.client.post("/language", data={"csrf_token": site.csrf("/"), "lang": "fr", "next": "/"},
                         follow_redirects=False)
    assert r.status_code == 303
    form = form_of(site.client.get(f"/requests/{rid}").text, "send_outside")
    assert means_words(form) == {"post": "Courrier postal", "email": "Courrier électronique"}
    assert "Envoyer hors d'evidex" in form
    assert "evidex ne transmettra pas cette demande" in form and "Télécharger le document officiel (PDF)" in form


def test_with_a_trusted_node_the_page_offers_the_usual_send_through_evidex(node_site: Site) -> None:
    site = node_site
    other = keys.generate("SI", "https://si.example:8443")
    with site.sessionmaker() as db:
        exchange.add_peer(db, document=other.public_document(site.clock.now - dt.timedelta(days=1),
                                                             site.clock.now + dt.timedelta(days=365)),
                          now=site.clock.now, actor=Principal.system("RS"))
    rid = approved(site)
    html = site.client.get(f"/requests/{rid}").text
    assert "send" in action_forms(html) and "send_outside" not in action_forms(html)
    # No "send it yourself" warning, nor its link to the document (the page's own document form stays).
    assert "will not deliver" not in html and f'href="/requests/{rid}/document.pdf"' not in html
    r = post_action(site, rid, "send_outside", page=html, means="post")  # a form from elsewhere: refused
    assert r.status_code == 409 and "has an evidex node this node trusts" in r.text
    r = post_action(site, rid, "send", page=html)
    assert r.status_code == 303 and "notice=done" in r.headers["location"], r.text
    assert outbox_of(site, rid) == ["SI"]
    done = main(site.client.get(r.headers["location"]).text)
    assert "evidex did not deliver" not in done and "Done: Send to the requested Party" in done
