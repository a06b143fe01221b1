"""Evidence packages between nodes: what the requested Party's node produced for a request travels
to the requesting Party's node as a manifest signed by the producing node (request, files, sizes,
hashes, binding conditions, producer), sent through the federation channel, followed by the files
in chunks. The receiving node verifies every chunk as it arrives and every whole file against the
signed manifest before it marks the package received and answers with a signed receipt. A
mismatch is reported to both sides and the file is never sealed there.

Chunks travel encrypted and authenticated with a key of the package (AES-256-GCM), which only the
manifest carries — and the manifest travels in an envelope encrypted for the receiving node — so
no one in between can read or forge a chunk. Each chunk's nonce and additional data bind the
package, the file's position, the chunk's index and whether it is the last one.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import struct
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from evidex.audit import service as audit
from evidex.cases import service as requests
from evidex.core import crypto
from evidex.core.canonical import NotCanonical, canonical_json
from evidex.core.db import command, transaction
from evidex.core.errors import Conflict, EvidexError, Forbidden, Invalid, NotFound
from evidex.core.faults import NO_FAULTS, Faults
from evidex.evidence import service as evidence
from evidex.evidence.models import EvidenceFile, EvidencePackage
from evidex.exchange import protocol
from evidex.exchange import service as exchange
from evidex.exchange.envelope import SIGNATURE_ALG, EnvelopeRejected
from evidex.exchange.keys import NodeIdentity
from evidex.exchange.models import OutboxMessage, Peer, Receipt
from evidex.exchange.protocol import Headers
from evidex.exchange.spool import Spool
from evidex.parties.roles import Principal
from evidex.requests.lifecycle import Lifecycle, default_lifecycle
from evidex.requests.models import Request

log = logging.getLogger("evidex.evidence")
MAC_HEADER = "X-Evidex-Package-MAC"
MANIFEST_VERSION = 1
MAX_FILES = protocol.MAX_PACKAGE_FILES


class Throttled(Exception):
    """The receiving node asks to wait (429, its per-peer rate limit) longer than this pass has left:
    the package resumes at a later pass. A retry, never a failure."""

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


MAX_RETRY_AFTER = 300.0  # seconds; a longer wait asked for is taken as this


def retry_after(r: httpx.Response) -> float:
    """The wait a 429 asks for (Retry-After in seconds; 1 s if absent or unreadable)."""
    try:
        return min(max(float(r.headers.get("Retry-After", "1")), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return 1.0


def _patiently(call: Callable[[], httpx.Response], peer: str, started: float, budget: float,
               sleep: Callable[[float], None]) -> httpx.Response:
    """Make a call the receiving node may answer 429: wait as its Retry-After says and call again,
    within the pass's time budget; past it, Throttled."""
    while True:
        r = call()
        if r.status_code != 429:
            return r
        wait = retry_after(r)
        if time.monotonic() - started + wait > budget:
            raise Throttled(f"{peer} limits the rate of chunks: resuming in {wait:g} s", wait)
        sleep(wait)


class DataWithheld(Conflict):
    """The request's state does not let its data go to the requesting Party now (lifecycle data_sending)."""

    def __init__(self, req: Request, because: str | None, reason: str, article: str | None, state_name: str) -> None:
        # because: the reason's key in data_sending.reasons (its translations: data_withheld.<because>)
        self.state, self.because, self.reason, self.article = req.status, because, reason, article
        cited = f" ({article})" if article else ""
        super().__init__(f"no data is sent to {req.requesting_party} while the request is '{state_name}': "
                         f"{reason}{cited}")


