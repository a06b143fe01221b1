"""Federation services: the trust list in the database, the transactional outbox, receiving
(idempotent on the message id), signed receipts, and the delivery worker's single pass."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import random
import ssl
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from joserfc.registry import HeaderParameter
from sqlalchemy.orm import Session, sessionmaker

from evidex.audit import service as audit
from evidex.cases import service as cases
from evidex.cases.models import Case
from evidex.core.canonical import NotCanonical, canonical_json
from evidex.core.db import command, lock_row, transaction
from evidex.core.errors import EvidexError, Forbidden, Invalid, NotFound
from evidex.core.faults import NO_FAULTS, Faults
from evidex.exchange import protocol
from evidex.exchange.envelope import (
    SIGNATURE_ALG,
    EnvelopeRejected,
    InvalidPayload,
    Replay,
    open_envelope,
    seal_parts,
)
from evidex.exchange.framing import MEDIA_TYPE as BATCH_MEDIA_TYPE
from evidex.exchange.framing import pack_batch
from evidex.exchange.keys import NodeIdentity
from evidex.exchange.models import (
    InboxMessage,
    JunkCount,
    OutboxBody,
    OutboxMessage,
    Peer,
    PeerKeyRow,
    Receipt,
    SpoolFile,
)
from evidex.exchange.protocol import Headers, Message
from evidex.exchange.sealed import is_sealed
from evidex.exchange.spool import ORPHAN_AFTER, SPOOL_OVER, Spool
from evidex.exchange.trust import PeerKey, TrustList
from evidex.parties.roles import Principal, Role
from evidex.requests.models import Request

log = logging.getLogger("evidex.exchange")
RECEIPT_REGISTRY = jws.JWSRegistry(
    header_registry={"evx_receipt": HeaderParameter("receipt kind", "str", required=True)}, algorithms=[SIGNATURE_ALG])
BACKOFF_CAP = dt.timedelta(hours=1)
DEAD_AFTER = dt.timedelta(hours=24)


class FederationError(EvidexError):
    """Federation is not configured for this operation (no peer, no keys)."""


# --------------------------------------------------------------------------- trust list
def load_trust(db: Session) -> TrustList:
    rows = db.execute(sa.select(PeerKeyRow)).scalars()
    return TrustList([PeerKey(r.party, r.jwk, r.valid_from, r.valid_until, r.revoked_at) for r in rows])


@command
def add_peer(db: Session, *, document: dict[str, Any], now: dt.datetime, actor: Principal) -> Peer:
    """Import a peer's public node document (its `node.json`); new keys are added, old ones kept
    so that what they signed still verifies (rotation)."""
    try:
        party, url = document["party"], document["url"]
        keys = TrustList.from_public_document(document)
        if not (isinstance(party, str) and len(party) == 2 and party.isupper()) or not str(url).startswith("http"):
            raise ValueError("party or url")
        for k in keys:
            if k.jwk.get("kty") != "OKP" or k.jwk.get("crv") not in ("Ed25519", "X25519") or "d" in k.jwk:
                raise ValueError("keys must be public OKP Ed25519/X25519 keys")
    except (KeyError, TypeError, ValueError) as e:
        raise Invalid(f"not a node document (party, url, valid_from, valid_until, keys): {e}") from e
    peer = db.get(Peer, party)
    if peer is None:
        peer = Peer(party=party, url=url, added_at=now)
        db.add(peer)
    peer.url, peer.tls_certificate, peer.removed_at = url, document.get("tls_certificate"), None
    for k in keys:
        row = db.get(PeerKeyRow, k.kid)
        if row is None:
            db.add(PeerKeyRow(kid=k.kid, party=party, use=k.use, jwk=k.jwk, valid_from=k.valid_from,
                              valid_until=k.valid_until))
        elif row.party != party:
            raise Invalid(f"key {k.kid[:12]}… already belongs to {row.party}")
    audit.record(db, actor=actor, action="peer.add", object_type="peer", object_id=party, at=now,
                 details={"url": url, "kids": [k.kid for k in keys]})
    db.flush()
    return peer


@command
def remove_peer(db: Session, *, party: str, now: dt.datetime, actor: Principal) -> None:
    """Stop trusting a peer: its keys are revoked now (what they signed before stays verifiable)."""
    peer = db.get(Peer, party)
    if peer is None or peer.removed_at is not None:
        raise NotFound(f"no peer {party}")
    peer.removed_at = now
    for row in db.execute(sa.select(PeerKeyRow).where(PeerKeyRow.party == party)).scalars():
        row.revoked_at = row.revoked_at or now
    audit.record(db, actor=actor, action="peer.remove", object_type="peer", object_id=party, at=now)


def active_peer(db: Session, party: str) -> Peer | None:
    peer = db.get(Peer, party)
    return peer if peer is not None and peer.removed_at is None else None


def delivers_to(db: Session, party: str, now: dt.datetime) -> bool:
    """Whether this node delivers to `party`'s node now: a peer in the trust list (not removed) with
    an encryption key valid now, to seal messages for it. Otherwise a request to that Party leaves
    evidex on paper, by the means its route allows (lifecycle: send_outside)."""
    if active_peer(db, party) is None:
        return False
    keys = db.execute(sa.select(PeerKeyRow.valid_from, PeerKeyRow.valid_until).where(
        PeerKeyRow.party == party, PeerKeyRow.use == "enc", PeerKeyRow.revoked_at.is_(None))).all()
    return any(frm <= now < until for frm, until in keys)


# --------------------------------------------------------------------------- receipts
def sign_receipt(node: NodeIdentity, *, kind: str, msg_id: str, conversation_id: str, payload_sha256: str,
                 at: dt.datetime) -> str:
    return sign_claims(node, kind, {"receipt": kind, "msg_id": msg_id, "conversation_id": conversation_id,
                                     "payload_sha256": payload_sha256, "by": node.party,
                                     "at": at.astimezone(dt.UTC).isoformat()})


def sign_claims(node: NodeIdentity, kind: str, claims: dict[str, Any]) -> str:
    """A JWS (Ed25519) by this node over JSON claims: receipts and error replies alike."""
    return jws.serialize_compact({"alg": SIGNATURE_ALG, "kid": node.signing_jwk["kid"], "evx_receipt": kind},
                                 canonical_json(claims), node.signing_okp(),
                                 registry=RECEIPT_REGISTRY)


def verify_receipt(token: str, *, trust: TrustList, party: str, at: dt.datetime) -> dict[str, Any]:
    try:
        header = jws.extract_compact(token.encode("ascii"), registry=RECEIPT_REGISTRY).headers()
        key: OKPKey = trust.signing_key(party, str(header.get("kid")), at)
        claims: dict[str, Any] = json.loads(jws.deserialize_compact(token, key, registry=RECEIPT_REGISTRY).payload)
    except (JoseError, ValueError, UnicodeEncodeError) as e:
        raise EnvelopeRejected(f"the receipt from {party} does not verify") from e
    if claims.get("by") != party:
        raise EnvelopeRejected(f"the receipt is not from {party}")
    return claims


def receipts_of_request(db: Session, *, actor: Principal, request_id: uuid.UUID) -> list[Receipt]:
    """The signed receipts of a request's messages (submission, delivery, retrieval, or negative),
    seen with the request's own visibility: another Party's request is not found."""
    req = cases.get_request(db, actor=actor, request_id=request_id, audit_read=False)
    if req.conversation_id is None:  # never sent nor received: no message, no receipt
        return []
    return list(db.execute(sa.select(Receipt).where(Receipt.conversation_id == req.conversation_id)
                           .order_by(Receipt.at, Receipt.kind)).scalars())


# --------------------------------------------------------------------------- outbox
def enqueue(db: Session, *, node: NodeIdentity, recipient: str, type: str, conversation_id: str,
            payload: dict[str, Any], now: dt.datetime, in_reply_to: str | None = None,
            issuing_authority: str | None = None) -> OutboxMessage:
    """Write a message in the caller's transaction (transactional outbox), with its signed
    submission-acceptance receipt: the sending node took it. The payload must fit its type's model
    (protocol.py): this node never sends what it would refuse. Senders build the model: send()."""
    if active_peer(db, recipient) is None:
        raise FederationError(f"{recipient} is not in this node's trust list (`evidex peers add`)")
    headers = Headers.new(sender=node.party, recipient=recipient, type=type, conversation_id=conversation_id,
                          now=now, in_reply_to=in_reply_to, issuing_authority=issuing_authority)
    try:
        body = canonical_json(payload)  # encoded once (RFC 8785): the worker sends these bytes as they are
        protocol.read(type, body)
    except NotCanonical as e:
        raise Invalid(f"the {type} message cannot be sent: {e}") from e
    except protocol.InvalidMessage as e:
        raise FederationError(f"not sent: {e}") from e
    sha = hashlib.sha256(body).hexdigest()
    msg = OutboxMessage(msg_id=headers.msg_id, conversation_id=conversation_id, recipient=recipient, type=type,
                        headers=headers.model_dump(), payload_sha256=sha, size=len(body), status="pending",
                        attempts=0, next_attempt_at=now, created_at=now)
    db.add(msg)
    db.flush()
    db.add(OutboxBody(outbox_id=msg.id, body=body))
    db.add(Receipt(msg_id=headers.msg_id, conversation_id=conversation_id, kind="submission", issuer=node.party,
                   positive=True, at=now, token=sign_receipt(node, kind="submission", msg_id=headers.msg_id,
                                                             conversation_id=conversation_id, payload_sha256=sha, at=now)))
    db.flush()
    return msg


def send(db: Session, *, node: NodeIdentity, recipient: str, message: Message, conversation_id: str,
         now: dt.datetime, in_reply_to: str | None = None, issuing_authority: str | None = None) -> OutboxMessage:
    """Queue a message built from its model (protocol.py): its type is the model's."""
    return enqueue(db, node=node, recipient=recipient, type=message.TYPE, conversation_id=conversation_id,
                   payload=message.wire(), now=now, in_reply_to=in_reply_to, issuing_authority=issuing_authority)


