"""Evidence services: resumable, chunked, streamed upload (never whole in memory, never stored in
clear), sealing against the declared SHA-256, reading with verification, the custody chain."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import sqlalchemy as sa
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from sqlalchemy.orm import Session

from evidex.audit import service as audit
from evidex.cases import service as requests
from evidex.core import crypto
from evidex.core.canonical import CANON_JCS, CANON_LEGACY, chain_hash, legacy_chain_hash
from evidex.core.db import command, lock_row, recorded
from evidex.core.errors import Conflict, Forbidden, Invalid, NotFound
from evidex.core.secretbox import derive_keys
from evidex.evidence.models import CustodyEvent, EvidenceFile, EvidencePackage
from evidex.evidence.storage import Storage, StorageError
from evidex.exchange.envelope import SIGNATURE_ALG
from evidex.exchange.keys import NodeIdentity
from evidex.parties.models import User
from evidex.parties.roles import Principal, Role

GENESIS = "0" * 64
PRODUCERS = frozenset({Role.service_provider, Role.central_authority, Role.contact_24_7, Role.competent_authority})
# Who opens a file's content (a download, the CASE/UCO export): the roles that work the requests and
# produce their evidence, and the node itself (`evidex evidence export-case`). The data-protection
# officer and the administrator oversee and administer (MISSION.md: retention, access records; users,
# keys), a notified authority deals with the order, not the data (CETS224 Art 7(5)): they see the
# files' records, hashes and custody, not what the files hold (CETS224 Art 14(2): the data serve the request).
OPENERS = PRODUCERS | {Role.system}
MAX_FILE = 1 << 40  # 1 TiB: the ceiling of any setting
LIFELESS = ("disposed", "abandoned")  # files whose stored bytes are gone: they no longer count against a quota


@dataclass(frozen=True)
class Limits:
    """What may be declared and how long an upload may idle (settings EVIDEX_MAX_EVIDENCE_BYTES,
    EVIDEX_REQUEST_EVIDENCE_QUOTA_BYTES, EVIDEX_UPLOAD_IDLE_HOURS): storage is a shared resource."""

    max_file_bytes: int = 64 << 30
    request_quota_bytes: int = 256 << 30
    upload_idle: dt.timedelta = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Vault:
    storage: Storage
    keys: crypto.KeyRing
    signer: NodeIdentity | None = None  # with a node identity, custody events are signed by the node
    retention_days: dict[str, int] = field(default_factory=dict)  # per Party profile (CETS224 Art 14(5))
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def from_secret(cls, storage: Storage, secret: bytes, signer: NodeIdentity | None = None,
                    retention_days: dict[str, int] | None = None, previous: list[bytes] | None = None,
                    limits: Limits | None = None) -> Vault:
        """The key-encryption key derives from the node secret (HKDF); its id names it for rotation.
        Keys derived from `previous` secrets still unwrap (never wrap) until everything is rewrapped."""
        kid, ring = derive_keys(secret, previous, label=b"evidex evidence kek v1", kid_prefix="k-")
        return cls(storage, crypto.KeyRing(ring, kid), signer, dict(retention_days or {}), limits or Limits())

    def retain_until(self, party: str, sealed_at: dt.datetime) -> dt.datetime | None:
        days = self.retention_days.get(party)
        return sealed_at + dt.timedelta(days=days) if days else None


def last_custody(db: Session, evidence_id: uuid.UUID) -> CustodyEvent | None:
    """The newest custody event of a file: the head its next event links to."""
    return db.execute(sa.select(CustodyEvent).where(CustodyEvent.evidence_id == evidence_id)
                      .order_by(CustodyEvent.seq.desc()).limit(1)).scalar_one_or_none()


def custody(db: Session, ev: EvidenceFile, *, event: str, actor: Principal, at: dt.datetime, vault: Vault,
             hash_before: str | None = None, hash_after: str | None = None, details: dict[str, Any] | None = None) -> None:
    lock_row(db, EvidenceFile.id, ev.id)  # two events at once (two people opening the file) queue here
    last = last_custody(db, ev.id)
    seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
    details = json.loads(json.dumps(details or {}, default=str))
    h = custody_hash(ev.id, seq, event, actor.username, actor.party, at, hash_before, hash_after, details, prev)
    signature = None
    if vault.signer is not None:
        signature = jws.serialize_compact({"alg": SIGNATURE_ALG, "kid": vault.signer.signing_jwk["kid"]},
                                          h.encode("ascii"), vault.signer.signing_okp(), algorithms=[SIGNATURE_ALG])
    db.add(CustodyEvent(evidence_id=ev.id, seq=seq, event=event, actor=actor.username, party=actor.party, at=at,
                        hash_before=hash_before, hash_after=hash_after, details=details, prev_hash=prev, hash=h,
                        signature=signature))


def custody_hash(evidence_id: uuid.UUID, seq: int, event: str, actor: str, party: str, at: dt.datetime,
                 before: str | None, after: str | None, details: dict[str, Any], prev: str,
                 canon: int = CANON_JCS) -> str:
    """The event's hash: canon 2 (RFC 8785, what is written now) or canon 1 (events written before)."""
    fields = [str(evidence_id), seq, event, actor, party, at.astimezone(dt.UTC).isoformat(), before, after, details,
              prev]
    return chain_hash(fields) if canon == CANON_JCS else legacy_chain_hash(fields, ensure_ascii=True)