class PackageRejected(EvidexError):
    """A chunk or a status question that this node does not accept (bad MAC, bad tag, wrong order)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def mac(key: bytes, package_id: uuid.UUID, resource: str) -> str:
    """Authenticates the sending node's calls about a package (only the two nodes know its key).
    `resource` is "status" or "files/<position>/chunks/<index>": independent of URL prefixes."""
    return hmac.new(key, f"{package_id} {resource}".encode(), hashlib.sha256).hexdigest()


def _nonce(position: int, index: int) -> bytes:
    return struct.pack(">IQ", position, index)  # the key is the package's own: each nonce once


def _aad(package_id: uuid.UUID, position: int, index: int, last: bool) -> bytes:
    return package_id.bytes + struct.pack(">IQ?", position, index, last)


def seal_chunk(key: bytes, package_id: uuid.UUID, position: int, index: int, data: bytes, last: bool) -> bytes:
    return AESGCM(key).encrypt(_nonce(position, index), data, _aad(package_id, position, index, last))


def open_chunk(key: bytes, package_id: uuid.UUID, position: int, index: int, blob: bytes, last: bool) -> bytes:
    try:
        return AESGCM(key).decrypt(_nonce(position, index), blob, _aad(package_id, position, index, last))
    except InvalidTag as e:
        raise PackageRejected(f"chunk {index} of file {position} failed verification (altered in transit, "
                              "or not from the producing node)", 422) from e


def chunks_of(size: int) -> int:
    return max(1, -(-size // crypto.CHUNK_SIZE))


# --------------------------------------------------------------------------- the producing node
@command
def create(db: Session, *, actor: Principal, vault: evidence.Vault, node: NodeIdentity | None,
           request_id: uuid.UUID, evidence_ids: list[uuid.UUID], now: dt.datetime,
           lifecycle: Lifecycle | None = None) -> EvidencePackage:
    """Package sealed files of an incoming request for the requesting Party's node: sign the
    manifest and queue it in this transaction (outbox); the chunks follow once it is delivered.
    Only in a state the lifecycle's data_sending allows for the request's type (`lifecycle`: the
    node's law's; default the shipped one)."""
    if actor.role not in evidence.PRODUCERS:
        raise Forbidden(f"role {actor.role} does not produce evidence")
    # Locked: a refusal or a proposed condition recorded meanwhile waits for this package, or this for it.
    req = requests.get_request(db, actor=actor, request_id=request_id, audit_read=False, for_update=True)
    node, conversation_id = _sender(db, req, node, lifecycle or default_lifecycle())
    if not evidence_ids or len(evidence_ids) > MAX_FILES or len(set(evidence_ids)) != len(evidence_ids):
        raise Invalid(f"name between 1 and {MAX_FILES} different evidence files")
    files = []
    for eid in evidence_ids:
        ev = db.get(EvidenceFile, eid)
        if ev is None or ev.request_id != req.id or ev.party != actor.party:
            raise Invalid(f"evidence {eid} is not a file of this request")
        if ev.status != "sealed" or ev.sha256 is None:
            raise Conflict(f"evidence {eid} is {ev.status}: only sealed files are sent")
        files.append(ev)
    package_id = uuid.uuid4()
    manifest = protocol.Manifest(
        version=MANIFEST_VERSION, package_id=package_id,
        request=protocol.ManifestRequest(conversation_id=conversation_id, requesting_party=req.requesting_party,
                                         requested_party=req.requested_party, request_type=req.request_type),
        producer=protocol.ManifestProducer(party=node.party, node_key=node.signing_jwk["kid"], user=actor.username,
                                           role=str(actor.role)),
        created_at=now.astimezone(dt.UTC),
        conditions=evidence.binding_conditions(db, req.id),  # conditions travel with the data
        chunk_size=crypto.CHUNK_SIZE,
        files=[protocol.ManifestFile(position=i, name=ev.name, media_type=ev.media_type, size=ev.declared_size,
                                     sha256=ev.sha256 or "", source_evidence_id=str(ev.id),
                                     custody_head=getattr(evidence.last_custody(db, ev.id), "hash", None))
               for i, ev in enumerate(files)],
    )
    body = canonical_json(manifest.model_dump(mode="json"))  # the bytes signed, and stored as they were signed
    sha = hashlib.sha256(body).hexdigest()
    signature = jws.serialize_compact({"alg": SIGNATURE_ALG, "kid": node.signing_jwk["kid"]}, body,
                                      node.signing_okp(), algorithms=[SIGNATURE_ALG])
    key = AESGCM.generate_key(bit_length=256)
    msg = exchange.send(db, node=node, recipient=req.requesting_party, conversation_id=conversation_id, now=now,
                        message=protocol.EvidenceManifestMessage(manifest=manifest, signature=signature,
                                                                 transfer_key=base64.b64encode(key).decode()))
    manifest_json: dict[str, Any] = json.loads(body)
    pkg = EvidencePackage(id=package_id, party=actor.party, direction="outgoing", peer=req.requesting_party,
                          request_id=req.id, conversation_id=conversation_id, manifest=manifest_json,
                          manifest_sha256=sha, signature=signature, transfer_key=base64.b64encode(key).decode(),
                          manifest_msg_id=msg.msg_id, status="sending", problems=[], attempts=0,
                          next_attempt_at=now, created_by=actor.username, created_at=now)
    db.add(pkg)
    for ev in files:
        ev.package_id = package_id  # the latest package a file went out in
    audit.record(db, actor=actor, action="evidence.package_created", object_type="evidence_package",
                 object_id=str(package_id), at=now,
                 details={"request": str(req.id), "to": req.requesting_party, "manifest_sha256": sha,
                          "files": [str(ev.id) for ev in files]})
    db.flush()
    return pkg


def _sender(db: Session, req: Request, node: NodeIdentity | None,
            lifecycle: Lifecycle) -> tuple[NodeIdentity, str]:
    """This node and the conversation, if it can send a package answering `req` (read through the
    actor's scope first: what the actor may not see stays not found); else Conflict, saying why."""
    if node is None:
        raise Conflict("this node has no federation identity (`evidex node init`)")
    if req.direction != "incoming" or req.conversation_id is None:
        raise Conflict("evidence packages answer a request received from another Party's node")
    if exchange.active_peer(db, req.requesting_party) is None:
        raise Conflict(f"{req.requesting_party} is not in this node's trust list (`evidex peers add`)")
    _may_send_now(req, lifecycle)
    return node, req.conversation_id


def _may_send_now(req: Request, lifecycle: Lifecycle) -> None:
    """DataWithheld unless the lifecycle lets the data of a request of this type go in its state
    (data_sending: e.g. not while conditions are only proposed, ETS185 Art 28(3))."""
    rule = lifecycle.data_sending(req.request_type, req.status)
    if rule is not None and rule.send:
        return
    name = lifecycle.state_names.get(req.status, req.status)
    if rule is None or rule.because is None:  # a state the data does not name for the type: nothing goes
        raise DataWithheld(req, None, "the lifecycle data does not let data go in this state", None, name)
    raise DataWithheld(req, rule.because, lifecycle.withheld_reasons[rule.because], rule.article, name)


def withheld(db: Session, *, actor: Principal, req: Request, node: NodeIdentity | None,
             lifecycle: Lifecycle | None = None) -> DataWithheld | None:
    """Why `actor` may not send the data of `req` now although everything else would let them: the
    request's state (lifecycle data_sending). None if they may, or if something else stops them."""
    if actor.role not in evidence.PRODUCERS:
        return None
    try:
        _sender(db, req, node, lifecycle or default_lifecycle())
    except DataWithheld as e:
        return e
    except Conflict:
        return None
    return None


def sendable(db: Session, *, actor: Principal, req: Request, node: NodeIdentity | None,
             lifecycle: Lifecycle | None = None) -> list[EvidenceFile]:
    """The files `create` would send for `req` (already read through the actor's scope) if `actor`
    asked now: this Party's sealed files of the request, oldest first; none if the actor's role
    produces no evidence or this node cannot send a package for the request now, in its state
    (as `create` refuses)."""
    if actor.role not in evidence.PRODUCERS:
        return []
    try:
        _sender(db, req, node, lifecycle or default_lifecycle())
    except Conflict:
        return []
    return list(db.execute(sa.select(EvidenceFile).where(
        EvidenceFile.request_id == req.id, EvidenceFile.party == actor.party, EvidenceFile.status == "sealed",
        EvidenceFile.sha256.is_not(None)).order_by(EvidenceFile.created_at)).scalars())


@dataclass
class TransferReport:
    chunks: int = 0
    sent: int = 0  # packages whose every chunk the receiver now holds
    retrying: int = 0


def transfer_once(make_session: sessionmaker[Session], node: NodeIdentity, vault: evidence.Vault, now: dt.datetime,
                  client_for: Callable[[Peer], httpx.Client] | None = None, budget_seconds: float = 20.0,
                  clock: Callable[[], dt.datetime] | None = None, faults: Faults = NO_FAULTS,
                  sleep: Callable[[float], None] = time.sleep) -> TransferReport:
    """One pass of the transfer worker: for each package whose manifest was delivered, ask the
    receiving node which chunks it holds and send the rest, within a time budget (resumable: the
    next pass goes on where this one stopped, as after a dropped connection or a restart)."""
    client_for = client_for or exchange.node_client_for(node)
    report, started = TransferReport(), time.monotonic()
    with make_session() as db:
        ids = list(db.execute(sa.select(EvidencePackage.id).join(
            OutboxMessage, OutboxMessage.msg_id == EvidencePackage.manifest_msg_id).where(
            EvidencePackage.direction == "outgoing", EvidencePackage.status == "sending",
            OutboxMessage.status == "delivered", EvidencePackage.next_attempt_at <= now)
            .order_by(EvidencePackage.created_at)).scalars())
    for pid in ids:
        if time.monotonic() - started > budget_seconds:
            break
        with make_session() as db:
            pkg = db.get(EvidencePackage, pid)
            peer = exchange.active_peer(db, pkg.peer) if pkg else None
            if pkg is None or peer is None:
                continue
            try:
                with client_for(peer) as client:
                    done = _push(db, pkg, peer, client, vault, report, started, budget_seconds, faults, sleep)
            except Throttled as e:  # the receiver's rate limit: resume when it says, not counted as a failure
                pkg.next_attempt_at = now + dt.timedelta(seconds=e.wait)
                pkg.last_error = str(e)
                report.retrying += 1
                db.commit()
                continue
            except (httpx.HTTPError, PackageRejected, OSError) as e:
                pkg.attempts += 1
                pkg.next_attempt_at = now + exchange.backoff(pkg.attempts)
                pkg.last_error = f"{type(e).__name__}: {e}"[:1000]
                report.retrying += 1
                db.commit()
                continue
            if done:
                stamp = (clock or (lambda: now))()
                pkg.status, pkg.last_error = "sent", None
                system = Principal.system(node.party)
                for f in pkg.manifest["files"]:
                    ev = db.get(EvidenceFile, uuid.UUID(f["source_evidence_id"]))
                    if ev is not None:
                        evidence.custody(db, ev, event="sent", actor=system, at=stamp, vault=vault,
                                         hash_before=ev.sha256, hash_after=ev.sha256,
                                         details={"package": str(pkg.id), "to": pkg.peer,
                                                  "manifest_sha256": pkg.manifest_sha256})
                audit.record(db, actor=system, action="evidence.package_sent", object_type="evidence_package",
                             object_id=str(pkg.id), at=stamp, details={"to": pkg.peer})
                report.sent += 1
            db.commit()
    return report


def _push(db: Session, pkg: EvidencePackage, peer: Peer, client: httpx.Client, vault: evidence.Vault,
          report: TransferReport, started: float, budget: float, faults: Faults = NO_FAULTS,
          sleep: Callable[[float], None] = time.sleep) -> bool:
    """Send what the receiver lacks; True once it holds every chunk of every file."""
    key = base64.b64decode(pkg.transfer_key or "")
    base = peer.url.rstrip("/")
    path = f"/federation/v1/packages/{pkg.id}"
    r = _patiently(lambda: client.get(base + path, headers={MAC_HEADER: mac(key, pkg.id, "status")}), pkg.peer,
                   started, budget, sleep)
    if r.status_code != 200:
        raise PackageRejected(f"{pkg.peer} answered HTTP {r.status_code} about the package: {r.text[:200]}",
                              r.status_code)
    try:
        held = {f.position: f.chunks_received
                for f in protocol.PackageProgress.model_validate_json(r.content, strict=True).files}
    except ValidationError as e:
        raise PackageRejected(f"{pkg.peer} answered about the package with no progress: {protocol.describe(e)}",
                              502) from e
    for f in pkg.manifest["files"]:
        pos, n = int(f["position"]), chunks_of(int(f["size"]))
        ev = db.get(EvidenceFile, uuid.UUID(f["source_evidence_id"]))
        if ev is None or ev.status != "sealed":
            raise PackageRejected(f"file {pos} of the package is no longer available here", 409)
        for index in range(held.get(pos, 0), n):
            if time.monotonic() - started > budget:
                return False
            plain = faults.chunk_in_transit(pos, index, evidence.read_chunk(vault, ev, index))  # tests: a byte changed
            resource = f"files/{pos}/chunks/{index}"
            sealed = seal_chunk(key, pkg.id, pos, index, plain, index == n - 1)
            r = _patiently(lambda: client.put(f"{base}{path}/{resource}", content=sealed,  # noqa: B023 (called at once)
                                              headers={MAC_HEADER: mac(key, pkg.id, resource),  # noqa: B023
                                                       "Content-Type": "application/octet-stream"}),
                           pkg.peer, started, budget, sleep)
            if r.status_code != 200:
                raise PackageRejected(f"{pkg.peer} refused chunk {index} of file {pos}: HTTP {r.status_code} "
                                      f"{r.text[:200]}", r.status_code)
            report.chunks += 1
    return True


# --------------------------------------------------------------------------- the receiving node
def register_manifest(db: Session, *, node: NodeIdentity, vault: evidence.Vault, headers: Headers,
                      message: protocol.EvidenceManifestMessage, now: dt.datetime) -> EvidencePackage:
    """An arriving manifest (applied in the receiving transaction): check its signature by the
    sending node, tie it to our request, and prepare a file record for each file. The manifest
    kept is the one the signature carries, as its bytes were signed."""
    try:
        kid = jws.extract_compact(message.signature.encode("ascii")).headers().get("kid")
        signing = exchange.load_trust(db).signing_key(headers.sender, str(kid), now)
        signed = jws.deserialize_compact(message.signature, signing, algorithms=[SIGNATURE_ALG]).payload
    except (JoseError, ValueError, UnicodeEncodeError, EnvelopeRejected) as e:
        raise exchange.FederationError(f"the manifest is not signed by {headers.sender}'s node: {e}") from e
    try:
        manifest = protocol.Manifest.model_validate_json(signed, strict=True)
    except ValidationError as e:
        raise exchange.FederationError(f"the signed manifest is not a manifest: {protocol.describe(e)}") from e
    if manifest != message.manifest:
        raise exchange.FederationError(f"the manifest is not signed by {headers.sender}'s node: "
                                       "the signature is over another manifest")
    try:
        transfer_key = base64.b64decode(message.transfer_key, validate=True)
        if manifest.chunk_size != crypto.CHUNK_SIZE or len(transfer_key) != 32:
            raise ValueError("chunk size or transfer key")
        if manifest.request.conversation_id != headers.conversation_id or manifest.producer.party != headers.sender:
            raise ValueError("the manifest names another request or producer than its envelope")
        for i, f in enumerate(manifest.files):
            if f.position != i or f.size > vault.limits.max_file_bytes:
                raise ValueError(f"file {i}")
    except ValueError as e:
        raise exchange.FederationError(f"not a valid evidence manifest: {e}") from e
    package_id = manifest.package_id
    if db.get(EvidencePackage, package_id) is not None:
        raise exchange.FederationError(f"package {package_id} is already known here")
    req = requests.find_by_conversation(db, party=node.party, conversation_id=headers.conversation_id)
    if req is None or req.direction != "outgoing" or req.requested_party != headers.sender:
        raise exchange.FederationError(f"no request of this node to {headers.sender} in conversation "
                                       f"{headers.conversation_id}")
    pkg = EvidencePackage(id=package_id, party=node.party, direction="incoming", peer=headers.sender,
                          request_id=req.id, conversation_id=headers.conversation_id, manifest=json.loads(signed),
                          manifest_sha256=hashlib.sha256(signed).hexdigest(), signature=message.signature,
                          transfer_key=message.transfer_key, manifest_msg_id=headers.msg_id, status="receiving",
                          problems=[], attempts=0, created_by=f"{headers.sender} node", created_at=now)
    db.add(pkg)
    for f in manifest.files:
        ev = evidence.new_file(db, vault=vault, party=node.party, request_id=req.id, name=f.name[:300],
                               media_type=(f.media_type or "application/octet-stream")[:120],
                               size=f.size, sha256=f.sha256, status="receiving", created_by=None, now=now)
        ev.package_id, ev.package_position = package_id, f.position
    audit.record(db, actor=Principal.system(node.party), action="evidence.package_announced",
                 object_type="evidence_package", object_id=str(package_id), at=now,
                 details={"from": headers.sender, "files": len(manifest.files), "manifest_sha256": pkg.manifest_sha256})
    return pkg


def _incoming(db: Session, package_id: uuid.UUID, resource: str, given_mac: str | None) -> tuple[
        EvidencePackage, bytes]:
    pkg = db.get(EvidencePackage, package_id)
    if pkg is None or pkg.direction != "incoming" or pkg.transfer_key is None:
        raise PackageRejected("no such package is awaited here", 404)
    key = base64.b64decode(pkg.transfer_key)
    if not given_mac or not hmac.compare_digest(given_mac, mac(key, package_id, resource)):
        raise PackageRejected("the package MAC does not verify", 403)
    return pkg, key


def _files(db: Session, pkg: EvidencePackage) -> list[EvidenceFile]:
    return list(db.execute(sa.select(EvidenceFile).where(EvidenceFile.package_id == pkg.id,
                                                         EvidenceFile.party == pkg.party)
                           .order_by(EvidenceFile.package_position)).scalars())


def chunk_sender(db: Session, *, package_id: uuid.UUID, resource: str, given_mac: str | None) -> str:
    """The peer sending a chunk, once its MAC has verified (the rate limit counts only real chunks).
    Its transaction ends here: the connection goes back to the pool while the chunk's body is read."""
    with transaction(db):
        pkg, _ = _incoming(db, package_id, resource, given_mac)
        return pkg.peer


def progress(db: Session, *, package_id: uuid.UUID, given_mac: str | None) -> dict[str, Any]:
    pkg, _ = _incoming(db, package_id, "status", given_mac)
    return protocol.PackageProgress(
        package_id=pkg.id, status=pkg.status,
        files=[protocol.FileProgress(position=ev.package_position or 0, chunks_received=ev.chunks_received)
               for ev in _files(db, pkg)]).model_dump(mode="json")


@command
def receive_chunk(db: Session, *, vault: evidence.Vault, package_id: uuid.UUID, position: int, index: int,
                  blob: bytes, given_mac: str | None) -> dict[str, Any]:
    """Verify one chunk (its tag under the package key) and store it under this node's own key.
    A chunk already held is acknowledged again; a gap is refused with the chunk expected next."""
    pkg, key = _incoming(db, package_id, f"files/{position}/chunks/{index}", given_mac)
    if pkg.status != "receiving":
        raise PackageRejected(f"the package is already {pkg.status}", 409)
    ev = next((e for e in _files(db, pkg) if e.package_position == position), None)
    if ev is None:
        raise PackageRejected(f"the package has no file {position}", 404)
    n = chunks_of(ev.declared_size)
    if index >= n:
        raise PackageRejected(f"file {position} has {n} chunks", 422)
    if index < ev.chunks_received:
        return {"position": position, "chunks_received": ev.chunks_received}
    if index > ev.chunks_received:
        raise PackageRejected(f"chunk {ev.chunks_received} of file {position} is expected next", 409)
    plain = open_chunk(key, pkg.id, position, index, blob, last=index == n - 1)
    try:
        evidence.store_chunk(vault, ev, index, plain)
    except (Invalid, Conflict) as e:
        raise PackageRejected(str(e), 422) from e
    return {"position": position, "chunks_received": ev.chunks_received}


def verify_received(make_session: sessionmaker[Session], node: NodeIdentity, vault: evidence.Vault,
                    now: dt.datetime, spool: Spool | None = None) -> int:
    """Worker pass: each package whose chunks have all arrived is verified file by file against the
    signed manifest; then it is received (files sealed) or a mismatch (files rejected, alert), and
    a signed receipt goes back either way. Returns how many packages were settled."""
    with make_session() as db:
        ids = list(db.execute(sa.select(EvidencePackage.id).where(EvidencePackage.direction == "incoming",
                                                                 EvidencePackage.status == "receiving")).scalars())
    settled = 0
    for pid in ids:
        with make_session() as db:
            pkg = db.get(EvidencePackage, pid)
            if pkg is None:
                continue
            files = _files(db, pkg)
            if any(ev.chunks_received < chunks_of(ev.declared_size) for ev in files):
                continue
            _settle(db, node, vault, pkg, files, now, spool)
            db.commit()
            settled += 1
    return settled


def _settle(db: Session, node: NodeIdentity, vault: evidence.Vault, pkg: EvidencePackage,
            files: list[EvidenceFile], now: dt.datetime, spool: Spool | None) -> None:
    system = Principal.system(node.party)
    results: list[protocol.FileVerified] = []
    problems: list[str] = []
    for ev, f in zip(files, pkg.manifest["files"], strict=True):
        try:
            size = evidence.finish(vault, ev)
        except crypto.IntegrityError as e:
            size, ev.sha256 = -1, None
            problems.append(f"file {f['position']} ({f['name']}): {e}")
        ok = ev.sha256 == f["sha256"] and size == f["size"]
        evidence.custody(db, ev, event="received", actor=system, at=now, vault=vault, hash_after=ev.sha256,
                         details={"package": str(pkg.id), "from": pkg.peer, "name": ev.name, "size": size,
                                  "source_evidence_id": f["source_evidence_id"],
                                  "source_custody_head": f.get("custody_head"),
                                  "manifest_sha256": pkg.manifest_sha256})
        if ok:
            ev.status, ev.sealed_at, ev.retain_until = "sealed", now, vault.retain_until(ev.party, now)
            evidence.custody(db, ev, event="verified", actor=system, at=now, vault=vault, hash_before=f["sha256"],
                             hash_after=ev.sha256, details={"against": "the manifest signed by " + pkg.peer,
                                                            "signature": pkg.signature.rsplit(".", 1)[-1][:32]})
        else:
            ev.status = "rejected"
            if ev.sha256 is not None:
                problems.append(f"file {f['position']} ({f['name']}): SHA-256 {ev.sha256}, size {size}; the signed "
                                f"manifest says {f['sha256']}, size {f['size']}")
        results.append(protocol.FileVerified(position=f["position"], sha256=ev.sha256, size=size, verified=ok))
    positive = not problems
    settle(pkg, "received" if positive else "mismatch", now)
    pkg.problems, pkg.transfer_key = problems, None
    exchange.erase_from_payload(db, msg_id=pkg.manifest_msg_id, field="transfer_key",
                                reason=f"package {pkg.id} settled ({pkg.status})", spool=spool)
    claims = protocol.PackageReceiptClaims(package_id=pkg.id, manifest_sha256=pkg.manifest_sha256,
                                           conversation_id=pkg.conversation_id, positive=positive, files=results,
                                           problems=problems, by=node.party, at=now.astimezone(dt.UTC))
    token = exchange.sign_claims(node, "package", claims.model_dump(mode="json"))
    db.add(Receipt(msg_id=str(pkg.id), conversation_id=pkg.conversation_id, kind="package", issuer=node.party,
                   positive=positive, token=token, at=now))
    exchange.send(db, node=node, recipient=pkg.peer, conversation_id=pkg.conversation_id, now=now,
                  message=protocol.EvidenceReceiptMessage(token=token))
    audit.record(db, actor=system, action="evidence.package_" + pkg.status, object_type="evidence_package",
                 object_id=str(pkg.id), at=now, details={"from": pkg.peer, "problems": problems})
    if not positive:
        exchange.alert(db, node.party, pkg.conversation_id, "evidence_mismatch", now,
                       f"The evidence package {pkg.id} from {pkg.peer} does not match its signed manifest and was "
                       f"not accepted: {'; '.join(problems)[:600]}")


def settle(pkg: EvidencePackage, status: str, now: dt.datetime) -> None:
    """The package is received or found not to match. Never settled before it was created: the clock
    that settles (a worker, a demo, another process) may read a moment earlier than the one that
    registered it, and a record whose end precedes its start is not one a court should be shown."""
    pkg.status, pkg.settled_at = status, max(now, pkg.created_at)


def record_receipt(db: Session, *, node: NodeIdentity, headers: Headers, message: protocol.EvidenceReceiptMessage,
                   now: dt.datetime) -> None:
    """At the producing node: the receiving node's signed verdict on a package."""
    token = message.token
    signed = exchange.verify_receipt(token, trust=exchange.load_trust(db), party=headers.sender, at=now)
    try:
        claims = protocol.PackageReceiptClaims.model_validate_json(canonical_json(signed), strict=True)
    except (ValidationError, NotCanonical) as e:
        detail = protocol.describe(e) if isinstance(e, ValidationError) else str(e)
        raise exchange.FederationError(f"the evidence receipt is not a package receipt: {detail}") from e
    pkg = db.get(EvidencePackage, claims.package_id)
    if pkg is None or pkg.direction != "outgoing" or pkg.peer != headers.sender or \
            claims.manifest_sha256 != pkg.manifest_sha256:
        raise exchange.FederationError("the evidence receipt is for no package sent from here")
    positive = claims.positive
    db.add(Receipt(msg_id=str(pkg.id), conversation_id=pkg.conversation_id, kind="package", issuer=headers.sender,
                   positive=positive, token=token, at=now))
    settle(pkg, "received" if positive else "mismatch", now)
    pkg.transfer_key = None
    exchange.erase_from_payload(db, msg_id=pkg.manifest_msg_id, field="transfer_key",
                                reason=f"package {pkg.id} settled ({pkg.status})")
    pkg.problems = list(claims.problems)
    if not positive:
        exchange.alert(db, node.party, pkg.conversation_id, "evidence_mismatch", now,
                       f"{headers.sender} reports that the evidence package {pkg.id} did not match its manifest: "
                       f"{'; '.join(pkg.problems)[:600]}")


# --------------------------------------------------------------------------- reading
def for_request(db: Session, *, actor: Principal, request_id: uuid.UUID) -> list[EvidencePackage]:
    req: Request = requests.get_request(db, actor=actor, request_id=request_id, audit_read=False)
    return list(db.execute(sa.select(EvidencePackage).where(EvidencePackage.request_id == req.id,
                                                           EvidencePackage.party == actor.party)
                           .order_by(EvidencePackage.created_at)).scalars())


def get(db: Session, *, actor: Principal, package_id: uuid.UUID) -> EvidencePackage:
    pkg = db.get(EvidencePackage, package_id)
    if pkg is None or pkg.party != actor.party:
        raise NotFound("evidence package not found")
    requests.get_request(db, actor=actor, request_id=pkg.request_id, audit_read=False)
    return pkg


def files_of(db: Session, pkg: EvidencePackage) -> list[dict[str, Any]]:
    """Each file of the manifest with this node's record of it (received files, or the sources)."""
    here = {ev.package_position: ev for ev in _files(db, pkg)} if pkg.direction == "incoming" else {}
    out = []
    for f in pkg.manifest["files"]:
        ev = here.get(f["position"]) if pkg.direction == "incoming" else \
            db.get(EvidenceFile, uuid.UUID(f["source_evidence_id"]))
        out.append({**f, "evidence_id": str(ev.id) if ev else None, "status": ev.status if ev else None,
                    "chunks_received": ev.chunks_received if ev and pkg.direction == "incoming" else None})
    return out


@dataclass(frozen=True)
class FileAgainstManifest:
    """A file of a package as the signed manifest describes it, beside this node's stored record."""

    position: int
    name: str
    size: int
    sha256: str  # as the manifest says
    evidence_id: uuid.UUID | None
    status: str | None
    stored_sha256: str | None  # what this node computed from the bytes it holds (None until complete)

    @property
    def matches(self) -> bool | None:
        """True or False once this node holds the whole file; None while it is still arriving."""
        return None if self.stored_sha256 is None else self.stored_sha256 == self.sha256


@dataclass(frozen=True)
class ManifestCheck:
    """A package checked against its signed manifest: the producing node's signature, the stored
    manifest being the one signed, and each file's SHA-256 against the manifest's."""

    signed_by: str  # the Party whose node signed the manifest
    signature_valid: bool
    signature_problem: str | None  # why the signature does not verify (English, from the key checks)
    manifest_intact: bool  # the manifest kept here is, byte for byte, the one signed (and its SHA-256)
    files: list[FileAgainstManifest]

    @property
    def verified(self) -> bool:
        return self.signature_valid and self.manifest_intact and all(f.matches is not False for f in self.files)


def check_manifest(db: Session, pkg: EvidencePackage, node: NodeIdentity | None) -> ManifestCheck:
    """Check `pkg` (already read through for_request or get) against its signed manifest now: the
    signature by the producing node (this node for a package sent, the peer's key in the trust list
    for one received), the stored manifest against the signed bytes, each file against its hash."""
    signed_by = pkg.party if pkg.direction == "outgoing" else pkg.peer
    signed: bytes | None = None  # the bytes the signature carries, whether or not it verifies
    valid, problem = False, None
    try:
        compact = jws.extract_compact(pkg.signature.encode("ascii"))
        signed, kid = compact.payload, str(compact.headers().get("kid"))
        if pkg.direction == "outgoing":
            if node is None or node.signing_jwk["kid"] != kid:
                raise ValueError("signed by a key this node no longer holds")
            key = OKPKey.import_key(node.signing_jwk)
        else:  # the peer's key as it stood when the manifest arrived (a later revocation does not undo it)
            key = exchange.load_trust(db).signing_key(pkg.peer, kid, pkg.created_at)
        valid = jws.deserialize_compact(pkg.signature, key, algorithms=[SIGNATURE_ALG]).payload == signed
    except (JoseError, ValueError, UnicodeEncodeError, EnvelopeRejected) as e:
        problem = str(e) or type(e).__name__
    try:
        kept = canonical_json(pkg.manifest)
    except NotCanonical:
        kept = b""
    intact = signed is not None and kept == signed and hashlib.sha256(kept).hexdigest() == pkg.manifest_sha256
    files = [FileAgainstManifest(position=int(f["position"]), name=str(f["name"]), size=int(f["size"]),
                                 sha256=str(f["sha256"]),
                                 evidence_id=uuid.UUID(f["evidence_id"]) if f.get("evidence_id") else None,
                                 status=f.get("status"),
                                 stored_sha256=f.get("stored_sha256"))
             for f in _files_with_hashes(db, pkg)]
    return ManifestCheck(signed_by, valid, problem, intact, files)


def _files_with_hashes(db: Session, pkg: EvidencePackage) -> list[dict[str, Any]]:
    """files_of, with the SHA-256 this node computed for each file it holds (sealed or rejected)."""
    out = files_of(db, pkg)
    for f in out:
        ev = db.get(EvidenceFile, uuid.UUID(f["evidence_id"])) if f["evidence_id"] else None
        f["stored_sha256"] = ev.sha256 if ev is not None and ev.party == pkg.party else None
    return out


def receipts_of(db: Session, pkg: EvidencePackage) -> list[Receipt]:
    """The signed receipts for a package (the receiving node's, once it verified every file), oldest first."""
    return list(db.execute(sa.select(Receipt).where(Receipt.msg_id == str(pkg.id), Receipt.kind == "package")
                           .order_by(Receipt.at)).scalars())


def message_handler(node: NodeIdentity, vault: evidence.Vault | None) -> Callable[
        [Session, Headers, protocol.EvidenceMessage, dt.datetime], None]:
    """What the exchange's applier (exchange.flows.applier) does with an evidence message: a manifest
    registers an arriving package (refused without a vault), a receipt settles a package sent."""

    def handle(db: Session, headers: Headers, message: protocol.EvidenceMessage, now: dt.datetime) -> None:
        if isinstance(message, protocol.EvidenceReceiptMessage):
            record_receipt(db, node=node, headers=headers, message=message, now=now)
        elif vault is None:
            raise exchange.FederationError("this node stores no evidence")
        else:
            register_manifest(db, node=node, vault=vault, headers=headers, message=message, now=now)

    return handle