@dataclass
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    dead: int = 0


def client_for(peer: Peer, tls_files: tuple[str, str] | None = None) -> httpx.Client:
    """A client for a peer: its certificate pinned; with `tls_files`, this node's own certificate is
    presented too (for a peer that requires mutual TLS: `evidex serve --tls --mtls`)."""
    if peer.url.startswith("https://") and peer.tls_certificate:
        ctx = ssl.create_default_context(cadata=peer.tls_certificate)  # pinned: only the peer's own certificate
        ctx.check_hostname = False  # the certificate is pinned, names add nothing
        if tls_files is not None:
            ctx.load_cert_chain(*tls_files)
        return httpx.Client(verify=ctx, timeout=30)
    return httpx.Client(timeout=30)


def node_client_for(node: NodeIdentity) -> Callable[[Peer], httpx.Client]:
    files = node.tls_files()
    return lambda peer: client_for(peer, files)


def deliver_once(make_session: sessionmaker[Session], node: NodeIdentity, now: dt.datetime,
                 client_for: Callable[[Peer], httpx.Client] | None = None, limit: int = 500,
                 dead_after: dt.timedelta = DEAD_AFTER,
                 clock: Callable[[], dt.datetime] | None = None, faults: Faults = NO_FAULTS) -> DeliveryReport:
    """One pass of the delivery worker: oldest first, one conversation in order. `now` decides what
    is due; `clock` (default: `now`) stamps deliveries and receipts."""
    report = DeliveryReport()
    client_for = client_for or node_client_for(node)
    with make_session() as db:
        ids = list(db.execute(sa.select(OutboxMessage.id).where(
            OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id).limit(limit)).scalars())
    blocked: set[str] = set()
    clients: dict[str, httpx.Client] = {}  # one connection per peer for the whole pass (no TLS handshake per message)

    def client(peer: Peer) -> httpx.Client:
        with _REPORT_LOCK:
            if peer.party not in clients:
                clients[peer.party] = client_for(peer)
            return clients[peer.party]

    with make_session() as db:
        trust = load_trust(db)  # once per pass, not per message
    try:
        _deliver_ids(make_session, node, now, ids, blocked, client, dead_after, report, trust, clock or (lambda: now),
                     faults)
    finally:
        for c in clients.values():
            c.close()
    return report


