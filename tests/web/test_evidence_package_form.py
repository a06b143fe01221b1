"""Sending evidence to the requesting Party's node from the evidence page, in process (SQLite and
PostgreSQL): the form (no script needed) is offered only to a person whose role produces evidence, on
a request received from a trusted node, in a state whose data may go (requests/data/lifecycle.yaml
data_sending), with the sealed files not yet sent ticked; it makes the same signed package as
POST /api/v1/requests/{id}/evidence-packages, and says in words what is wrong — in another state,
why no data goes then. Between two real nodes: tests/web/test_browser_journey.py."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from evidex.cases import service as cases
from evidex.core.settings import Settings
from evidex.evidence.models import EvidenceFile, EvidencePackage
from evidex.exchange import keys
from evidex.exchange import service as exchange
from evidex.exchange.models import OutboxMessage
from evidex.node import build_node
from evidex.parties.roles import Principal, Role
from evidex.requests.models import Request
from evidex.web.site import create_site
from tests.api.conftest import UNLIMITED, Clock
from tests.factories import document
from tests.web.site import Site
from tests.web.test_evidence_pages import csrf_of, new_request, text_of, upload_by_form


@pytest.fixture
def node_site(database_url: str, tmp_path: Path) -> Iterator[tuple[Site, uuid.UUID]]:
    """RS's node with an identity, ME's node in its trust list, and a request received from ME's node."""
    clock = Clock()
    settings = Settings(database_url=database_url, environment="test", node_party="RS",
                        evidence_dir=tmp_path / "evidence", spool_dir=tmp_path / "spool",
                        login_limit_per_account=UNLIMITED, login_limit_per_address=UNLIMITED)
    node = build_node(settings, identity=keys.generate("RS", "https://rs.node.invalid"))
    partner = keys.generate("ME", "https://me.node.invalid")
    with node.sessions() as db:
        exchange.add_peer(db, document=partner.public_document(clock.now - dt.timedelta(days=1),
                                                               clock.now + dt.timedelta(days=365)),
                          now=clock.now, actor=Principal.system("RS"))
        req = cases.register_incoming(db, law=node.law, party="RS", sender="ME",
                                      document=document("mutual_assistance", "ME", "RS"),
                                      conversation_id=str(uuid.uuid4()), now=clock.now)
        rid = req.id
        db.commit()
    with TestClient(create_site(settings, node=node, clock=clock), raise_server_exceptions=False) as client:
        yield Site(client, node.sessions, clock, uuid.uuid4().hex[:8]), rid
    node.dispose()


def send(site: Site, rid: uuid.UUID, *evidence_ids: object, token: str | None = None):  # type: ignore[no-untyped-def]
    token = token if token is not None else csrf_of(site.client.get(f"/requests/{rid}/evidence").text)
    return site.client.post(f"/requests/{rid}/evidence-packages", follow_redirects=False,
                            data={"csrf_token": token, "evidence_id": [str(e) for e in evidence_ids]})


def act(site: Site, rid: uuid.UUID, event: str, **fields: str) -> None:
    """An event of the lifecycle through the request page's form, as the signed-in person."""
    token = csrf_of(site.client.get(f"/requests/{rid}").text)
    r = site.client.post(f"/requests/{rid}/transitions", data={"csrf_token": token, "event": event, **fields},
                         follow_redirects=False)
    assert r.status_code == 303, text_of(r.text)


def executing(site: Site, rid: uuid.UUID) -> None:
    """RS acknowledges the mutual assistance request and starts executing it: its data may go
    (ETS185 Art 31(2)); received only, they may not (lifecycle data_sending)."""
    act(site, rid, "acknowledge")
    act(site, rid, "start_execution")


def files(site: Site, rid: uuid.UUID) -> list[EvidenceFile]:
    with site.sessionmaker() as db:
        return list(db.execute(sa.select(EvidenceFile).where(EvidenceFile.request_id == rid)
                               .order_by(EvidenceFile.created_at)).scalars())


def test_the_sealed_files_are_sent_in_a_signed_package_from_the_page(node_site: tuple[Site, uuid.UUID]) -> None:
    site, rid = node_site
    site.sign_in("RS", Role.central_authority)
    executing(site, rid)
    assert "Send to the node of ME" not in text_of(site.client.get(f"/requests/{rid}/evidence").text)  # nothing sealed
    data = b"SMTP log line\n" * 1000
    assert upload_by_form(site, rid, "relay.log", data).status_code == 303
    ev = files(site, rid)[0]
    page = site.client.get(f"/requests/{rid}/evidence").text
    words = text_of(page)
    assert "Send to the node of ME" in words and "Files to send" in words
    assert f'name="evidence_id" type="checkbox" value="{ev.id}" checked' in page  # not sent yet: ticked
    r = send(site, rid, ev.id)
    assert r.status_code == 303 and r.headers["location"] == f"/requests/{rid}/evidence?notice=package_sent#packages-heading"
    with site.sessionmaker() as db:
        pkg = db.execute(sa.select(EvidencePackage).where(EvidencePackage.request_id == rid)).scalar_one()
        queued = db.execute(sa.select(OutboxMessage).where(
            OutboxMessage.recipient == "ME", OutboxMessage.type == "evidence_manifest",
            OutboxMessage.conversation_id == pkg.conversation_id)).scalars().all()
    assert (pkg.direction, pkg.peer, pkg.status) == ("outgoing", "ME", "sending")
    assert [f["sha256"] for f in pkg.manifest["files"]] == [hashlib.sha256(data).hexdigest()]
    assert pkg.created_by.endswith("-rs-central_authority") and len(queued) == 1  # the signed manifest, queued
    page = site.client.get(r.headers["location"]).text
    words = text_of(page)
    assert "The package is on its way" in words and "Sent to ME" in words and "Sending" in words
    assert f'value="{ev.id}" checked' not in page  # sent already: offered again, not ticked


