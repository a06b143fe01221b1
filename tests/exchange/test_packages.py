"""Evidence packages between two nodes (each with its own database, SQLite and PostgreSQL): the
manifest signed by the producing node, the chunks pushed and resumed after a dropped connection,
each chunk verified, the whole files verified against the manifest, a signed receipt back; a
mismatch reported to both sides; a tampered chunk, a wrong MAC and a forged manifest refused."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import uuid
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa

from evidex.audit.models import AuditEntry
from evidex.cases import service as requests
from evidex.core.canonical import canonical_json
from evidex.core.db import transaction
from evidex.evidence import packages
from evidex.evidence import service as evidence
from evidex.evidence.models import CustodyEvent, EvidenceFile, EvidencePackage
from evidex.evidence.storage import LocalStorage
from evidex.exchange import flows, keys
from evidex.exchange import service as exchange
from evidex.exchange.models import InboxMessage, OutboxBody, OutboxMessage, Receipt
from evidex.requests.models import Notification, Request
from tests.exchange.conftest import Link, federation_reply
from tests.exchange.conftest import TestNode as Node
from tests.exchange.test_faults import deliver, incoming, now, send_request
from tests.faulty_node import Installed

MiB = 1024 * 1024


class Undo(Exception):
    """Raised to roll back what a test did only to read its result."""

CHUNK = re.compile(r"^/[A-Z]{2}/federation/v1/packages/([0-9a-f-]{36})(?:/files/(\d+)/chunks/(\d+))?$")


@dataclass
class Wire(Link):
    """Link, plus the package endpoints of the receiving node; can drop the connection after a
    number of chunks, or alter a chunk in transit."""

    vault: evidence.Vault | None = None
    drop_after: int | None = None
    tamper: bool = False
    chunk_puts: int = 0

    def client_for(self, peer: object) -> httpx.Client:
        node, vault = self.receiver, self.vault

        def handler(request: httpx.Request) -> httpx.Response:
            if self.down:
                raise httpx.ConnectError("connection refused", request=request)
            with node.sessions() as db:
                if request.url.path.endswith(("/federation/v1/messages", "/federation/v1/batch")):
                    reply, n = federation_reply(request, db, node.identity,
                                                flows.applier(node.identity, node.law, packages.message_handler(node.identity, vault)), self.now())
                    self.deliveries += n
                    return reply
                m = CHUNK.match(request.url.path)
                assert m, request.url.path
                given = request.headers.get(packages.MAC_HEADER)
                try:
                    if request.method == "GET":
                        return httpx.Response(200, json=packages.progress(db, package_id=uuid.UUID(m[1]),
                                                                          given_mac=given))
                    if self.drop_after is not None and self.chunk_puts >= self.drop_after:
                        raise httpx.ReadError("connection dropped mid-transfer", request=request)
                    blob = bytearray(request.content)
                    if self.tamper:
                        blob[5] ^= 0x40
                    out = packages.receive_chunk(db, vault=vault, package_id=uuid.UUID(m[1]), position=int(m[2]),
                                                 index=int(m[3]), blob=bytes(blob), given_mac=given)
                    self.chunk_puts += 1
                    return httpx.Response(200, json=out)
                except packages.PackageRejected as e:
                    return httpx.Response(e.status, json={"detail": str(e)})

        return httpx.Client(transport=httpx.MockTransport(handler))


@pytest.fixture
def federated(two_nodes, tmp_path):
    rs, me = two_nodes
    vaults = {n.party: evidence.Vault.from_secret(LocalStorage(tmp_path / f"vault-{n.party}"),
                                                  f"secret of {n.party}".encode(), signer=n.identity,
                                                  retention_days={"RS": 365, "ME": 365}) for n in (rs, me)}
    return rs, me, vaults


def produce(me: Node, vault: evidence.Vault, request_id: uuid.UUID, data: bytes, name: str) -> uuid.UUID:
    who = me.people["p247"]
    with me.sessions() as db:
        ev = evidence.start_upload(db, actor=who, vault=vault, request_id=request_id, name=name,
                                   media_type="application/octet-stream", size=len(data),
                                   sha256=hashlib.sha256(data).hexdigest(), now=now())
        for i in range(max(1, -(-len(data) // MiB))):
            evidence.put_chunk(db, actor=who, vault=vault, evidence_id=ev.id, index=i, data=data[i * MiB:(i + 1) * MiB],
                               now=now())
        evidence.complete(db, actor=who, vault=vault, evidence_id=ev.id, now=now())
        db.commit()
        return ev.id


def act(node: Node, request_id: uuid.UUID, *events: str, who: str = "p247", **command: object) -> None:
    with node.sessions() as db:
        for event in events:
            cmd = requests.Command(**command) if command else None  # type: ignore[arg-type]
            requests.transition(db, actor=node.people[who], law=node.law, request_id=request_id, event=event,
                                now=now(), command=cmd)
        db.commit()


def executing(rs: Node, me: Node, vaults, request_id: uuid.UUID) -> None:
    """ME acknowledges RS's preservation and executes it: in its course the traffic data that identify
    a provider of another State may go (ETS185 Art 30(1)); only received, nothing goes (lifecycle
    data_sending). The step messages reach RS first, so that ME's outbox then holds the package only."""
    act(me, request_id, "acknowledge", "start_execution")
    assert deliver(me, Wire(rs, now, vault=vaults["RS"])).delivered == 2