BATCH_MESSAGES = 200  # envelopes per POST to one peer
BATCH_BYTES = 16 * 1024 * 1024  # payload bytes per POST (the receiver's limit is MAX_ENVELOPE_BYTES)
BATCHES_IN_FLIGHT = 2


def _deliver_ids(make_session: sessionmaker[Session], node: NodeIdentity, now: dt.datetime, ids: list[int],
                 blocked: set[str], client: Callable[[Peer], httpx.Client], dead_after: dt.timedelta,
                 report: DeliveryReport, trust: TrustList, clock: Callable[[], dt.datetime], faults: Faults) -> None:
    """Due messages go out in batches per recipient (one POST, one transaction each side), oldest
    first; a message never overtakes an undelivered earlier one of its conversation."""
    with make_session() as db:
        rows = db.execute(sa.select(OutboxMessage.id, OutboxMessage.recipient, OutboxMessage.size)
                          .where(OutboxMessage.id.in_(ids))).all() if ids else []
    # Batches per recipient of at most BATCH_MESSAGES messages and BATCH_BYTES bytes (the first
    # message of a batch may be larger): one POST each.
    batches: list[list[int]] = []
    current: dict[str, list[int]] = {}
    filled: dict[str, int] = {}
    for mid, recipient, size in sorted(rows):
        group = current.setdefault(recipient, [])
        if group and (len(group) >= BATCH_MESSAGES or filled[recipient] + size > BATCH_BYTES):
            batches.append(group)
            group = current[recipient] = []
        if not group:
            filled[recipient] = 0
        group.append(mid)
        filled[recipient] += size
    batches += [group for group in current.values() if group]
    batches.sort(key=lambda b: b[0])
    if len(batches) == 1:
        _deliver_batch(make_session, node, now, batches[0], blocked, client, dead_after, report, trust, clock, faults)
        return
    # Two batches in flight: this node seals the next while the peer stores the previous. A message
    # whose earlier sibling is still in flight waits for the next pass (order is never broken).
    with ThreadPoolExecutor(max_workers=BATCHES_IN_FLIGHT, thread_name_prefix="evidex-delivery") as pool:
        for future in [pool.submit(_deliver_batch, make_session, node, now, batch, blocked, client, dead_after,
                                   report, trust, clock, faults) for batch in batches]:
            future.result()


def _deliver_batch(make_session: sessionmaker[Session], node: NodeIdentity, now: dt.datetime, ids: list[int],
                   blocked: set[str], client: Callable[[Peer], httpx.Client], dead_after: dt.timedelta,
                   report: DeliveryReport, trust: TrustList, clock: Callable[[], dt.datetime], faults: Faults) -> None:
    with make_session() as db:
        msgs = list(db.execute(sa.select(OutboxMessage).where(OutboxMessage.id.in_(ids))
                               .order_by(OutboxMessage.id).with_for_update()).scalars())
        earlier: dict[str, list[int]] = {}
        for pid, conv in db.execute(sa.select(OutboxMessage.id, OutboxMessage.conversation_id).where(
                OutboxMessage.conversation_id.in_({m.conversation_id for m in msgs}),
                OutboxMessage.status == "pending")):
            earlier.setdefault(conv, []).append(pid)
        due: list[OutboxMessage] = []
        taken: set[int] = set()
        for m in msgs:
            if m.status != "pending" or m.conversation_id in blocked:
                continue
            if any(pid < m.id and pid not in taken for pid in earlier.get(m.conversation_id, [])):
                blocked.add(m.conversation_id)  # per-request ordering: an earlier message is not delivered yet
                continue
            taken.add(m.id)
            due.append(m)
        bodies = dict(db.execute(sa.select(OutboxBody.outbox_id, OutboxBody.body).where(
            OutboxBody.outbox_id.in_([m.id for m in due]))).all()) if due else {}
        eligible = [(m, bodies[m.id]) for m in due]
        while eligible:  # one POST per BATCH_BYTES; a conversation that fails stops its later messages
            chosen: list[tuple[OutboxMessage, bytes]] = []
            size = 0
            while eligible and (not chosen or size + len(eligible[0][1]) <= BATCH_BYTES):
                size += len(eligible[0][1])
                chosen.append(eligible.pop(0))
            chosen = [(m, b) for m, b in chosen if m.conversation_id not in blocked]
            if not chosen:
                continue
            peer = active_peer(db, chosen[0][0].recipient)
            outcomes = _attempt_batch(db, chosen, peer, trust, node, now, client, clock, faults)
            with _REPORT_LOCK:
                _tally(db, node, now, dead_after, report, blocked, [m for m, _ in chosen], outcomes)
        db.commit()


_REPORT_LOCK = threading.Lock()