def test_the_form_says_what_is_wrong_and_sends_nothing(node_site: tuple[Site, uuid.UUID]) -> None:
    site, rid = node_site
    site.sign_in("RS", Role.central_authority)
    executing(site, rid)
    assert upload_by_form(site, rid, "relay.log", b"a log").status_code == 303
    r = send(site, rid)  # nothing ticked
    assert r.status_code == 422 and "Select at least one file to send" in text_of(r.text)
    assert 'href="#send-files"' in r.text
    other = new_request(site)  # a file of another request of RS
    assert upload_by_form(site, other, "other.log", b"another log").status_code == 303
    r = send(site, rid, files(site, other)[0].id)
    assert r.status_code == 422 and "The package was not sent: evidence" in text_of(r.text)
    assert "is not a file of this request" in text_of(r.text)
    r = send(site, other, files(site, other)[0].id)  # an outgoing request: nothing to answer
    assert r.status_code == 409 and "answer a request received from another Party's node" in text_of(r.text)
    assert "Send to the node of" not in text_of(site.client.get(f"/requests/{other}/evidence").text)
    r = send(site, rid, files(site, rid)[0].id, token="0" * 64)
    assert r.status_code == 403
    with site.sessionmaker() as db:
        assert db.execute(sa.select(EvidencePackage).where(EvidencePackage.request_id.in_([rid, other])))\
            .scalars().all() == []


@pytest.mark.parametrize("role", [Role.data_protection_officer, Role.administrator])
def test_a_role_that_produces_no_evidence_is_not_offered_the_form(node_site: tuple[Site, uuid.UUID],
                                                                 role: Role) -> None:
    site, rid = node_site
    site.sign_in("RS", Role.central_authority)
    assert upload_by_form(site, rid, "relay.log", b"a log").status_code == 303
    site.client.cookies.clear()
    site.sign_in("RS", role)
    page = site.client.get(f"/requests/{rid}/evidence")
    assert page.status_code == 200 and "Send to the node of" not in text_of(page.text)
    assert send(site, rid, files(site, rid)[0].id, token=csrf_of(page.text)).status_code == 403


def test_in_a_state_whose_data_may_not_go_the_page_says_why_and_nothing_is_sent(
        node_site: tuple[Site, uuid.UUID]) -> None:
    """Received only, then with conditions proposed and not accepted: no form, the reason and its
    article instead (lifecycle data_sending); the form sent anyway is refused (409), nothing queued."""
    site, rid = node_site
    site.sign_in("RS", Role.central_authority)
    assert upload_by_form(site, rid, "relay.log", b"a log").status_code == 303
    page = site.client.get(f"/requests/{rid}/evidence")
    words = text_of(page.text)
    assert "Files to send" not in words and f'action="/requests/{rid}/evidence-packages"' not in page.text
    assert ("No data can be sent to the node of ME while the request is “Received”: it has only been received: "
            "whether it is executed is decided first (ETS185 Art 25(4)).") in words
    token = csrf_of(page.text)
    act(site, rid, "acknowledge")
    act(site, rid, "propose_conditions", **{"condition-1-kind": "use_limitation",
                                            "condition-1-text": "Only in the proceedings K-1"})
    page = site.client.get(f"/requests/{rid}/evidence")
    words = text_of(page.text)
    reason = ("No data can be sent to the node of ME while the request is “Conditions proposed”: conditions "
              "proposed are not accepted yet: they bind once accepted (ETS185 Art 28(3)).")
    assert "Files to send" not in words and reason in words and 'id="send-withheld"' in page.text
    r = send(site, rid, files(site, rid)[0].id, token=token)  # the form of an earlier page, sent anyway
    assert r.status_code == 409 and "The package was not sent: " + reason in text_of(r.text)
    assert 'href="#send-withheld"' in r.text
    # In the reader's language: the sentence, the state and the reason (the lifecycle data's) translated.
    site.client.post("/language", data={"csrf_token": csrf_of(page.text), "lang": "fr", "next": "/"})
    words = text_of(site.client.get(f"/requests/{rid}/evidence").text)
    assert ("Aucune donnée ne peut être envoyée au nœud de ME tant que la demande est « Conditions proposées » : "
            "les conditions proposées ne sont pas encore acceptées : elles ne lient qu'une fois acceptées "
            "(ETS185 Art 28(3)).") in words
    with site.sessionmaker() as db:
        assert db.execute(sa.select(EvidencePackage).where(EvidencePackage.request_id == rid)).scalars().all() == []
        conversation = db.get(Request, rid).conversation_id  # the shared PostgreSQL holds other tests' too
        assert db.execute(sa.select(OutboxMessage).where(OutboxMessage.type == "evidence_manifest",
                                                         OutboxMessage.conversation_id == conversation)).all() == []
    # Once the requesting Party accepts them (its node's message, applied here), they bind: the form is back.
    with site.sessionmaker() as db:
        cases.transition(db, actor=Principal.system("RS"), law=site.client.app.state.law, request_id=rid,
                         event="record_conditions_accepted", now=site.clock.now)
        db.commit()
    page = site.client.get(f"/requests/{rid}/evidence")
    assert f'action="/requests/{rid}/evidence-packages"' in page.text and 'id="send-withheld"' not in page.text