def setup_package(rs, me, vaults, files: dict[str, bytes]):
    """RS sends a preservation request; ME executes it, produces the files and packages them.
    Returns (RS request id, ME package id, ME evidence ids)."""
    rid = send_request(rs)
    deliver(rs, Wire(me, now, vault=vaults["ME"]))
    (got,) = incoming(me)
    executing(rs, me, vaults, got.id)
    ids = [produce(me, vaults["ME"], got.id, data, name) for name, data in files.items()]
    with me.sessions() as db:
        pkg = packages.create(db, actor=me.people["p247"], vault=vaults["ME"], node=me.identity, request_id=got.id,
                              evidence_ids=ids, now=now())
        db.commit()
        return rid, pkg.id, ids


def custody_events(node, evidence_id):
    with node.sessions() as db:
        return [e.event for e in db.execute(sa.select(CustodyEvent).where(CustodyEvent.evidence_id == evidence_id)
                                            .order_by(CustodyEvent.seq)).scalars()]


def test_a_package_is_transferred_resumed_verified_and_receipted(federated):
    rs, me, vaults = federated
    files = {"mailbox.mbox": os.urandom(2 * MiB + 4321), "subscriber.csv": b"msisdn,name\n38160000,Jane Roe\n"}
    rid, pid, source_ids = setup_package(rs, me, vaults, files)
    with me.sessions() as db:
        transfer_key = db.get(EvidencePackage, pid).transfer_key
        assert transfer_key
    to_rs = Wire(rs, now, vault=vaults["RS"], drop_after=1)
    # Nothing moves before the manifest is delivered; then the manifest arrives and is checked.
    assert packages.transfer_once(me.sessions, me.identity, vaults["ME"], now(), client_for=to_rs.client_for).chunks == 0
    assert deliver(me, to_rs).delivered == 1
    with rs.sessions() as db:
        pkg = db.get(EvidencePackage, pid)
        assert pkg.status == "receiving" and pkg.direction == "incoming" and pkg.peer == "ME"
        assert [f["name"] for f in pkg.manifest["files"]] == list(files)
    # The connection drops after the first chunk: the next pass resumes where it stopped.
    r = packages.transfer_once(me.sessions, me.identity, vaults["ME"], now(), client_for=to_rs.client_for)
    assert (r.chunks, r.sent, r.retrying) == (1, 0, 1)
    to_rs.drop_after = None
    later = now() + dt.timedelta(minutes=5)
    r = packages.transfer_once(me.sessions, me.identity, vaults["ME"], later, client_for=to_rs.client_for)
    assert (r.chunks, r.sent) == (3, 1)  # chunks 1 and 2 of the mailbox, the csv; chunk 0 was not sent again
    assert to_rs.chunk_puts == 4
    # RS verifies each file against the signed manifest, seals it and answers with a signed receipt.
    assert packages.verify_received(rs.sessions, rs.identity, vaults["RS"], later, spool=rs.spool) == 1
    with rs.sessions() as db:
        pkg = db.get(EvidencePackage, pid)
        assert pkg.status == "received" and pkg.problems == [] and pkg.transfer_key is None
        got = list(db.execute(sa.select(EvidenceFile).where(EvidenceFile.package_id == pid)
                              .order_by(EvidenceFile.package_position)).scalars())
        assert [g.status for g in got] == ["sealed", "sealed"] and all(g.request_id == rid for g in got)
        assert [g.sha256 for g in got] == [hashlib.sha256(d).hexdigest() for d in files.values()]
        assert all(g.retain_until == later + dt.timedelta(days=365) for g in got)
        for g, data in zip(got, files.values(), strict=True):
            _, stream = evidence.open_content(db, actor=rs.people["p247"], vault=vaults["RS"], evidence_id=g.id,
                                              now=later)
            assert b"".join(stream) == data
            assert evidence.verify_custody(db, g.id, signer=rs.identity) == []
        db.commit()
    assert custody_events(rs, got[0].id) == ["received", "verified", "opened"]
    # The package key has served its purpose: not kept in the stored manifest message either; the
    # message's receipted SHA-256 is unchanged.
    with rs.sessions() as db:
        stored = db.execute(sa.select(InboxMessage).where(InboxMessage.type == "evidence_manifest")).scalar_one()
        assert transfer_key.encode() not in exchange.inbox_body(stored, rs.spool)
        assert exchange.inbox_payload(stored, rs.spool)["transfer_key"] == "erased"
        assert exchange.inbox_payload(stored, rs.spool)["manifest"]["files"][0]["name"] == "mailbox.mbox"
        receipted = db.execute(sa.select(Receipt).where(Receipt.msg_id == stored.msg_id, Receipt.kind == "delivery")).scalar_one()
    with me.sessions() as db:  # RS's receipt, verified as its peer does
        assert exchange.verify_receipt(receipted.token, trust=exchange.load_trust(db), party="RS",
                                       at=later)["payload_sha256"] == stored.payload_sha256
    # The receipt travels back; ME records it and the files' custody shows they were sent.
    to_me = Wire(me, now, vault=vaults["ME"])
    assert deliver(rs, to_me, at=later).delivered == 1 and to_me.deliveries == 1
    with me.sessions() as db:
        pkg = db.get(EvidencePackage, pid)
        assert pkg.status == "received"
        receipt = db.execute(sa.select(Receipt).where(Receipt.msg_id == str(pid), Receipt.kind == "package")).scalar_one()
        assert receipt.issuer == "RS" and receipt.positive
        claims = exchange.verify_receipt(receipt.token, trust=exchange.load_trust(db), party="RS", at=later)
        assert claims["manifest_sha256"] == pkg.manifest_sha256 and all(f["verified"] for f in claims["files"])
    assert custody_events(me, source_ids[0]) == ["produced", "sealed", "sent"]
    with me.sessions() as db:
        body = db.execute(sa.select(OutboxBody.body).join(OutboxMessage, OutboxMessage.id == OutboxBody.outbox_id)
                          .where(OutboxMessage.type == "evidence_manifest")).scalar_one()
        assert transfer_key.encode() not in body and b'"transfer_key":"erased"' in body