def _tally(db: Session, node: NodeIdentity, now: dt.datetime, dead_after: dt.timedelta, report: DeliveryReport,
           blocked: set[str], chosen: list[OutboxMessage], outcomes: list[str]) -> None:
    for msg, outcome in zip(chosen, outcomes, strict=True):
        if outcome == "delivered":
            report.delivered += 1
        elif outcome == "dead" or now - msg.created_at > dead_after:
            if msg.status != "dead":
                msg.status = "dead"
                msg.last_error = (msg.last_error or "") + f"; dead after {msg.attempts} attempt(s)"
                alert(db, node.party, msg.conversation_id, "dead_letter", now,
                      f"A {msg.type} message to {msg.recipient} could not be delivered and was set aside "
                      f"(dead letter) after {msg.attempts} attempt(s): {msg.last_error[:300]}")
            report.dead += 1
            blocked.add(msg.conversation_id)
        else:
            report.retried += 1
            blocked.add(msg.conversation_id)


def _attempt_batch(db: Session, batch: list[tuple[OutboxMessage, bytes]], peer: Peer | None, trust: TrustList,
                   node: NodeIdentity, now: dt.datetime, client_for: Callable[[Peer], httpx.Client],
                   clock: Callable[[], dt.datetime], faults: Faults) -> list[str]:
    """Seal each message afresh, POST them together, and read one signed answer per message."""
    msgs = [m for m, _ in batch]
    for msg in msgs:
        msg.attempts += 1
    if peer is None:
        for msg in msgs:
            msg.last_error = f"{msg.recipient} is no longer a peer"
        return ["dead"] * len(msgs)
    items: list[tuple[bytes, bytes | None]] = []
    try:
        recipient_key = trust.encryption_jwk(msgs[0].recipient, now)
        for msg, canonical in batch:
            headers = Headers(**{**msg.headers, "issued_at": now.astimezone(dt.UTC).isoformat()})  # sealed afresh
            envelope, attachment = seal_parts(headers=headers, sender=node, recipient_encryption_jwk=recipient_key,
                                              payload_sha256=msg.payload_sha256, body=canonical)
            items.append((envelope.encode("ascii"), attachment))
        # Binary framing: attachments travel as bytes, not base64 inside JSON (framing.py).
        r = client_for(peer).post(peer.url.rstrip("/") + "/federation/v1/batch", content=pack_batch(items),
                                  headers={"Content-Type": BATCH_MEDIA_TYPE})
    except (httpx.HTTPError, EnvelopeRejected, OSError) as e:
        return [_retry(msg, now, f"{type(e).__name__}: {e}") for msg in msgs]
    if r.status_code != 200:  # the whole batch was refused or failed: each message takes that answer
        return [_outcome(db, msg, r.status_code, r.text, trust, now, now) for msg in msgs]
    try:
        results = r.json()["results"]
        if len(results) != len(msgs):
            raise ValueError("one answer per message")
    except (ValueError, KeyError, TypeError) as e:
        return [_retry(msg, now, f"unreadable answer from {msgs[0].recipient}: {e}") for msg in msgs]
    faults.outbox_after_reply()  # tests: die after delivery, before recording it
    stamp = clock()
    return [_outcome(db, msg, int(res.get("status", 0)), str(res.get("body", "")), trust, now, stamp)
            for msg, res in zip(msgs, results, strict=True)]


def _outcome(db: Session, msg: OutboxMessage, status: int, body: str, trust: TrustList, now: dt.datetime,
             stamp: dt.datetime) -> str:
    if status == 200:
        try:
            claims = verify_receipt(body, trust=trust, party=msg.recipient, at=now)
        except EnvelopeRejected as e:
            return _retry(msg, now, str(e))
        if claims.get("msg_id") != msg.msg_id or claims.get("payload_sha256") != msg.payload_sha256:
            return _retry(msg, now, "the delivery receipt is for another message")
        db.add(Receipt(msg_id=msg.msg_id, conversation_id=msg.conversation_id, kind="delivery",
                       issuer=msg.recipient, positive=True, token=body, at=stamp))
        msg.status, msg.delivered_at, msg.last_error = "delivered", stamp, None
        return "delivered"
    if 400 <= status < 500 and status not in (408, 429):
        msg.last_error = f"rejected by {msg.recipient}: HTTP {status} {body[:300]}"
        return "dead"  # a rejection does not heal by retrying
    return _retry(msg, now, f"HTTP {status}")


def backoff(attempts: int) -> dt.timedelta:
    """Exponential backoff with jitter: 1 s, 2 s, 4 s … capped at an hour (messages and packages alike)."""
    return dt.timedelta(seconds=min(BACKOFF_CAP.total_seconds(), 2 ** (attempts - 1)) * random.uniform(0.5, 1.5))


def _retry(msg: OutboxMessage, now: dt.datetime, error: str) -> str:
    msg.next_attempt_at, msg.last_error = now + backoff(msg.attempts), error[:1000]
    return "retry"


# --------------------------------------------------------------------------- receiving
Applier = Callable[[Session, Headers, Message, dt.datetime], None]  # a received message, validated


def receive(db: Session, *, node: NodeIdentity, envelope: bytes, now: dt.datetime, apply: Applier,
            spool: Spool | None = None, faults: Faults = NO_FAULTS, source: str = "unknown") -> tuple[int, str]:
    """Open, store durably and apply one message; answer with a signed delivery receipt.
    The same message again gets the same receipt and changes nothing."""
    return receive_batch(db, node=node, envelopes=[envelope], now=now, apply=apply, spool=spool, faults=faults,
                         source=source)[0]


class _NotApplicable(Exception):
    def __init__(self, index: int, error: FederationError) -> None:
        self.index, self.error = index, error


MAX_BATCH = 1000
Opened = tuple[Headers, Message, str, bytes]  # headers, payload (validated), its SHA-256, its bytes as stored


class StoreUnavailable(EvidexError):
    """The messages could not be stored (the spool folder cannot be written): nothing was kept, and
    the sender should try again later."""


class SpoolQuotaExceeded(StoreUnavailable):
    """The sender's payloads would occupy more of the spool than its quota: nothing was kept; it
    tries again later (an operator raises EVIDEX_SPOOL_PEER_QUOTA_BYTES, or orphans are swept)."""