@dataclass(frozen=True)
class CustodyFinding:
    """One broken link of a custody chain: the event it concerns (`seq`, `event`) and what is wrong
    (`kind`: missing_before, unlinked, altered, unsigned), so a page can say it in the reader's language."""

    seq: int
    event: str
    kind: str
    missing: int = 0  # missing_before: how many events are missing before this one

    @property
    def message(self) -> str:
        if self.kind == "missing_before":
            return f"custody event {self.seq}: {self.missing} event(s) missing before it"
        if self.kind == "unlinked":
            return f"custody event {self.seq}: does not link to the event before it"
        if self.kind == "altered":
            return f"custody event {self.seq} ({self.event}): changed after it was written"
        return f"custody event {self.seq} ({self.event}): not signed by this node, or not as it stands"


def check_custody(db: Session, evidence_id: uuid.UUID, signer: NodeIdentity | None = None) -> list[CustodyFinding]:
    """The broken links of a file's custody chain (empty: intact). With the node's identity, each
    event's signature is checked too: a forger who rewrites the chain and all its hashes still
    cannot sign."""
    found: list[CustodyFinding] = []
    prev, expected = GENESIS, 1
    public = OKPKey.import_key(signer.signing_jwk) if signer is not None else None
    for e in db.execute(sa.select(CustodyEvent).where(CustodyEvent.evidence_id == evidence_id)
                        .order_by(CustodyEvent.seq)).scalars():
        if e.seq != expected:
            found.append(CustodyFinding(e.seq, e.event, "missing_before", e.seq - expected))
        if e.prev_hash != prev:
            found.append(CustodyFinding(e.seq, e.event, "unlinked"))
        if all(custody_hash(e.evidence_id, e.seq, e.event, e.actor, e.party, e.at, e.hash_before, e.hash_after,
                            e.details, e.prev_hash, canon) != e.hash for canon in (CANON_JCS, CANON_LEGACY)):
            found.append(CustodyFinding(e.seq, e.event, "altered"))
        if public is not None:
            try:
                signed = jws.deserialize_compact(e.signature or "", public, algorithms=[SIGNATURE_ALG]).payload
                if signed.decode("ascii") != e.hash:
                    raise ValueError
            except (JoseError, ValueError, UnicodeDecodeError):
                found.append(CustodyFinding(e.seq, e.event, "unsigned"))
        prev, expected = e.hash, e.seq + 1
    return found


def verify_custody(db: Session, evidence_id: uuid.UUID, signer: NodeIdentity | None = None) -> list[str]:
    """Problems in a file's custody chain (empty: intact), each naming the event (check_custody in words)."""
    return [f.message for f in check_custody(db, evidence_id, signer)]


def get(db: Session, *, actor: Principal, evidence_id: uuid.UUID) -> EvidenceFile:
    ev = db.get(EvidenceFile, evidence_id)
    if ev is None or ev.party != actor.party:
        raise NotFound("evidence not found")
    requests.get_request(db, actor=actor, request_id=ev.request_id, audit_read=False)  # same visibility rules
    return ev