def test_a_mismatch_is_reported_to_both_sides_and_never_sealed(federated):
    rs, me, vaults = federated
    data = os.urandom(MiB + 10)
    rid, pid, _ = setup_package(rs, me, vaults, {"image.dd": data})
    to_rs = Wire(rs, now, vault=vaults["RS"])
    deliver(me, to_rs)
    # A byte changes before the chunk is sealed for transit (a fault at the producing node): every
    # chunk still authenticates, but the file no longer matches the signed manifest.
    assert packages.transfer_once(me.sessions, me.identity, vaults["ME"], now(), client_for=to_rs.client_for,
                                  faults=Installed(["package_corrupt"])).sent == 1
    packages.verify_received(rs.sessions, rs.identity, vaults["RS"], now(), spool=rs.spool)
    with rs.sessions() as db:
        pkg = db.get(EvidencePackage, pid)
        assert pkg.status == "mismatch" and "manifest says" in pkg.problems[0]
        ev = db.execute(sa.select(EvidenceFile).where(EvidenceFile.package_id == pid)).scalar_one()
        assert ev.status == "rejected" and ev.sha256 != hashlib.sha256(data).hexdigest()
        note = db.execute(sa.select(Notification).where(Notification.kind == "evidence_mismatch")).scalar_one()
        assert note.request_id == rid and str(pid) in note.message
        with pytest.raises(evidence.Conflict):
            evidence.open_content(db, actor=rs.people["p247"], vault=vaults["RS"], evidence_id=ev.id, now=now())
    deliver(rs, Wire(me, now, vault=vaults["ME"]))
    with me.sessions() as db:
        pkg = db.get(EvidencePackage, pid)
        assert pkg.status == "mismatch" and pkg.problems
        receipt = db.execute(sa.select(Receipt).where(Receipt.msg_id == str(pid))).scalar_one()
        assert receipt.positive is False and receipt.token
        assert db.execute(sa.select(Notification).where(Notification.kind == "evidence_mismatch")).scalar_one()