def receive_batch(db: Session, *, node: NodeIdentity, envelopes: list[bytes], now: dt.datetime,
                  apply: Applier, attachments: dict[int, bytes | memoryview] | None = None,
                  spool: Spool | None = None, faults: Faults = NO_FAULTS,
                  source: str = "unknown") -> list[tuple[int, str]]:
    """Receive several messages in one transaction (one commit), answering each with its signed
    receipt or signed error (an envelope that is not authenticated — does not decrypt, or its
    signature does not verify — gets an unsigned refusal, and is only counted per `source` address
    and minute: junk must not cost a signature and an audit entry each). A message that is authentic but cannot be applied here is refused on
    its own: the batch is rolled back and replayed without it, so nothing of it remains. With a
    `spool`, payloads over SPOOL_OVER bytes are stored in its files, written durably before the
    commit (StoreUnavailable if they cannot be)."""
    trust = load_trust(db)
    opened: list[Opened | EnvelopeRejected] = []
    digests: dict[str, str] = {}
    bodies: dict[str, bytes] = {}
    for index, envelope in enumerate(envelopes):  # cryptography first, no database work
        try:
            headers, _ = open_envelope(envelope, me=node, trust=trust, now=now, seen=lambda m: False,
                                             attachment=(attachments or {}).get(index), digests=digests,
                                             bodies=bodies)
            # The payload's bytes as the sender signed them (inside the envelope, or its attachment),
            # stored as they came; the SHA-256 of an attachment is the one the sender signed.
            body = bodies.pop(headers.msg_id)
            sha = digests.pop(headers.msg_id, None) or hashlib.sha256(body).hexdigest()
            try:  # the sender is authenticated: a payload that does not fit its type gets a signed refusal
                message = protocol.read(headers.type, body)
            except protocol.InvalidMessage as e:
                raise InvalidPayload(str(e), headers.msg_id, authenticated=True) from e
            opened.append((headers, message, sha, body))
        except EnvelopeRejected as e:
            opened.append(e)
    large = [o for o in opened if not isinstance(o, EnvelopeRejected) and len(o[3]) > SPOOL_OVER] if spool else []
    with contextlib.ExitStack() as held:
        if spool is not None and large:  # a batch with nothing for the spool takes no lock, makes no folder
            try:
                held.enter_context(spool.writing())
            except OSError as e:
                raise _unavailable(db, spool, e) from e
        results = _store(db, node, opened, now, apply, spool, large, faults, source)
    faults.receive_after_store()  # tests: stored durably, dies before replying
    return results


def _store(db: Session, node: NodeIdentity, opened: list[Opened | EnvelopeRejected], now: dt.datetime,
           apply: Applier, spool: Spool | None, large: list[Opened], faults: Faults,
           source: str) -> list[tuple[int, str]]:
    if spool is not None and large:
        # Large payloads go to disk before the transaction writes anything: on SQLite, the write lock
        # is then held for the rows alone, not while 16 MiB are flushed, and another batch's files
        # are written meanwhile. Every row stored below for a large payload names one of these files
        # (a message stored meanwhile is answered from the inbox instead); one refused below leaves
        # an orphan file (swept).
        stored = set(db.execute(sa.select(InboxMessage.msg_id).where(
            InboxMessage.msg_id.in_([headers.msg_id for headers, _, _, _ in large]))).scalars())
        new = [(headers, spool.name(headers.msg_id, sha), body) for headers, _, sha, body in large
               if headers.msg_id not in stored]
        _reserve(db, spool, [(headers.sender, name, len(body)) for headers, name, body in new], now)
        try:
            spool.write([(name, body) for _, name, body in new])
        except OSError as e:
            raise _unavailable(db, spool, e) from e
        faults.receive_after_spool()  # tests: files written, rows not committed
    refused: dict[int, FederationError] = {}
    while True:
        try:
            # One transaction for the batch: what a message applies (a transition, a registration)
            # joins it; one that cannot be applied rolls it back, and the batch is stored again without it.
            with transaction(db):
                return _store_and_apply(db, node, opened, refused, now, apply, spool, source)
        except _NotApplicable as e:
            refused[e.index] = e.error


def _reserve(db: Session, spool: Spool, files: list[tuple[str, str, int]], now: dt.datetime) -> None:
    """Record each (peer, file name, size) about to be written to the spool, and commit, before a file
    is written: a peer's usage so counts what a crash or a refusal leaves orphaned until the sweep
    removes it. A peer over its quota gets nothing written and nothing kept (SpoolQuotaExceeded: 503,
    the sender retries later). The sender is authenticated (its signature checked) by now."""
    if not files:
        return
    adding: dict[str, int] = {}
    for peer, _, size in files:
        adding[peer] = adding.get(peer, 0) + size
    names = [name for _, name, _ in files]
    for peer in sorted(adding):  # one receiver of a peer at a time counts and records (a lock on its row)
        lock_row(db, Peer.party, peer)
        used = db.execute(sa.select(sa.func.coalesce(sa.func.sum(SpoolFile.bytes), 0)).where(
            SpoolFile.peer == peer, SpoolFile.name.not_in(names))).scalar_one()  # a retry's own files: once
        if used + adding[peer] > spool.peer_quota:
            db.rollback()
            log.warning("spool quota of %s reached: %d bytes held, %d more refused (EVIDEX_SPOOL_PEER_QUOTA_BYTES = %d)",
                        peer, used, adding[peer], spool.peer_quota)
            raise SpoolQuotaExceeded(f"the spool quota of {peer} on this node is reached ({used} bytes held, "
                                     f"{adding[peer]} more sent, quota {spool.peer_quota}); nothing was kept: "
                                     "send again later")
    known = {row.name: row for row in db.execute(sa.select(SpoolFile).where(SpoolFile.name.in_(names))).scalars()}
    for peer, name, size in files:
        if name in known:  # an orphan written again by a retry: counted once, young again
            known[name].peer, known[name].bytes, known[name].written_at = peer, size, now
        else:
            db.add(SpoolFile(name=name, peer=peer, bytes=size, written_at=now))
    db.commit()


