"""The evidence part of `evidex demo`: a mutual assistance request of this node, executed by a
partner node, whose evidence package has arrived and been verified here.

Nothing is faked: the partner is a real evidex node (its own SQLite database, keys, vault and API
application) that lives only while the demo runs. Messages, the signed manifest, the chunks and
the signed receipt cross between the two API applications over HTTP, in process (no sockets).
Afterwards the partner's keys stay in this node's trust list, revoked, so that what it signed
still verifies and nothing more is sent to it."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from evidex.cases import service as requests
from evidex.cases.models import Case
from evidex.core.db import transaction
from evidex.core.migrate import upgrade
from evidex.core.settings import Settings
from evidex.demo.data import example_document
from evidex.evidence import packages
from evidex.evidence import service as evidence
from evidex.evidence.models import EvidencePackage
from evidex.exchange import keys
from evidex.exchange import service as exchange
from evidex.exchange.models import OutboxMessage, Peer
from evidex.node import Node, build_node
from evidex.parties.models import User
from evidex.parties.roles import Principal, Role
from evidex.parties.service import create_user, principal_of
from evidex.requests.models import Request

with warnings.catch_warnings():  # Starlette's note about its httpx client is not for our users
    warnings.filterwarnings("ignore", message=".*starlette.testclient")
    from fastapi.testclient import TestClient

REFERENCE = "DEMO-PKG-1"
MiB = 1024 * 1024


def _records(party: str, partner: str) -> dict[str, bytes]:
    """What the partner's provider produced: subscriber records and a traffic log of two chunks."""
    subscribers = (b"msisdn,name,address,contract_start\n"
                   b"+38267000001,Demo Subscriber One,Bulevar Svetog Petra Cetinjskog 1,2021-03-04\n"
                   b"+38267000002,Demo Subscriber Two,Njegoseva 12,2023-11-30\n")
    line = "2026-11-20T{h:02d}:{m:02d}:{s:02d}Z 10.20.{a}.{b} -> 203.0.113.{c}:443 TCP {n} bytes\n"
    log = bytearray()
    i = 0
    while len(log) < MiB + 200_000:
        log += line.format(h=i // 3600 % 24, m=i // 60 % 60, s=i % 60, a=i % 250, b=(i * 7) % 250, c=(i * 13) % 250,
                           n=(i * 7919) % 100_000).encode()
        i += 1
    return {f"subscribers-{partner}-for-{party}.csv": subscribers, "traffic-log.txt": bytes(log)}