def files_of_request(db: Session, *, actor: Principal, request_id: uuid.UUID) -> list[EvidenceFile]:
    req = requests.get_request(db, actor=actor, request_id=request_id, audit_read=False)  # same visibility
    return list(db.execute(sa.select(EvidenceFile).where(EvidenceFile.request_id == req.id,
                                                         EvidenceFile.party == actor.party)
                           .order_by(EvidenceFile.created_at)).scalars())


@dataclass(frozen=True)
class CustodyReport:
    """Custody events with the chain's check: `problems` is empty when every link holds."""

    events: list[CustodyEvent]
    problems: list[str]
    names: dict[uuid.UUID, str] = field(default_factory=dict)  # file name by evidence id, for a timeline
    findings: list[CustodyFinding] = field(default_factory=list)  # the problems, one per broken link


def custody_chain(db: Session, *, actor: Principal, evidence_id: uuid.UUID,
                  signer: NodeIdentity | None = None) -> CustodyReport:
    """A file's chain of custody, in order, checked link by link."""
    ev = get(db, actor=actor, evidence_id=evidence_id)
    events = list(db.execute(sa.select(CustodyEvent).where(CustodyEvent.evidence_id == ev.id)
                             .order_by(CustodyEvent.seq)).scalars())
    findings = check_custody(db, ev.id, signer=signer)
    return CustodyReport(events, [f.message for f in findings], {ev.id: ev.name}, findings)


def request_custody(db: Session, *, actor: Principal, request_id: uuid.UUID,
                    signer: NodeIdentity | None = None) -> CustodyReport:
    """The custody of every file of a request as one timeline; each chain checked, a problem named by its file."""
    files = files_of_request(db, actor=actor, request_id=request_id)
    names = {f.id: f.name for f in files}
    events = list(db.execute(
        sa.select(CustodyEvent).where(CustodyEvent.evidence_id.in_(list(names)))
        .order_by(CustodyEvent.at, CustodyEvent.evidence_id, CustodyEvent.seq)).scalars()) if names else []
    problems = [f"{f.name}: {p}" for f in files for p in verify_custody(db, f.id, signer=signer)]
    return CustodyReport(events, problems, names)


@dataclass(frozen=True)
class FileListing:
    """A file of a request as a desk lists it: who added it (the uploader's username, or the Party
    whose node sent it) and whether its custody chain holds (None: no custody event yet)."""

    file: EvidenceFile
    uploaded_by: str | None
    received_from: str | None
    custody_intact: bool | None


def list_files(db: Session, *, actor: Principal, request_id: uuid.UUID,
               signer: NodeIdentity | None = None) -> list[FileListing]:
    """The files of a request with their uploader or sender, each custody chain checked."""
    req = requests.get_request(db, actor=actor, request_id=request_id, audit_read=False)  # same visibility
    rows = db.execute(
        sa.select(EvidenceFile, User.username, EvidencePackage.peer)
        .outerjoin(User, User.id == EvidenceFile.created_by)
        .outerjoin(EvidencePackage, sa.and_(EvidencePackage.id == EvidenceFile.package_id,
                                            EvidencePackage.direction == "incoming"))
        .where(EvidenceFile.request_id == req.id, EvidenceFile.party == actor.party)
        .order_by(EvidenceFile.created_at, EvidenceFile.id)).all()
    with_events = set(db.execute(sa.select(CustodyEvent.evidence_id).distinct().where(
        CustodyEvent.evidence_id.in_([ev.id for ev, _u, _p in rows]))).scalars()) if rows else set()
    return [FileListing(ev, username, peer if ev.created_by is None else None,
                        (not check_custody(db, ev.id, signer=signer)) if ev.id in with_events else None)
            for ev, username, peer in rows]


def verify_stored(db: Session, *, actor: Principal, vault: Vault, evidence_id: uuid.UUID) -> str | None:
    """Read a sealed file back from storage and compare it with its recorded SHA-256, without
    opening it to anyone (no custody event): None if it matches, else what is wrong."""
    ev = get(db, actor=actor, evidence_id=evidence_id)
    if ev.status != "sealed" or ev.sha256 is None:
        raise Conflict(f"the evidence is {ev.status}: only a sealed file can be checked")
    try:
        verified_content(vault, ev)  # verifies everything before it returns a stream, never read here
    except crypto.IntegrityError as e:
        return str(e)
    except (NotFound, StorageError) as e:  # the file's record exists, its stored object is gone or unreachable
        return f"the stored file cannot be read: {e}"
    return None


