"""Parties without a node through the API (issue 15 item 5): POST /requests/{id}/transitions with
`send_outside`, its `means` (one the route allows: 422 otherwise) and `dispatch_reference`; `send`
refused (409) where evidex cannot deliver, `send_outside` refused where it can; the outbox untouched
by a send outside evidex. A node with a federation identity, on a database of each test alone (the
trust list is the node's own). SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from evidex.api.app import create_app
from evidex.core.db import make_engine, make_sessionmaker
from evidex.core.settings import Settings
from evidex.exchange import keys
from evidex.exchange import service as exchange
from evidex.exchange.models import OutboxMessage
from evidex.parties.roles import Principal, Role
from tests.api.conftest import UNLIMITED, Api, Clock
from tests.factories import document

CA, CA2, C247 = ("RS", Role.central_authority, ""), ("RS", Role.central_authority, "-2"), ("RS", Role.contact_24_7, "")


@pytest.fixture
def node_api(own_database_url: str, tmp_path: Any) -> Iterator[Api]:
    """The API of an RS node with a federation identity: it delivers to the nodes in its trust list."""
    engine = make_engine(own_database_url)
    clock = Clock()
    app = create_app(Settings(database_url=own_database_url, environment="test", node_party="RS",
                              evidence_dir=tmp_path / "evidence", spool_dir=tmp_path / "spool",
                              login_limit_per_account=UNLIMITED, login_limit_per_address=UNLIMITED),
                     engine=engine, clock=clock, identity=keys.generate("RS", "https://rs.example:8443"))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client=client, sessionmaker=make_sessionmaker(engine), clock=clock, tag=uuid.uuid4().hex[:8])
    engine.dispose()


def trust(api: Api, party: str) -> None:
    other = keys.generate(party, f"https://{party.lower()}.example:8443")
    with api.sessionmaker() as db:
        exchange.add_peer(db, document=other.public_document(api.clock.now - dt.timedelta(days=1),
                                                             api.clock.now + dt.timedelta(days=365)),
                          now=api.clock.now, actor=Principal.system("RS"))


def distrust(api: Api, party: str) -> None:
    with api.sessionmaker() as db:
        exchange.remove_peer(db, party=party, now=api.clock.now, actor=Principal.system("RS"))


def move(api: Api, rid: str, event: str, who: tuple[str, Role, str] = CA, **body: Any) -> Any:
    return api.client.post(f"/api/v1/requests/{rid}/transitions", json={**body, "event": event},
                           headers=api.as_(*who))


def drafted(api: Api, kind: str = "mutual_assistance", requested: str = "SI", who=CA, **changes: Any) -> str:
    case = api.client.post("/api/v1/cases", json={"reference": f"K-{uuid.uuid4().hex[:6]}", "title": "Phishing"},
                           headers=api.as_(*who))
    doc = document(kind, "RS", requested)
    doc.update(changes)
    r = api.client.post("/api/v1/requests", json={"case_id": case.json()["id"], "document": doc},
                        headers=api.as_(*who))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def approved(api: Api, **kw: Any) -> str:
    rid = drafted(api, **kw)
    assert move(api, rid, "check").status_code == 200
    assert move(api, rid, "approve", CA2).status_code == 200
    return rid


def outbox(api: Api) -> list[tuple[str, str]]:
    with api.sessionmaker() as db:
        return [(m.recipient, m.type) for m in db.execute(sa.select(OutboxMessage)).scalars()]


def test_a_request_to_a_party_without_a_node_is_sent_outside_evidex_and_says_so(node_api: Api) -> None:
    api = node_api
    rid = approved(api)
    read = api.client.get(f"/api/v1/requests/{rid}", headers=api.as_(*CA)).json()
    assert "send_outside" in read["allowed_events"] and "send" not in read["allowed_events"]
    assert read["verdict"]["route"]["outside_evidex"] == ["post", "email"]  # ETS185 Art 27(2)(b)
    r = move(api, rid, "send")
    assert r.status_code == 409 and r.json()["code"] == "transition_not_allowed", r.text
    assert "SI has no evidex node this node trusts" in r.json()["detail"] and "send_outside" in r.json()["allowed"]
    r = move(api, rid, "send_outside")
    assert r.status_code == 422 and "needs the means" in r.json()["detail"] and "post, email" in r.json()["detail"]
    r = move(api, rid, "send_outside", means="interpol")  # Interpol is the channel of ETS185 Art 27(9)(b) only
    assert r.status_code == 422 and "'interpol' is not a means this request's route allows" in r.json()["detail"]
    r = move(api, rid, "send_outside", means="Post!")  # not a name: refused before the service
    assert r.status_code == 422 and r.json()["code"] == "invalid_input"
    r = move(api, rid, "send_outside", means="post", dispatch_reference="x" * 201)
    assert r.status_code == 422 and r.json()["code"] == "invalid_input"
    api.clock.now += dt.timedelta(minutes=3)
    r = move(api, rid, "send_outside", means="post", dispatch_reference="RR123456789RS")
    assert r.status_code == 200 and r.json()["status"] == "sent", r.text
    assert "send_outside" not in r.json()["allowed_events"]
    last = api.client.get(f"/api/v1/requests/{rid}/history", headers=api.as_(*CA)).json()[-1]
    assert last["event"] == "send_outside" and last["at"].startswith(api.clock.now.isoformat()[:19])
    assert last["actor"] == f"{api.tag}-rs-central_authority" and last["actor_role"] == "central_authority"
    assert last["data"] == {"means": "post", "dispatch_reference": "RR123456789RS",
                            "route_article": "ETS185 Art 27(2)(b)"}
    assert outbox(api) == []  # evidex did not deliver it
    r = move(api, rid, "record_acknowledgement", means="post")  # the means belong to a send outside evidex
    assert r.status_code == 422 and "only when a request is sent outside evidex" in r.json()["detail"]


def test_to_a_party_with_a_node_the_send_goes_through_the_outbox_as_before(node_api: Api) -> None:
    api = node_api
    trust(api, "SI")
    rid = approved(api)
    read = api.client.get(f"/api/v1/requests/{rid}", headers=api.as_(*CA)).json()
    assert "send" in read["allowed_events"] and "send_outside" not in read["allowed_events"]
    r = move(api, rid, "send_outside", means="post")
    assert r.status_code == 409 and "SI has an evidex node this node trusts" in r.json()["detail"], r.text
    assert r.json()["allowed"] == ["edit", "send", "withdraw"]
    r = move(api, rid, "send")
    assert r.status_code == 200 and r.json()["status"] == "sent", r.text
    assert outbox(api) == [("SI", "request")]
    # An emergency sent alone by the 24/7 contact goes through evidex too (CETS224 Art 9).
    trust(api, "ME")
    em = drafted(api, "emergency_disclosure", "ME", who=C247)
    assert move(api, em, "send_outside", C247, means="network_24_7").status_code == 409
    r = move(api, em, "send_alone", C247)
    assert r.status_code == 200, r.text
    assert sorted(outbox(api)) == [("ME", "request"), ("SI", "request")]


def test_a_node_removed_from_the_trust_list_before_sending_means_sending_outside(node_api: Api) -> None:
    api = node_api
    trust(api, "SI")
    rid = approved(api)
    distrust(api, "SI")
    r = move(api, rid, "send")
    assert r.status_code == 409 and "removed from the trust list" in r.json()["detail"]
    r = move(api, rid, "send_outside", means="email")
    assert r.status_code == 200, r.text
    assert outbox(api) == []


def test_the_openapi_documents_the_means_and_the_dispatch_reference(node_api: Api) -> None:
    spec = node_api.client.get("/openapi.json").json()
    props = spec["components"]["schemas"]["TransitionIn"]["properties"]
    assert "send_outside only" in props["means"]["description"] and "route.outside_evidex" in props["means"]["description"]
    assert {"type": "string", "maxLength": 200} in props["dispatch_reference"]["anyOf"]
    op = spec["paths"]["/api/v1/requests/{request_id}/transitions"]["post"]
    assert "send_outside" in op["description"] and {"409", "422"} <= set(op["responses"])