def _unavailable(db: Session, spool: Spool, e: OSError) -> StoreUnavailable:
    db.rollback()
    log.error("cannot store received payloads in %s: %s", spool.root, e)
    return StoreUnavailable("the received messages cannot be stored now; nothing was kept")


def _store_and_apply(db: Session, node: NodeIdentity, opened: list[Opened | EnvelopeRejected],
                     refused: dict[int, FederationError], now: dt.datetime, apply: Applier,
                     spool: Spool | None, source: str) -> list[tuple[int, str]]:
    system = Principal.system(node.party)
    junk = 0
    ids = [o[0].msg_id for o in opened if not isinstance(o, EnvelopeRejected)]
    known: dict[str, tuple[str, str, str]] = {}  # msg_id → (payload sha, sender, receipt): stored, or earlier here
    for k in range(0, len(ids), 500):
        for msg_id, sha, sender, receipt in db.execute(sa.select(
                InboxMessage.msg_id, InboxMessage.payload_sha256, InboxMessage.sender, InboxMessage.delivery_receipt)
                .where(InboxMessage.msg_id.in_(ids[k:k + 500]))):
            known[msg_id] = (sha, sender, receipt)
    results: list[tuple[int, str]] = []
    for index, item in enumerate(opened):
        if index in refused:
            results.append(_refusal(db, node, system, refused[index], now))
            continue
        try:
            if isinstance(item, EnvelopeRejected):
                raise item
            headers, message, sha, body = item
            if headers.msg_id in known:
                stored_sha, sender, receipt = known[headers.msg_id]
                if stored_sha == sha and sender == headers.sender:
                    results.append((200, receipt))  # a retry: already stored, answer as before
                    continue
                raise Replay(f"message id {headers.msg_id} was already used for other content", headers.msg_id,
                             authenticated=True)
        except EnvelopeRejected as e:
            status = {"replay": 409, "unknown_key": 403, "expired_key": 403, "revoked_key": 403,
                      "bad_signature": 403}.get(e.reason, 400)
            if not e.authenticated:  # junk: counted, not recorded one by one, answered unsigned
                junk += 1
                results.append((status, f"refused: {e.reason} (not authenticated; this answer is not signed)"))
                continue
            audit.record(db, actor=system, action="federation.reject", object_type="message", object_id=e.msg_id,
                         at=now, details={"reason": e.reason, "detail": str(e)}, flush=False)
            results.append((status, _signed_error(node, e, now)))
            continue
        receipt = sign_receipt(node, kind="delivery", msg_id=headers.msg_id, conversation_id=headers.conversation_id,
                               payload_sha256=sha, at=now)
        body_file = spool.name(headers.msg_id, sha) if spool is not None and len(body) > SPOOL_OVER else None
        db.add(InboxMessage(msg_id=headers.msg_id, sender=headers.sender, type=headers.type,
                            conversation_id=headers.conversation_id, headers=headers.model_dump(),
                            body=None if body_file else spool.seal_row(headers.msg_id, body) if spool else body,
                            body_file=body_file,
                            payload_sha256=sha, received_at=now, delivery_receipt=receipt))
        db.add(Receipt(msg_id=headers.msg_id, conversation_id=headers.conversation_id, kind="delivery",
                       issuer=node.party, positive=True, token=receipt, at=now))
        known[headers.msg_id] = (sha, headers.sender, receipt)
        try:
            apply(db, headers, message, now)
        except FederationError as e:  # authentic, but nothing here it can apply to: refused on its own
            e.msg_id = headers.msg_id  # type: ignore[attr-defined]
            raise _NotApplicable(index, e) from e
        audit.record(db, actor=system, action=f"federation.receive.{headers.type}", object_type="message",
                     object_id=headers.msg_id, at=now, flush=False,
                     details={"from": headers.sender, "conversation": headers.conversation_id})
        results.append((200, receipt))
    if junk:
        count_junk(db, address=source, now=now, n=junk)
    return results