def load(*, node: Node, now: dt.datetime, echo: Callable[[str], None]) -> bool:
    """Create the request and its arrived package at `node` (one with an identity); False if it is
    already there."""
    from evidex.api.app import create_app

    settings, ident = node.settings, node.identity
    assert ident is not None
    party = ident.party
    partner = "ME" if party != "ME" else "RS"
    here = node.sessions
    with here() as db:
        if db.execute(sa.select(Case.id).where(Case.party == party, Case.reference == REFERENCE)).first():
            return False
        people = {u.username: principal_of(u) for u in db.execute(sa.select(User).where(User.party == party)).scalars()}
    ca, ca2 = people[f"{party.lower()}-central-authority"], people[f"{party.lower()}-central-authority-2"]
    with tempfile.TemporaryDirectory(prefix="evidex-demo-partner-") as tmp:
        p_node = keys.generate(partner, f"https://{partner.lower()}.demo-partner.invalid")
        p_settings = Settings(database_url=f"sqlite:///{Path(tmp) / 'partner.db'}", environment="development",
                              node_party=partner, evidence_dir=Path(tmp) / "evidence", secret_key=secrets.token_hex(32),
                              node_dir=Path(tmp) / "node", spool_dir=Path(tmp) / "spool")
        partner_node = build_node(p_settings, identity=p_node, migrated=False)
        upgrade(partner_node.engine)
        # One clock for both nodes and the demo's own steps: the package registered on arrival and
        # settled by the demo's pass carry times in the order they happened.
        apps = {party: create_app(settings, node=node, clock=lambda: now),
                partner: create_app(p_settings, node=partner_node, clock=lambda: now)}
        law, p_law = apps[party].state.law, apps[partner].state.law  # with their announcers
        there = partner_node.sessions
        valid = (now - dt.timedelta(days=1), now + dt.timedelta(days=365))
        with here() as db:
            exchange.add_peer(db, document=p_node.public_document(*valid), now=now, actor=Principal.system(party))
        with there() as db, transaction(db):
            exchange.add_peer(db, document=ident.public_document(*valid), now=now, actor=Principal.system(partner))
            p_ca = principal_of(create_user(db, username=f"{partner.lower()}-demo-ca", display_name="Partner CA",
                                            party=partner, role=Role.central_authority, now=now))

        def client_for(peer: Peer) -> httpx.Client:
            return TestClient(apps[peer.party])  # the other node's real API application

        def pump() -> None:
            """Deliver both outboxes, push package chunks, verify what arrived, until all is quiet."""
            for _ in range(10):
                moved = 0
                for sessions, who, app in ((here, ident, apps[party]), (there, p_node, apps[partner])):
                    moved += exchange.deliver_once(sessions, who, now, client_for=client_for).delivered
                    moved += packages.transfer_once(sessions, who, app.state.vault, now, client_for=client_for).chunks
                    moved += packages.verify_received(sessions, who, app.state.vault, now, spool=app.state.spool)
                if not moved:
                    return

        # 1. This node's central authority sends a mutual assistance request (four eyes).
        with here() as db, transaction(db):
            case = requests.create_case(db, actor=ca, reference=REFERENCE,
                                        title=f"Demo: executed request, evidence package arrived from {partner}",
                                        now=now)
            req = requests.create_request(db, actor=ca, law=law, case_id=case.id, now=now,
                                          document=example_document("mutual_assistance", party, partner))
            for who, event in ((ca, "check"), (ca2, "approve"), (ca, "send")):
                requests.transition(db, actor=who, law=law, request_id=req.id, event=event, now=now)
            rid = req.id
        pump()
        # 2. The partner executes it, seals what its provider produced, and sends the package.
        files = _records(party, partner)
        vault: evidence.Vault = apps[partner].state.vault
        with there() as db, transaction(db):
            got = db.execute(sa.select(Request).where(Request.direction == "incoming")).scalar_one()
            for event in ("acknowledge", "start_execution", "execute"):
                requests.transition(db, actor=p_ca, law=p_law, request_id=got.id, event=event, now=now)
            ids = []
            for name, data in files.items():
                ev = evidence.start_upload(db, actor=p_ca, vault=vault, request_id=got.id, name=name,
                                           media_type="text/csv" if name.endswith(".csv") else "text/plain",
                                           size=len(data), sha256=hashlib.sha256(data).hexdigest(), now=now)
                for i in range(-(-len(data) // MiB)):
                    evidence.put_chunk(db, actor=p_ca, vault=vault, evidence_id=ev.id, index=i,
                                       data=data[i * MiB:(i + 1) * MiB], now=now)
                evidence.complete(db, actor=p_ca, vault=vault, evidence_id=ev.id, now=now)
                ids.append(ev.id)
            pkg = packages.create(db, actor=p_ca, vault=vault, node=p_node, request_id=got.id, evidence_ids=ids,
                                  now=now, lifecycle=p_law.lifecycle)
            requests.transition(db, actor=p_ca, law=p_law, request_id=got.id, event="transmit_data", now=now)
            pid = pkg.id
        pump()
        ok = _report(here, there, rid, pid, echo)
        with here() as db:  # the partner is gone: revoke its keys (what they signed still verifies)
            # a moment after the package arrived (at `now`): a key revoked at that very instant would
            # no longer verify the manifest it signed then (trust.signing_key: at >= revoked_at)
            exchange.remove_peer(db, party=partner, now=now + dt.timedelta(seconds=1),
                                 actor=Principal.system(party))
        partner_node.dispose()
    if not ok:
        raise RuntimeError("the demo evidence package did not arrive intact")
    return True


def _report(here: sessionmaker[Session], there: sessionmaker[Session], rid: Any, pid: Any,
            echo: Callable[[str], None]) -> bool:
    with here() as db:
        req = db.get(Request, rid)
        pkg = db.get(EvidencePackage, pid)
        pending = db.execute(sa.select(sa.func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status != "delivered")).scalar_one()
        if req is None or pkg is None:
            return False
        echo(f"request {req.id} ({REFERENCE}) to {req.requested_party}: {req.status}; evidence package {pkg.id} "
             f"{pkg.status} ({len(pkg.manifest['files'])} files, verified against the manifest signed by "
             f"{pkg.peer}'s node)")
        ok = pkg.status == "received" and req.status == "data_transmitted" and pending == 0
    with there() as db:
        sent = db.get(EvidencePackage, pid)
        ok &= sent is not None and sent.status == "received"  # the partner holds the signed receipt
    return ok