def test_a_chunk_altered_in_transit_or_with_a_wrong_mac_is_refused(federated):
    rs, me, vaults = federated
    _, pid, _ = setup_package(rs, me, vaults, {"log.txt": os.urandom(1000)})
    to_rs = Wire(rs, now, vault=vaults["RS"], tamper=True)
    deliver(me, to_rs)
    r = packages.transfer_once(me.sessions, me.identity, vaults["ME"], now(), client_for=to_rs.client_for)
    assert (r.chunks, r.retrying) == (0, 1)
    with me.sessions() as db:
        assert "failed verification" in db.get(EvidencePackage, pid).last_error
    with rs.sessions() as db:
        assert db.execute(sa.select(EvidenceFile.chunks_received).where(EvidenceFile.package_id == pid)).scalar_one() == 0
        with pytest.raises(packages.PackageRejected) as e:
            packages.progress(db, package_id=pid, given_mac="0" * 64)
        assert e.value.status == 403
        with pytest.raises(packages.PackageRejected) as e:
            packages.progress(db, package_id=uuid.uuid4(), given_mac="0" * 64)
        assert e.value.status == 404
    to_rs.tamper = False  # the transit heals: the chunk goes through on the next attempt
    later = now() + dt.timedelta(minutes=5)
    assert packages.transfer_once(me.sessions, me.identity, vaults["ME"], later, client_for=to_rs.client_for).sent == 1
    assert packages.verify_received(rs.sessions, rs.identity, vaults["RS"], later, spool=rs.spool) == 1


def test_a_manifest_not_signed_by_the_sending_node_is_refused(federated):
    rs, me, vaults = federated
    send_request(rs)
    deliver(rs, Wire(me, now, vault=vaults["ME"]))
    (got,) = incoming(me)
    executing(rs, me, vaults, got.id)
    eid = produce(me, vaults["ME"], got.id, b"data", "a.txt")
    with me.sessions() as db:
        # Only a real manifest is wanted, not its package: the command is rolled back (it joins the
        # transaction opened here, which the Undo ends).
        with contextlib.suppress(Undo), transaction(db):
            pkg = packages.create(db, actor=me.people["p247"], vault=vaults["ME"], node=me.identity,
                                  request_id=got.id, evidence_ids=[eid], now=now())
            # A forger's key signs a changed manifest (another hash): RS must refuse it.
            forged = dict(pkg.manifest)
            forged["files"] = [{**pkg.manifest["files"][0], "sha256": "ab" * 32}]
            raise Undo
        rogue = keys.generate("ME", "https://rogue.example")
        from joserfc import jws

        bad_sig = jws.serialize_compact({"alg": "Ed25519", "kid": rogue.signing_jwk["kid"]}, canonical_json(forged),
                                        rogue.signing_okp(), algorithms=["Ed25519"])
        # Sent through the real channel (the envelope itself is authentic): RS refuses it with a signed error.
        exchange.enqueue(db, node=me.identity, recipient="RS", type="evidence_manifest", now=now(),
                         conversation_id=got.conversation_id,
                         payload={"manifest": forged, "signature": bad_sig, "transfer_key": "A" * 43 + "="})
        db.commit()
    report = deliver(me, Wire(rs, now, vault=vaults["RS"]))
    assert report.dead == 1
    with me.sessions() as db:
        last_error = db.execute(sa.select(OutboxMessage.last_error).where(
            OutboxMessage.type == "evidence_manifest")).scalar_one()
        assert "422" in last_error
    with rs.sessions() as db:
        assert db.execute(sa.select(sa.func.count()).select_from(EvidencePackage)).scalar_one() == 0
        assert db.execute(sa.select(sa.func.count()).select_from(InboxMessage).where(
            InboxMessage.type == "evidence_manifest")).scalar_one() == 0  # the step messages before it were kept
        refused = db.execute(sa.select(AuditEntry).where(AuditEntry.action == "federation.reject")).scalar_one()
        assert "not signed by ME" in refused.details["detail"]


