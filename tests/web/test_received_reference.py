"""A request received from another Party's node is shown under the reference its document gives (the
requesting Party's own, which the officers on both sides quote), not under the case the node opened for
its conversation (`ME:<conversation id>`): in the list and its search, on its page, on the dashboard and
in the outbox (in process, SQLite and PostgreSQL). The case itself stays as it is."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from evidex.cases import service as cases
from evidex.cases.models import Case
from evidex.core.settings import Settings
from evidex.exchange import keys
from evidex.exchange import service as exchange
from evidex.node import build_node
from evidex.parties.roles import Principal, Role
from evidex.web.site import create_site
from tests.api.conftest import UNLIMITED, Clock
from tests.factories import document
from tests.web.site import Site, site
from tests.web.test_requests import new_request, person

__all__ = ["site"]


def receive(site: Site, kind: str, reference: str | None, **changes: object) -> tuple[uuid.UUID, str]:
    """A `kind` request from ME's node to RS's, its document giving `reference`; (its id, its case's reference)."""
    doc = document(kind, "ME", "RS")
    doc.pop("case_reference", None)
    if reference is not None:
        doc["case_reference"] = reference
    doc.update(changes)
    law: cases.Law = site.client.app.state.law  # type: ignore[attr-defined]
    with site.sessionmaker() as db:
        req = cases.register_incoming(db, law=law, party="RS", sender="ME", document=doc,
                                      conversation_id=str(uuid.uuid4()), now=site.clock.now)
        db.commit()
        case = db.execute(sa.select(Case).where(Case.id == req.case_id)).scalar_one()
        return req.id, case.reference


@pytest.fixture
def node_site(own_database_url: str, tmp_path: Path) -> Iterator[Site]:
    """RS's node with an identity and ME's node in its trust list: a received request is answered by
    messages to ME's node (its outbox). On a database of its own: the dashboard and the outbox show the
    oldest first, and no other test's."""
    clock = Clock()
    settings = Settings(database_url=own_database_url, environment="test", node_party="RS",
                        evidence_dir=tmp_path / "evidence", spool_dir=tmp_path / "spool",
                        login_limit_per_account=UNLIMITED, login_limit_per_address=UNLIMITED)
    node = build_node(settings, identity=keys.generate("RS", "https://rs.node.invalid"))
    partner = keys.generate("ME", "https://me.node.invalid")
    with node.sessions() as db:
        exchange.add_peer(db, document=partner.public_document(clock.now - dt.timedelta(days=1),
                                                               clock.now + dt.timedelta(days=365)),
                          now=clock.now, actor=Principal.system("RS"))
        db.commit()
    with TestClient(create_site(settings, node=node, clock=clock), raise_server_exceptions=False) as client:
        yield Site(client, node.sessions, clock, uuid.uuid4().hex[:8])
    node.dispose()


def test_the_list_and_its_search_show_the_reference_the_received_document_gives(node_site: Site) -> None:
    site = node_site
    given = f"VTK-2026-{site.tag}"
    rid, internal = receive(site, "mutual_assistance", given)
    assert internal.startswith("ME:")  # the node's case, named after the conversation, stays
    site.sign_in("RS", Role.central_authority)
    # Found by the reference the officers quote (any case), and listed under it.
    row = next(r for r in site.client.get(f"/requests?search={given.lower()}").text.split("<tr") if f'href="/requests/{rid}"' in r)
    assert given in row and internal not in row
    row = next(r for r in site.client.get(f"/requests?direction=incoming&search={rid}").text.split("<tr")
               if f'href="/requests/{rid}"' in r)
    assert given in row and internal not in row
    page = site.client.get(f"/requests/{rid}").text
    caption = page.split('class="govuk-caption-l">', 1)[1].split("</span>", 1)[0]
    assert given in caption
    assert internal not in page  # nor in a link to the list of "its case"


def test_a_received_document_without_a_reference_keeps_its_cases(node_site: Site) -> None:
    site = node_site
    rid, internal = receive(site, "mutual_assistance", None)
    site.sign_in("RS", Role.central_authority)
    row = next(r for r in site.client.get(f"/requests?search={rid}").text.split("<tr") if f'href="/requests/{rid}"' in r)
    assert internal in row


def test_a_request_of_our_own_shows_its_cases_reference(site: Site) -> None:
    """An outgoing request: the officer's own case, whatever its document says."""
    officer = person(site, site.sign_in("RS", Role.central_authority))
    rid = new_request(site, officer, reference=f"K-{site.tag}", case_reference=f"DOC-{site.tag}")
    row = next(r for r in site.client.get(f"/requests?search={rid}").text.split("<tr") if f'href="/requests/{rid}"' in r)
    assert f"K-{site.tag}" in row and f"DOC-{site.tag}" not in row
    page = site.client.get(f"/requests/{rid}").text
    assert f"All requests of case K-{site.tag}" in page


def test_the_dashboard_shows_received_emergencies_and_deadlines_under_the_documents_reference(node_site: Site) -> None:
    site = node_site
    emergency, emergency_case = receive(site, "emergency_disclosure", f"VTK-E-{site.tag}")
    long_ago = (site.clock.now - dt.timedelta(days=70)).date().isoformat()  # its 60 days have passed
    _preserved, preserved_case = receive(site, "preservation", f"VTK-P-{site.tag}", issued_on=long_ago,
                                        received_on=long_ago)
    site.sign_in("RS", Role.contact_24_7)
    page = site.client.get("/").text
    region = page.split('id="emergencies"', 1)[1].split("</section>", 1)[0]
    assert f"VTK-E-{site.tag}" in region and emergency_case not in region
    assert f'data-evx-label="VTK-E-{site.tag} · ' in region  # the alert names it so too
    deadlines = page.split('id="deadlines-heading"', 1)[1].split("</section>", 1)[0]
    assert f"VTK-P-{site.tag}" in deadlines and preserved_case not in deadlines
    assert str(emergency) in region


def test_the_outbox_shows_a_received_requests_messages_under_the_documents_reference(node_site: Site) -> None:
    site = node_site
    given = f"VTK-O-{site.tag}"
    rid, internal = receive(site, "mutual_assistance", given)
    site.sign_in("RS", Role.central_authority)
    assert site.client.get(f"/requests/{rid}").status_code == 200  # read: its retrieval receipt goes to ME's node
    site.sign_in("RS", Role.administrator)
    outbox = site.client.get("/admin/outbox").text
    assert given in outbox and internal not in outbox
