"""Two nodes in one process, each with its own database of the parametrised kind, joined by an
HTTP transport that calls the receiving node directly (faults are injected in the transport)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from evidex.cases import service as requests
from evidex.core.settings import Settings
from evidex.exchange import flows, framing, keys
from evidex.exchange import service as exchange
from evidex.exchange.spool import Spool
from evidex.node import build_node
from evidex.parties.roles import Principal, Role
from evidex.parties.service import create_user, principal_of
from tests.dbfixtures import drop_postgres_database, new_postgres_database, url_of

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


@dataclass
class TestNode:
    identity: keys.NodeIdentity
    sessions: sa.orm.sessionmaker  # type: ignore[type-arg]
    law: requests.Law
    spool: Spool | None = None  # where large received payloads go (as `evidex serve` has one)
    people: dict[str, Principal] = field(default_factory=dict)

    @property
    def party(self) -> str:
        return self.identity.party


def federation_reply(request: httpx.Request, db: sa.orm.Session, node: keys.NodeIdentity, apply: exchange.Applier,
                     now: dt.datetime, spool: Spool | None = None) -> tuple[httpx.Response, int]:
    """What the receiving node's federation routes answer (one envelope, or a batch); and how many.
    Like the routes, a store that cannot be written answers 503 (nothing kept)."""
    try:
        return _federation_reply(request, db, node, apply, now, spool)
    except exchange.StoreUnavailable as e:
        return httpx.Response(503, text=str(e), headers={"Retry-After": "60"}), 0


def _federation_reply(request: httpx.Request, db: sa.orm.Session, node: keys.NodeIdentity, apply: exchange.Applier,
                      now: dt.datetime, spool: Spool | None) -> tuple[httpx.Response, int]:
    if request.url.path.endswith("/batch"):
        if request.headers.get("content-type") == framing.MEDIA_TYPE:  # what the delivery worker sends
            items = framing.unpack_batch(request.content, exchange.MAX_BATCH)
            envelopes = [e for e, _ in items]
            attachments = {i: a for i, (_, a) in enumerate(items) if a is not None}
        else:
            body = json.loads(request.content)
            envelopes = [e.encode("ascii") for e in body["envelopes"]]
            attachments = {int(k): base64.b64decode(v) for k, v in (body.get("attachments") or {}).items()}
        results = exchange.receive_batch(db, node=node, envelopes=envelopes, now=now, apply=apply,
                                         attachments=attachments, spool=spool)
        return httpx.Response(200, json={"results": [{"status": s, "body": t} for s, t in results]}), len(envelopes)
    status, text = exchange.receive(db, node=node, envelope=request.content, now=now, apply=apply, spool=spool)
    return httpx.Response(status, text=text), 1


@dataclass
class Link:
    """The transport from the sending node to the receiving node, with switchable faults."""

    receiver: TestNode
    now: Callable[[], dt.datetime]
    down: bool = False
    drop_reply: bool = False  # the receiver stores, but its reply never arrives
    deliveries: int = 0

    def client_for(self, peer: object) -> httpx.Client:
        def handler(request: httpx.Request) -> httpx.Response:
            if self.down:
                raise httpx.ConnectError("connection refused", request=request)
            with self.receiver.sessions() as db:
                reply, n = federation_reply(request, db, self.receiver.identity,
                                            flows.applier(self.receiver.identity, self.receiver.law), self.now(),
                                            self.receiver.spool)
            self.deliveries += n
            if self.drop_reply:
                raise httpx.ReadError("connection reset before the reply", request=request)
            return reply

        return httpx.Client(transport=httpx.MockTransport(handler))


def _url(kind: str, tmp: Path, name: str, made: list[str], migrated_from: Path | None = None) -> str:
    """A new database of `kind`: empty, or migrated (`migrated_from`: the SQLite template; PostgreSQL
    copies its migrated template database). Its name is added to `made` for `_drop`."""
    if kind == "sqlite":
        path = tmp / f"{name}.db"
        if migrated_from is not None:
            shutil.copy(migrated_from, path)
        return f"sqlite:///{path}"
    db = new_postgres_database(f"evidex_fed_{name.lower()}", migrate=migrated_from is not None)
    made.append(db)
    return url_of(db)


@pytest.fixture(params=["sqlite", "postgresql"])
def two_nodes(request, tmp_path, sqlite_template):
    made: list[str] = []
    engines = []
    nodes = []
    identities = {p: keys.generate(p, f"https://127.0.0.1/{p}") for p in ("RS", "ME")}
    for party in ("RS", "ME"):
        ident = identities[party]
        url = _url(request.param, tmp_path, party, made, migrated_from=sqlite_template)
        built = build_node(Settings(database_url=url, node_party=party), identity=ident)
        engines.append(built.engine)
        node = TestNode(ident, built.sessions, built.announcing_law, spool=Spool(tmp_path / party / "spool"))
        other = identities["ME" if party == "RS" else "RS"]
        with node.sessions() as db:
            exchange.add_peer(db, document=other.public_document(NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=365)),
                              now=NOW, actor=Principal.system(party))
            for name, role in (("ca", Role.central_authority), ("ca2", Role.central_authority),
                               ("p247", Role.contact_24_7)):
                node.people[name] = principal_of(create_user(db, username=f"{party.lower()}-{name}",
                                                             display_name=name, party=party, role=role, now=NOW))
            db.commit()
        nodes.append(node)
    yield nodes[0], nodes[1]
    for e in engines:
        e.dispose()
    _drop(made)


def _drop(made: list[str]) -> None:
    for db in made:
        drop_postgres_database(db)