def upload_file(db: Session, *, actor: Principal, vault: Vault, request_id: uuid.UUID, name: str, media_type: str,
                source: BinaryIO, declared_sha256: str | None, now: dt.datetime) -> EvidenceFile:
    """A whole file at once (a browser form without its upload script): hashed as it is read, then
    stored through the same resumable steps as the chunk API (start, chunks, complete), so it is
    sealed, audited and in custody exactly like one. `declared_sha256`, if the uploader has one
    (e.g. from the provider's production letter), must match or the file is rejected."""
    digest, size = hashlib.sha256(), 0
    source.seek(0)
    while piece := source.read(crypto.CHUNK_SIZE):
        digest.update(piece)
        size += len(piece)
    ev = start_upload(db, actor=actor, vault=vault, request_id=request_id, name=name, media_type=media_type,
                      size=size, sha256=declared_sha256 or digest.hexdigest(), now=now)
    source.seek(0)
    index = 0
    while index == 0 or index * crypto.CHUNK_SIZE < size:
        put_chunk(db, actor=actor, vault=vault, evidence_id=ev.id, index=index, data=source.read(crypto.CHUNK_SIZE),
                  now=now)
        index += 1
    return complete(db, actor=actor, vault=vault, evidence_id=ev.id, now=now)


@command
def start_upload(db: Session, *, actor: Principal, vault: Vault, request_id: uuid.UUID, name: str, media_type: str,
                 size: int, sha256: str, now: dt.datetime) -> EvidenceFile:
    if actor.role not in PRODUCERS:
        raise Forbidden(f"role {actor.role} does not produce evidence")
    req = requests.get_request(db, actor=actor, request_id=request_id, audit_read=False)
    if not (0 <= size <= MAX_FILE) or len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256.lower()):
        raise Invalid("declare the size in bytes and the SHA-256 (64 hex digits) of the file")
    limits = vault.limits
    if size > limits.max_file_bytes:
        raise Invalid(f"the declared size, {size} bytes, is over this node's limit for one file "
                      f"(EVIDEX_MAX_EVIDENCE_BYTES = {limits.max_file_bytes} bytes)")
    from evidex.requests.models import Request

    lock_row(db, Request.id, req.id)  # two uploads started at once for one request are counted one after the other
    used = db.execute(sa.select(sa.func.coalesce(sa.func.sum(EvidenceFile.declared_size), 0)).where(
        EvidenceFile.request_id == req.id, EvidenceFile.party == actor.party,
        EvidenceFile.status.not_in(LIFELESS))).scalar_one()
    if used + size > limits.request_quota_bytes:
        raise Invalid(f"the request's files would declare {used + size} bytes in all, over this node's quota per "
                      f"request (EVIDEX_REQUEST_EVIDENCE_QUOTA_BYTES = {limits.request_quota_bytes} bytes; "
                      f"{used} already declared)")
    ev = new_file(db, vault=vault, party=actor.party, request_id=req.id, name=name, media_type=media_type,
                  size=size, sha256=sha256, status="uploading", created_by=actor.user_id, now=now)
    audit.record(db, actor=actor, action="evidence.upload_start", object_type="evidence", object_id=str(ev.id),
                 at=now, details={"request": str(req.id), "size": size, "sha256": sha256})
    return ev


def _key(vault: Vault, ev: EvidenceFile) -> bytes:
    if ev.wrapped_key is None or ev.kek_id is None:
        raise Conflict("the data key of this evidence was erased (disposed)")
    return vault.keys.unwrap(crypto.WrappedKey(ev.kek_id, base64.b64decode(ev.wrapped_key)))