def test_only_sealed_files_of_a_received_request_are_packaged(federated):
    rs, me, vaults = federated
    rid = send_request(rs)
    deliver(rs, Wire(me, now, vault=vaults["ME"]))
    (got,) = incoming(me)
    executing(rs, me, vaults, got.id)
    with me.sessions() as db:
        ev = evidence.start_upload(db, actor=me.people["p247"], vault=vaults["ME"], request_id=got.id, name="x",
                                   media_type="text/plain", size=3, sha256=hashlib.sha256(b"abc").hexdigest(),
                                   now=now())
        db.commit()
        with pytest.raises(evidence.Conflict, match="only sealed files"):
            packages.create(db, actor=me.people["p247"], vault=vaults["ME"], node=me.identity, request_id=got.id,
                            evidence_ids=[ev.id], now=now())
        with pytest.raises(evidence.Invalid, match="not a file of this request"):
            packages.create(db, actor=me.people["p247"], vault=vaults["ME"], node=me.identity, request_id=got.id,
                            evidence_ids=[uuid.uuid4()], now=now())
    # The requesting node has no incoming request to answer.
    with rs.sessions() as db, pytest.raises(evidence.Conflict, match="answer a request received"):
        packages.create(db, actor=rs.people["p247"], vault=vaults["RS"], node=rs.identity, request_id=rid,
                        evidence_ids=[uuid.uuid4()], now=now())


def test_a_package_is_never_settled_before_it_was_created(federated):
    """The demo's bug: the manifest was registered by the receiving node's API clock and settled by a pass
    reading an earlier one. Whichever clock settles, settled_at is never before created_at, on both sides."""
    rs, me, vaults = federated
    _, pid, _ = setup_package(rs, me, vaults, {"subscriber.csv": b"msisdn,name\n38160000,Jane Roe\n"})
    arrival = now() + dt.timedelta(minutes=10)
    to_rs = Wire(rs, lambda: arrival, vault=vaults["RS"])
    assert deliver(me, to_rs).delivered == 1
    assert packages.transfer_once(me.sessions, me.identity, vaults["ME"], now(), client_for=to_rs.client_for).sent == 1
    assert packages.verify_received(rs.sessions, rs.identity, vaults["RS"], now(), spool=rs.spool) == 1  # 10 min early
    with rs.sessions() as db:
        pkg = db.get(EvidencePackage, pid)
        assert pkg.status == "received" and pkg.created_at == arrival and pkg.settled_at == pkg.created_at
    with me.sessions() as db:
        created_at = db.get(EvidencePackage, pid).created_at
    assert deliver(rs, Wire(me, lambda: created_at - dt.timedelta(seconds=1), vault=vaults["ME"])).delivered == 1
    with me.sessions() as db:
        pkg = db.get(EvidencePackage, pid)
        assert pkg.status == "received" and pkg.settled_at >= pkg.created_at


# --------------------------------------------------------------------------- in which states data may go
def attempt(me: Node, vaults, request_id: uuid.UUID, eid: uuid.UUID) -> str | None:
    """Try to package `eid` for the request at ME now: None if it would go (rolled back), else why not.
    Beside it, what the evidence page is told: the files it may offer, and the reason it may show."""
    with me.sessions() as db:
        req = db.get(Request, request_id)
        offered = packages.sendable(db, actor=me.people["p247"], req=req, node=me.identity, lifecycle=me.law.lifecycle)
        held = packages.withheld(db, actor=me.people["p247"], req=req, node=me.identity, lifecycle=me.law.lifecycle)
        try:
            with contextlib.suppress(Undo), transaction(db):
                packages.create(db, actor=me.people["p247"], vault=vaults["ME"], node=me.identity,
                                request_id=request_id, evidence_ids=[eid], now=now(), lifecycle=me.law.lifecycle)
                raise Undo
        except packages.DataWithheld as e:
            assert offered == [] and held is not None and str(held) == str(e) and e.state == req.status
            assert db.execute(sa.select(EvidencePackage).where(EvidencePackage.request_id == request_id)).all() == []
            return str(e)
        assert [ev.id for ev in offered] == [eid] and held is None
        return None


def received_at_me(rs: Node, me: Node, vaults, kind: str) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """RS sends a request of `kind`; ME seals a file for it. (RS id, ME id, the file)."""
    rid = send_request(rs, kind)
    deliver(rs, Wire(me, now, vault=vaults["ME"]))
    (got,) = incoming(me)
    return rid, got.id, produce(me, vaults["ME"], got.id, b"traffic data\n", "traffic.csv")


