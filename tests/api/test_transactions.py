"""A command that fails leaves nothing written, through the API, on SQLite and PostgreSQL: the
services own the transaction (core/db.py), and a failure at any step after the first write rolls
back every write — including the Idempotency-Key's record, so a retry runs the command again."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from evidex.api.app import create_app
from evidex.audit.models import AuditEntry
from evidex.cases.service import Law
from evidex.core.db import make_engine, make_sessionmaker
from evidex.core.idempotency import IdempotencyKey
from evidex.core.settings import Settings
from evidex.node import build_node
from evidex.parties.roles import Role
from evidex.requests.models import Request, RequestEvent
from tests.api.conftest import UNLIMITED, Api, Clock
from tests.factories import document


@dataclass
class Announcer:
    """The law's hook run inside a transition or an audited read, after they wrote (the federation's
    outbox, in a node with an identity): a test makes it fail on one event."""

    broken_on: str | None = None

    def __call__(self, db: Session, req: Request, event: str, now: dt.datetime) -> None:
        if event == self.broken_on:
            raise RuntimeError("the outbox is unavailable")


@pytest.fixture
def hooked(database_url: str, tmp_path: Path) -> Iterator[tuple[Api, Announcer]]:
    announcer = Announcer()
    engine = make_engine(database_url)
    settings = Settings(database_url=database_url, environment="test", evidence_dir=tmp_path / "evidence",
                        spool_dir=tmp_path / "spool", login_limit_per_account=UNLIMITED,
                        login_limit_per_address=UNLIMITED)
    clock = Clock()
    node = build_node(settings, engine=engine, law=Law(announce=announcer), identity=None)
    with TestClient(create_app(settings, node=node, clock=clock), raise_server_exceptions=False) as client:
        yield Api(client=client, sessionmaker=make_sessionmaker(engine), clock=clock, tag=uuid.uuid4().hex[:8]), \
            announcer
    engine.dispose()


def new_request(api: Api, doc: dict[str, Any] | None = None) -> str:
    h = api.as_("RS", Role.central_authority)
    case = api.client.post("/api/v1/cases", json={"reference": f"K-{uuid.uuid4().hex[:6]}", "title": "Phishing"},
                           headers=h)
    r = api.client.post("/api/v1/requests", headers=h,
                        json={"case_id": case.json()["id"], "document": doc or document("mutual_assistance", "RS", "SI")})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def stored(api: Api, rid: str) -> tuple[str, dt.datetime | None, list[str], list[str]]:
    """What the database holds of the request: its status, when it was checked, its events, its audit actions."""
    with api.sessionmaker() as db:
        req = db.get(Request, uuid.UUID(rid))
        assert req is not None
        events = list(db.execute(sa.select(RequestEvent.event).where(RequestEvent.request_id == req.id)
                                 .order_by(RequestEvent.seq)).scalars())
        actions = list(db.execute(sa.select(AuditEntry.action).where(AuditEntry.object_id == rid)
                                  .order_by(AuditEntry.seq)).scalars())
        return req.status, req.checked_at, events, actions


def test_a_transition_that_fails_after_writing_leaves_nothing_and_its_key_free(hooked):
    api, announcer = hooked
    rid = new_request(api)
    ca, second = api.as_("RS", Role.central_authority), api.as_("RS", Role.central_authority, "-2")
    assert api.client.post(f"/api/v1/requests/{rid}/transitions", json={"event": "check"}, headers=ca).status_code == 200
    before = stored(api, rid)
    announcer.broken_on = "approve"  # the last step of the transition: status, event, deadlines, audit are written
    keyed = {**second, "Idempotency-Key": f"{api.tag}-approve"}
    r = api.client.post(f"/api/v1/requests/{rid}/transitions", json={"event": "approve"}, headers=keyed)
    assert r.status_code == 500 and r.json()["code"] == "internal_error"
    assert stored(api, rid) == before  # no status, event or audit entry of the approval
    with api.sessionmaker() as db:
        assert db.execute(sa.select(IdempotencyKey).where(IdempotencyKey.key == f"{api.tag}-approve")).first() is None
    announcer.broken_on = None  # the retry with the same key runs the command: it was never stored
    r = api.client.post(f"/api/v1/requests/{rid}/transitions", json={"event": "approve"}, headers=keyed)
    assert r.status_code == 200 and r.json()["status"] == "approved" and "Idempotent-Replayed" not in r.headers
    r = api.client.post(f"/api/v1/requests/{rid}/transitions", json={"event": "approve"}, headers=keyed)
    assert r.status_code == 200 and r.headers["Idempotent-Replayed"] == "true"
    status, _, events, actions = stored(api, rid)
    assert status == "approved" and events == ["create", "check", "approve"]
    assert actions.count("request.approve") == 1


def test_an_audited_read_that_fails_is_not_logged(hooked):
    api, announcer = hooked
    rid = new_request(api)
    ca = api.as_("RS", Role.central_authority)
    announcer.broken_on = "read"  # after the read's audit entry is written
    assert api.client.get(f"/api/v1/requests/{rid}", headers=ca).status_code == 500
    assert "request.read" not in stored(api, rid)[3]
    announcer.broken_on = None
    assert api.client.get(f"/api/v1/requests/{rid}", headers=ca).status_code == 200
    assert stored(api, rid)[3].count("request.read") == 1


def test_a_guard_that_refuses_after_storing_the_verdict_leaves_nothing(api):
    doc = document("mutual_assistance", "RS", "SI")
    doc["elements"].pop("offence")  # inadmissible: `check` stores the new verdict, then refuses
    rid = new_request(api, doc)
    before = stored(api, rid)
    api.clock.now += dt.timedelta(hours=1)
    r = api.client.post(f"/api/v1/requests/{rid}/transitions", json={"event": "check"},
                        headers=api.as_("RS", Role.central_authority))
    assert r.status_code == 422
    assert stored(api, rid) == before  # checked_at is still the creation's; no event, no audit entry