def _expected_chunks(ev: EvidenceFile) -> int:
    return max(1, -(-ev.declared_size // ev.chunk_size))


@command
def put_chunk(db: Session, *, actor: Principal, vault: Vault, evidence_id: uuid.UUID, index: int, data: bytes,
              now: dt.datetime) -> EvidenceFile:
    """Store chunk `index` (exactly chunk_size bytes, except the last). Resending a stored chunk
    with the same bytes is harmless; a gap answers 409 with the chunk expected next."""
    ev = _own_upload(db, actor=actor, evidence_id=evidence_id)
    store_chunk(vault, ev, index, data)
    ev.last_chunk_at = now
    return ev


def _own_upload(db: Session, *, actor: Principal, evidence_id: uuid.UUID) -> EvidenceFile:
    """A file being uploaded, for its uploader only: the user who started it (a system's API tokens
    all act as that system). Anyone else who may see it is refused before a byte is written, so no
    one can slip data into another's upload or make themselves its producer in the custody chain."""
    ev = get(db, actor=actor, evidence_id=evidence_id)
    lock_row(db, EvidenceFile.id, ev.id)  # against the sweep of abandoned uploads: one or the other
    db.refresh(ev)
    if ev.status != "uploading":
        raise Conflict(f"the upload is {ev.status}")
    if ev.created_by is None or ev.created_by != actor.user_id:
        raise Forbidden("only the user who started this upload may add chunks to it or complete it")
    return ev


def store_chunk(vault: Vault, ev: EvidenceFile, index: int, data: bytes) -> EvidenceFile:
    """Encrypt and store chunk `index` of a file being assembled (upload or package transfer)."""
    last_index = _expected_chunks(ev) - 1
    expected_len = ev.chunk_size if index < last_index else ev.declared_size - last_index * ev.chunk_size
    if index > last_index or len(data) != expected_len:
        raise Invalid(f"chunk {index} must hold {expected_len} bytes (declared size {ev.declared_size}, "
                      f"chunks of {ev.chunk_size})" if index <= last_index else f"no chunk {index}")
    head = vault.storage.read_range(ev.storage_name, 0, crypto.HEADER_SIZE)
    fid, _, prefix = crypto.read_header(head)
    blob = crypto.encrypt_chunk(_key(vault, ev), prefix, fid, index, data, last=False)
    offset = crypto.HEADER_SIZE + index * (ev.chunk_size + crypto.TAG)
    if index < ev.chunks_received:
        if vault.storage.read_range(ev.storage_name, offset, len(blob)) != blob:
            raise Conflict(f"chunk {index} was already received with other content")
        return ev
    if index > ev.chunks_received:
        raise Conflict(f"chunk {ev.chunks_received} is expected next")
    vault.storage.append(ev.storage_name, blob, offset)
    ev.chunks_received, ev.bytes_received = index + 1, ev.bytes_received + len(data)
    return ev


def finish(vault: Vault, ev: EvidenceFile) -> int:
    """All chunks are stored: mark the last one as last, then hash what was stored (streamed).
    Sets `ev.sha256` and returns the size; the caller compares them with what was declared."""
    n = _expected_chunks(ev)
    if ev.declared_size == 0 and ev.chunks_received == 0:
        store_chunk(vault, ev, 0, b"")
    if ev.chunks_received != n:
        raise Conflict(f"{ev.chunks_received} of {n} chunks received; chunk {ev.chunks_received} is expected next")
    key = _key(vault, ev)
    fid, _, prefix = crypto.read_header(vault.storage.read_range(ev.storage_name, 0, crypto.HEADER_SIZE))
    offset = crypto.HEADER_SIZE + (n - 1) * (ev.chunk_size + crypto.TAG)
    last = crypto.decrypt_chunk(key, prefix, fid, n - 1, vault.storage.read_range(ev.storage_name, offset,
                                                                                  ev.chunk_size + crypto.TAG), False)
    vault.storage.append(ev.storage_name, crypto.encrypt_chunk(key, prefix, fid, n - 1, last, last=True), offset)
    with vault.storage.reader(ev.storage_name) as f:
        digest, size = hashlib.sha256(), 0
        for piece in crypto.decrypt_stream(f, data_key=key, file_id=fid):
            digest.update(piece)
            size += len(piece)
    ev.sha256 = digest.hexdigest()
    return size


def read_chunk(vault: Vault, ev: EvidenceFile, index: int) -> bytes:
    """Chunk `index` of a sealed file, decrypted (and so verified) on its own."""
    n = _expected_chunks(ev)
    if not 0 <= index < n:
        raise Invalid(f"no chunk {index}")
    fid, _, prefix = crypto.read_header(vault.storage.read_range(ev.storage_name, 0, crypto.HEADER_SIZE))
    offset = crypto.HEADER_SIZE + index * (ev.chunk_size + crypto.TAG)
    blob = vault.storage.read_range(ev.storage_name, offset, ev.chunk_size + crypto.TAG)
    return crypto.decrypt_chunk(_key(vault, ev), prefix, fid, index, blob, last=index == n - 1)


def new_file(db: Session, *, vault: Vault, party: str, request_id: uuid.UUID, name: str, media_type: str,
             size: int, sha256: str, status: str, created_by: uuid.UUID | None, now: dt.datetime) -> EvidenceFile:
    """A file record with its own data key (wrapped) and its stored header: chunks come next."""
    wrapped = vault.keys.wrap(crypto.new_data_key())
    fid = uuid.uuid4().bytes
    head, _ = crypto.header(fid, crypto.CHUNK_SIZE)
    ev = EvidenceFile(party=party, request_id=request_id, name=name, media_type=media_type, declared_size=size,
                      declared_sha256=sha256.lower(), status=status, chunk_size=crypto.CHUNK_SIZE,
                      chunks_received=0, bytes_received=0, storage_name=uuid.uuid4().hex, file_id=fid.hex(),
                      kek_id=wrapped.kek_id, wrapped_key=base64.b64encode(wrapped.wrapped).decode(),
                      created_by=created_by, created_at=now, last_chunk_at=now)
    db.add(ev)
    db.flush()
    vault.storage.append(ev.storage_name, head, 0)
    return ev


@command
def complete(db: Session, *, actor: Principal, vault: Vault, evidence_id: uuid.UUID, now: dt.datetime) -> EvidenceFile:
    """Mark the last chunk, hash what was stored, and seal — or reject a hash that differs."""
    ev = _own_upload(db, actor=actor, evidence_id=evidence_id)
    size = finish(vault, ev)
    if ev.sha256 != ev.declared_sha256 or size != ev.declared_size:
        ev.status = "rejected"
        audit.record(db, actor=actor, action="evidence.rejected", object_type="evidence", object_id=str(ev.id),
                     at=now, details={"declared": ev.declared_sha256, "computed": ev.sha256})
        # The rejection stays (status and audit entry): the file can never be sealed.
        raise recorded(db, Invalid(f"the file's SHA-256 is {ev.sha256}, not the declared {ev.declared_sha256}: "
                                   "rejected"))
    ev.status, ev.sealed_at, ev.retain_until = "sealed", now, vault.retain_until(ev.party, now)
    custody(db, ev, event="produced", actor=actor, at=now, vault=vault, hash_after=ev.sha256,
             details={"name": ev.name, "size": size, "media_type": ev.media_type})
    custody(db, ev, event="sealed", actor=actor, at=now, vault=vault, hash_before=ev.sha256, hash_after=ev.sha256,
             details={"encryption": "AES-256-GCM chunks, key wrapped (RFC 3394)", "kek": ev.kek_id})
    audit.record(db, actor=actor, action="evidence.sealed", object_type="evidence", object_id=str(ev.id), at=now,
                 details={"sha256": ev.sha256, "size": size})
    return ev


@command
def open_content(db: Session, *, actor: Principal, vault: Vault, evidence_id: uuid.UUID,
                 now: dt.datetime) -> tuple[EvidenceFile, Iterator[bytes]]:
    """Verify the stored file against its hash, record the opening (custody, audit), then stream it."""
    may_open(actor)
    ev = get(db, actor=actor, evidence_id=evidence_id)
    if ev.status != "sealed" or ev.sha256 is None:
        raise Conflict(f"the evidence is {ev.status}")
    stream = verified_content(vault, ev)
    custody(db, ev, event="opened", actor=actor, at=now, vault=vault, hash_before=ev.sha256, hash_after=ev.sha256)
    audit.record(db, actor=actor, action="evidence.read", object_type="evidence", object_id=str(ev.id), at=now,
                 personal_data=True)
    return ev, stream


def may_open(actor: Principal) -> None:
    """Refused by role before any lookup: the same answer whether the file exists or not."""
    if actor.role not in OPENERS:
        raise Forbidden(f"role {actor.role} does not open evidence: its records and custody are shown instead")


def verified_content(vault: Vault, ev: EvidenceFile) -> Iterator[bytes]:
    """Check the whole stored file against its recorded hash now (IntegrityError names the chunk),
    then give a stream that decrypts it again for sending."""
    assert ev.sha256 is not None
    key, fid = _key(vault, ev), bytes.fromhex(ev.file_id)
    with vault.storage.reader(ev.storage_name) as f:
        crypto.verify_stream(f, data_key=key, file_id=fid, sha256=ev.sha256)

    def stream() -> Iterator[bytes]:
        with vault.storage.reader(ev.storage_name) as f2:
            yield from crypto.decrypt_stream(f2, data_key=key, file_id=fid)

    return stream()


DISPOSERS = frozenset({Role.data_protection_officer, Role.central_authority})


@command
def dispose(db: Session, *, actor: Principal, vault: Vault, evidence_id: uuid.UUID, reason: str,
            now: dt.datetime) -> EvidenceFile:
    """Disposal (CETS224 Art 14(5)): the data key is erased (cryptographic erasure) and the stored
    ciphertext deleted; the record, its hash and the custody chain remain, ending in 'disposed'."""
    if actor.role not in DISPOSERS:
        raise Forbidden("disposal is decided by the data protection officer or the central authority")
    if not reason.strip():
        raise Invalid("disposal needs a reason (e.g. the retention period of the Party's profile ended)")
    return erase(db, actor=actor, vault=vault, ev=get(db, actor=actor, evidence_id=evidence_id), reason=reason,
                 now=now)


def erase(db: Session, *, actor: Principal, vault: Vault, ev: EvidenceFile, reason: str,
          now: dt.datetime) -> EvidenceFile:
    """Cryptographic erasure, as decided by `dispose` or by the retention sweeper."""
    if ev.status == "disposed":
        raise Conflict("already disposed")
    before = ev.sha256
    ev.wrapped_key, ev.kek_id, ev.status = None, None, "disposed"
    custody(db, ev, event="disposed", actor=actor, at=now, vault=vault, hash_before=before, hash_after=None,
             details={"reason": reason.strip(), "method": "data key erased; ciphertext deleted"})
    audit.record(db, actor=actor, action="evidence.disposed", object_type="evidence", object_id=str(ev.id), at=now,
                 details={"reason": reason.strip()})
    db.flush()
    vault.storage.delete(ev.storage_name)
    return ev


def binding_conditions(db: Session, request_id: uuid.UUID) -> list[str]:
    """The conditions that bind the use of this request's data (ETS185 Art 28(2)-(3); CETS224
    Art 8(9)(b), 9(7)): shown with every access and embedded in every export."""
    from evidex.requests.models import RequestCondition

    rows = db.execute(sa.select(RequestCondition).where(RequestCondition.request_id == request_id,
                                                        RequestCondition.binding.is_(True))
                      .order_by(RequestCondition.proposed_at)).scalars()
    return [f"{c.kind}: {c.text}" + (f" ({c.article})" if c.article else "") for c in rows]


def build_vault(settings: Any, signer: NodeIdentity | None, retention_days: dict[str, int]) -> Vault:
    """The node's vault from its settings: storage (EVIDEX_EVIDENCE_URL or the local folder), key,
    signer and the Parties' retention periods."""
    from evidex.evidence.storage import open_storage

    return Vault.from_secret(open_storage(settings.evidence_url, settings.evidence_dir),
                             settings.secret_key.get_secret_value().encode(), signer=signer,
                             retention_days=retention_days,
                             previous=[p.get_secret_value().encode() for p in settings.previous_secret_keys],
                             limits=Limits(max_file_bytes=settings.max_evidence_bytes,
                                           request_quota_bytes=settings.request_evidence_quota_bytes,
                                           upload_idle=dt.timedelta(hours=settings.upload_idle_hours)))


@dataclass
class RewrapReport:
    rewrapped: int = 0
    unknown_keys: dict[str, int] = field(default_factory=dict)  # key id → files this node cannot unwrap


def rewrap_all(db: Session, *, vault: Vault, now: dt.datetime, batch: int = 500) -> RewrapReport:
    """Key rotation: every data key wrapped by an older key-encryption key is re-wrapped by the
    current one, committed in batches; the evidence itself is not touched. Files under a key this
    node does not hold are left as they are and counted."""
    report, last = RewrapReport(), uuid.UUID(int=0)
    while True:
        rows = db.execute(sa.select(EvidenceFile).where(EvidenceFile.wrapped_key.is_not(None),
                                                        EvidenceFile.kek_id != vault.keys.current,
                                                        EvidenceFile.id > last)
                          .order_by(EvidenceFile.id).limit(batch)).scalars().all()
        if not rows:
            return report
        for ev in rows:
            assert ev.kek_id is not None and ev.wrapped_key is not None
            if ev.kek_id not in vault.keys.keys:
                report.unknown_keys[ev.kek_id] = report.unknown_keys.get(ev.kek_id, 0) + 1
                continue
            new = vault.keys.rewrap(crypto.WrappedKey(ev.kek_id, base64.b64decode(ev.wrapped_key)))
            ev.kek_id, ev.wrapped_key = new.kek_id, base64.b64encode(new.wrapped).decode()
            report.rewrapped += 1
        last = rows[-1].id
        audit.record(db, actor=Principal.system(rows[0].party), action="evidence.rewrap", object_type="evidence",
                     object_id=None, at=now, details={"files": len(rows), "kek": vault.keys.current})
        db.commit()


def sweep_abandoned(db: Session, *, vault: Vault, now: dt.datetime, batch: int = 200) -> int:
    """Uploads with no chunk for the idle period (EVIDEX_UPLOAD_IDLE_HOURS) are abandoned: the data key
    and the partial ciphertext are erased, the file is marked abandoned with one audit note, and its
    record stays. Each file in its own transaction. Returns how many."""
    cutoff = now - vault.limits.upload_idle
    idle = sa.and_(EvidenceFile.status == "uploading",
                   sa.func.coalesce(EvidenceFile.last_chunk_at, EvidenceFile.created_at) < cutoff)
    ids = list(db.execute(sa.select(EvidenceFile.id).where(idle).order_by(EvidenceFile.created_at).limit(batch))
               .scalars())
    done = 0
    for evidence_id in ids:
        lock_row(db, EvidenceFile.id, evidence_id)  # a chunk arriving now waits, then finds it abandoned
        ev = db.execute(sa.select(EvidenceFile).where(EvidenceFile.id == evidence_id, idle)
                        .execution_options(populate_existing=True)).scalar_one_or_none()
        if ev is None:  # a chunk came meanwhile
            db.rollback()
            continue
        last = ev.last_chunk_at or ev.created_at
        ev.status, ev.wrapped_key, ev.kek_id = "abandoned", None, None
        audit.record(db, actor=Principal.system(ev.party), action="evidence.upload_abandoned", object_type="evidence",
                     object_id=str(ev.id), at=now,
                     details={"request": str(ev.request_id), "last_chunk_at": last.isoformat(),
                              "chunks_received": ev.chunks_received, "bytes_received": ev.bytes_received,
                              "declared_size": ev.declared_size,
                              "note": f"no chunk for {vault.limits.upload_idle}; the partial upload was erased"})
        db.commit()  # the key is gone first: what may be left in storage can never be read again
        vault.storage.delete(ev.storage_name)
        done += 1
    return done


def record_export(db: Session, *, actor: Principal, vault: Vault, request_id: uuid.UUID, target: str,
                  now: dt.datetime) -> int:
    """An export of a request's evidence records (CASE/UCO) is a custody event of each sealed file."""
    files = db.execute(sa.select(EvidenceFile).where(EvidenceFile.request_id == request_id,
                                                     EvidenceFile.party == actor.party,
                                                     EvidenceFile.status == "sealed")).scalars().all()
    for ev in files:
        custody(db, ev, event="exported", actor=actor, at=now, vault=vault, hash_before=ev.sha256,
                hash_after=ev.sha256, details={"format": "CASE/UCO JSON-LD", "to": target,
                                               "conditions": binding_conditions(db, request_id)})
    return len(files)