def count_junk(db: Session, *, address: str, now: dt.datetime, n: int) -> None:
    """Add `n` unauthenticated envelopes to the count of `address` for the current minute: one
    atomic upsert (INSERT … ON CONFLICT DO UPDATE), whatever the number of envelopes or writers."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    minute = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
    stmt = insert(JunkCount).values(address=address[:64], minute=minute, count=n, summarised=0)
    db.execute(stmt.on_conflict_do_update(index_elements=[JunkCount.address, JunkCount.minute],
                                          set_={"count": JunkCount.count + stmt.excluded.count}))


def summarise_junk(db: Session, *, now: dt.datetime, party: str, limit: int = 1000) -> int:
    """One audit entry per sender address and minute that is over, with the number of unauthenticated
    envelopes refused from it (the worker; the caller commits). Returns how many entries were written."""
    minute = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
    rows = db.execute(sa.select(JunkCount).where(JunkCount.minute < minute, JunkCount.count > JunkCount.summarised)
                      .order_by(JunkCount.minute, JunkCount.address).limit(limit).with_for_update()).scalars().all()
    system = Principal.system(party)
    for row in rows:
        audit.record(db, actor=system, action="federation.junk", object_type="address", object_id=row.address,
                     at=now, flush=False, details={"minute": row.minute.isoformat(), "count": row.count - row.summarised,
                                                   "refused": "envelopes not decrypted or not verified; "
                                                              "answered unsigned"})
        row.summarised = row.count
    db.flush()
    return len(rows)


def _refusal(db: Session, node: NodeIdentity, system: Principal, error: FederationError,
             now: dt.datetime) -> tuple[int, str]:
    msg_id = getattr(error, "msg_id", None)
    refused = EnvelopeRejected(str(error), msg_id)
    refused.reason = "not_applicable"
    audit.record(db, actor=system, action="federation.reject", object_type="message", object_id=msg_id, at=now,
                 details={"reason": refused.reason, "detail": str(error)})
    return 422, _signed_error(node, refused, now)


def _signed_error(node: NodeIdentity, e: EnvelopeRejected, now: dt.datetime) -> str:
    return sign_claims(node, "error", {"error": e.reason, "detail": str(e), "msg_id": e.msg_id, "by": node.party,
                                        "at": now.astimezone(dt.UTC).isoformat()})


ERASED = "erased"


def inbox_body(row: InboxMessage, spool: Spool | None) -> bytes | bytearray:
    """The stored payload bytes of a received message: in its row, or in the spool file it names."""
    if row.body_file is None:  # sealed with the spool's key (exchange/sealed.py), or plaintext from before
        if spool is None and is_sealed(row.body or b""):
            raise FederationError(f"the payload of message {row.msg_id} is encrypted, and no spool key is configured")
        return spool.open_row(row.msg_id, row.body or b"") if spool is not None else row.body or b""
    if spool is None:
        raise FederationError(f"the payload of message {row.msg_id} is in the spool folder, and none is configured")
    return spool.read(row.body_file)


def inbox_payload(row: InboxMessage, spool: Spool | None) -> dict[str, Any]:
    return json.loads(inbox_body(row, spool))  # type: ignore[no-any-return]


def erase_from_payload(db: Session, *, msg_id: str, field: str, reason: str, spool: Spool | None = None) -> bool:
    """Erase one top-level field (a key that has served its purpose) from the stored payload of a
    message sent or received here. The SHA-256 in its receipts stays that of what crossed: the
    receipts still prove what was sent and received; the secret is no longer kept. True if erased.
    A payload in a spool file is rewritten in place at once (the secret is not needed again even if
    this transaction does not commit: the package keeps its own key until it settles)."""
    changed = False
    stored = db.execute(sa.select(InboxMessage).where(InboxMessage.msg_id == msg_id)).scalar_one_or_none()
    # A spool file is read and rewritten under the spool's shared lock: `evidex evidence rewrap` sealing
    # an old plaintext file (exclusive lock) never writes an erased secret back.
    held = spool.writing() if spool is not None and stored is not None and stored.body_file else contextlib.nullcontext()
    with held:
        if stored is not None and (erased := _erased(inbox_body(stored, spool), field, reason)) is not None:
            if stored.body_file is None:
                stored.body = spool.seal_row(msg_id, erased) if spool is not None else erased
            else:  # inbox_body has read it from the spool, so there is one
                spool.write([(stored.body_file, erased)])  # type: ignore[union-attr]
            changed = True
    sent = db.execute(sa.select(OutboxBody).join(OutboxMessage, OutboxMessage.id == OutboxBody.outbox_id)
                      .where(OutboxMessage.msg_id == msg_id)).scalar_one_or_none()
    if sent is not None and (erased := _erased(sent.body, field, reason)) is not None:
        sent.body = erased
        changed = True
    return changed


def _erased(body: bytes | bytearray, field: str, reason: str) -> bytes | None:
    """The canonical bytes of the payload with `field` erased, or None if there is nothing to erase."""
    payload = json.loads(body)
    if not isinstance(payload, dict) or field not in payload or payload[field] == ERASED:
        return None
    payload[field] = ERASED
    payload.setdefault("erased", []).append({"field": field, "reason": reason})
    try:
        return canonical_json(payload)
    except NotCanonical:  # an older sender's number beyond I-JSON: the secret goes all the same
        return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def sweep_spool(db: Session, spool: Spool, now: dt.datetime) -> int:
    """Remove spool files no received message names (orphans of interrupted receipts). How many."""
    def referenced(names: list[str]) -> set[str]:
        return {str(n) for n in db.execute(sa.select(InboxMessage.body_file).where(InboxMessage.body_file.in_(names)))
                .scalars()}

    removed = spool.sweep(referenced, now)
    # The ledger of the per-peer quota forgets what is no longer in the spool: orphans just swept, and
    # reservations whose file was never written (a crash, a full disk), once as old as an orphan.
    cutoff = now - ORPHAN_AFTER
    stale = sa.and_(SpoolFile.written_at < cutoff, SpoolFile.name.not_in(
        sa.select(InboxMessage.body_file).where(InboxMessage.body_file.is_not(None))))
    names = list(db.execute(sa.select(SpoolFile.name).where(stale)).scalars())
    gone = [n for n in names if not spool.path(n).exists()]
    for k in range(0, len(gone), 500):
        db.execute(sa.delete(SpoolFile).where(SpoolFile.name.in_(gone[k:k + 500]), stale)
                   .execution_options(synchronize_session=False))
    db.commit()
    if removed:
        log.info("spool: %d orphan file(s) removed", removed)
    return removed


# --------------------------------------------------------------------------- what the administrator reads
def _node_administrator(actor: Principal, node_party: str) -> None:
    """The trust list and the outbox are the node's: read by an administrator of its Party."""
    if actor.role is not Role.administrator or actor.party != node_party:
        raise Forbidden(f"the node's trust list and outbox are read by an administrator of {node_party}")


@dataclass(frozen=True)
class PeerView:
    peer: Peer
    keys: list[PeerKeyRow]


def list_peers(db: Session, *, actor: Principal, node_party: str) -> list[PeerView]:
    """The trust list: every peer ever imported (removed ones too, with their revoked keys)."""
    _node_administrator(actor, node_party)
    keys: dict[str, list[PeerKeyRow]] = {}
    for k in db.execute(sa.select(PeerKeyRow).order_by(PeerKeyRow.party, PeerKeyRow.use, PeerKeyRow.valid_from)).scalars():
        keys.setdefault(k.party, []).append(k)
    return [PeerView(p, keys.get(p.party, [])) for p in db.execute(sa.select(Peer).order_by(Peer.party)).scalars()]