def test_a_preservation_discloses_traffic_data_only_in_the_course_of_its_execution(federated):
    """ETS185 Art 30(1): while executing the preservation (in execution, preserved, renewed); not when
    only received or acknowledged, nor once released."""
    rs, me, vaults = federated
    _, gid, eid = received_at_me(rs, me, vaults, "preservation")
    why = attempt(me, vaults, gid, eid)
    assert why == ("no data is sent to RS while the request is 'Received': the preservation is not being executed: "
                   "traffic data are disclosed only in the course of its execution (ETS185 Art 30(1))")
    act(me, gid, "acknowledge")
    assert "'Acknowledged'" in attempt(me, vaults, gid, eid)
    act(me, gid, "start_execution")
    assert attempt(me, vaults, gid, eid) is None
    act(me, gid, "preserve")
    assert attempt(me, vaults, gid, eid) is None
    act(me, gid, "release", reasons="The follow-up request was decided")
    assert attempt(me, vaults, gid, eid) == ("no data is sent to RS while the request is 'Released': the "
                                             "preservation has ended (ETS185 Art 30(1))")


def test_mutual_assistance_data_wait_for_the_conditions_to_be_accepted(federated):
    """ETS185 Art 28(3): conditions bind once accepted; a refusal means no execution (27(4))."""
    rs, me, vaults = federated
    rid, gid, eid = received_at_me(rs, me, vaults, "mutual_assistance")
    assert "it has only been received: whether it is executed is decided first (ETS185 Art 25(4))" in \
        attempt(me, vaults, gid, eid)
    act(me, gid, "acknowledge", who="ca")
    assert attempt(me, vaults, gid, eid) is None  # ETS185 Art 31(2)
    act(me, gid, "propose_conditions", who="ca",
        conditions=[{"kind": "use_limitation", "text": "Only for the proceedings named in the request"}])
    assert attempt(me, vaults, gid, eid) == (
        "no data is sent to RS while the request is 'Conditions proposed': conditions proposed are not accepted "
        "yet: they bind once accepted (ETS185 Art 28(3))")
    assert deliver(me, Wire(rs, now, vault=vaults["RS"])).delivered == 2
    act(rs, rid, "accept_conditions", who="ca")
    assert deliver(rs, Wire(me, now, vault=vaults["ME"])).delivered == 1
    assert attempt(me, vaults, gid, eid) is None  # accepted: binding, and the data may go
    act(me, gid, "start_execution", "execute", "transmit_data", who="ca")
    assert attempt(me, vaults, gid, eid) is None  # more of it, or again after a mismatch
    act(me, gid, "close", who="ca")
    assert attempt(me, vaults, gid, eid) == "no data is sent to RS while the request is 'Closed': it is closed"


def test_in_an_emergency_the_data_go_on_receipt_but_wait_for_conditions_proposed(federated):
    """CETS224 Art 9(1)(a): on receipt; conditions set under 9(6) bind once accepted (9(7)(a))."""
    rs, me, vaults = federated
    _, gid, eid = received_at_me(rs, me, vaults, "emergency_disclosure")
    assert attempt(me, vaults, gid, eid) is None
    act(me, gid, "acknowledge")
    act(me, gid, "propose_conditions", conditions=[{"kind": "confidentiality", "text": "Keep it confidential"}])
    assert attempt(me, vaults, gid, eid) == (
        "no data is sent to RS while the request is 'Conditions proposed': conditions proposed are not accepted "
        "yet: they bind once accepted (CETS224 Art 9(7)(a))")


def test_an_order_given_effect_is_answered_once_acknowledged_and_never_once_refused(federated):
    """CETS224 Art 8: decided first (8(8)), then transmitted (8(6)(b)); refused, nothing goes (8(8))."""
    rs, me, vaults = federated
    _, gid, eid = received_at_me(rs, me, vaults, "give_effect_order")
    assert "decided first (CETS224 Art 8(8))" in attempt(me, vaults, gid, eid)
    act(me, gid, "acknowledge", who="ca")
    assert attempt(me, vaults, gid, eid) is None
    act(me, gid, "refuse", who="ca", reasons="Essential interests", grounds=["ETS185 Art 27(4)(b)"])
    assert attempt(me, vaults, gid, eid) == ("no data is sent to RS while the request is 'Refused': it was refused: "
                                             "a refused request is not executed (CETS224 Art 8(8))")