@dataclass(frozen=True)
class OutboxRow:
    message: OutboxMessage
    # The request's reference as a desk shows it (cases.service.shown_reference), when the conversation is
    # one of this Party's requests
    case_reference: str | None
    request_id: uuid.UUID | None


OUTBOX_STATES = ("pending", "delivered", "dead")


def list_outbox(db: Session, *, actor: Principal, node_party: str, status: str, limit: int = 50,
                offset: int = 0) -> tuple[list[OutboxRow], int]:
    """Messages of one status, oldest first for those waiting, newest first for the rest; with the case
    of the request each belongs to (one query)."""
    _node_administrator(actor, node_party)
    if status not in OUTBOX_STATES:
        raise Invalid(f"status: one of {', '.join(OUTBOX_STATES)}")
    where = OutboxMessage.status == status
    total = db.execute(sa.select(sa.func.count()).select_from(OutboxMessage).where(where)).scalar_one()
    order = OutboxMessage.id if status == "pending" else OutboxMessage.id.desc()
    q = (sa.select(OutboxMessage, Case.reference, Request)
         .outerjoin(Request, sa.and_(Request.conversation_id == OutboxMessage.conversation_id,
                                     Request.party == node_party))
         .outerjoin(Case, Case.id == Request.case_id)
         .where(where).order_by(order).limit(limit).offset(offset))
    return [OutboxRow(m, _reference(req, ref), req.id if req is not None else None)
            for m, ref, req in db.execute(q).all()], total


def _reference(req: Request | None, case_reference: str | None) -> str | None:
    return cases.shown_reference(req, case_reference) if req is not None and case_reference is not None else None


def negative_receipts(db: Session, *, actor: Principal, node_party: str, limit: int = 50,
                      offset: int = 0) -> tuple[list[tuple[Receipt, str | None]], int]:
    """Receipts that did not come in time (receipt_timeouts), newest first, with the request's case."""
    _node_administrator(actor, node_party)
    where = Receipt.positive.is_(False)
    total = db.execute(sa.select(sa.func.count()).select_from(Receipt).where(where)).scalar_one()
    q = (sa.select(Receipt, Case.reference, Request)
         .outerjoin(Request, sa.and_(Request.conversation_id == Receipt.conversation_id, Request.party == node_party))
         .outerjoin(Case, Case.id == Request.case_id)
         .where(where).order_by(Receipt.at.desc(), Receipt.id).limit(limit).offset(offset))
    return [(r, _reference(req, ref)) for r, ref, req in db.execute(q).all()], total


def outbox_status(db: Session) -> list[dict[str, Any]]:
    rows = db.execute(sa.select(OutboxMessage.recipient, OutboxMessage.status, sa.func.count(),
                                sa.func.min(OutboxMessage.created_at))
                      .group_by(OutboxMessage.recipient, OutboxMessage.status)
                      .order_by(OutboxMessage.recipient, OutboxMessage.status)).all()
    return [{"recipient": r, "status": s, "count": n, "oldest": o.isoformat() if o else None} for r, s, n, o in rows]


def alert(db: Session, party: str, conversation_id: str, kind: str, now: dt.datetime, message: str) -> None:
    """An alert on the dashboard of the node's users, tied to the request of the conversation."""
    from evidex.requests.models import Notification, Request

    req = db.execute(sa.select(Request).where(Request.party == party, Request.conversation_id == conversation_id)
                     ).scalar_one_or_none()
    if req is not None:
        db.add(Notification(party=party, request_id=req.id, deadline_id=None, kind=kind, article=None,
                            message=message, created_at=now))


# e-CODEX's evidences for comparison: 12 h relay, 24 h delivery, 36 h retrieval. There is no relay
# between evidex nodes (they talk directly), so delivery and retrieval are watched.
RECEIPT_TIMEOUTS = {"delivery": dt.timedelta(hours=24), "retrieval": dt.timedelta(hours=36)}


def receipt_timeouts(db: Session, *, party: str, now: dt.datetime,
                     timeouts: dict[str, dt.timedelta] | None = None) -> int:
    """A receipt that did not come in time becomes a negative one, with an alert. Returns how many.
    Reads only the messages still awaiting a receipt (indexed), and only those older than the shortest
    period: a message whose every expected receipt is in, positive or negative, is never read again."""
    limits = {**RECEIPT_TIMEOUTS, **(timeouts or {})}
    made = 0
    q = (sa.select(OutboxMessage).where(OutboxMessage.awaiting_receipt.is_(True),
                                       OutboxMessage.created_at < now - min(limits.values()))
         .order_by(OutboxMessage.created_at, OutboxMessage.id))
    for msg in db.execute(q).scalars():
        still_awaited = False
        for kind, limit in limits.items():
            if kind == "retrieval" and msg.type != "request":
                continue  # only a request is retrieved (opened) by the other node
            key = msg.msg_id if kind == "delivery" else msg.conversation_id
            exists = db.execute(sa.select(Receipt.id).where(Receipt.msg_id == key, Receipt.kind == kind,
                                                            Receipt.issuer == msg.recipient)).first()
            if exists:
                continue
            if msg.created_at >= now - limit:
                still_awaited = True
                continue
            db.add(Receipt(msg_id=key, conversation_id=msg.conversation_id, kind=kind, issuer=msg.recipient,
                           positive=False, token=None, at=now))
            alert(db, party, msg.conversation_id, "negative_receipt", now,
                  f"No {kind} receipt from {msg.recipient} within {int(limit.total_seconds() // 3600)} h for the "
                  f"{msg.type} message {msg.msg_id}: a negative {kind} receipt was recorded.")
            made += 1
        if not still_awaited:
            msg.awaiting_receipt = False
    db.commit()
    return made
