"""Received payloads encrypted at rest: the inbox bodies in their rows and the spool files, as the
evidence is (core/crypto.py). Each payload gets its own random AES-256-GCM data key, wrapped
(RFC 3394) by a key-encryption key derived from the node secret, EVIDEX_SECRET_KEY — the evidence
key hierarchy, under its own HKDF label, so the same rotation (EVIDEX_PREVIOUS_SECRET_KEYS, then
`evidex evidence rewrap`) covers it. CETS224 Art 14(7): security of the personal data received.

The stored bytes describe themselves, so no column says which rows are sealed:

    "EVXP" | version 1 | kid length | kid | wrapped data key (40) | nonce prefix (4) | chunk size (4)
    then chunks of at most `chunk size` bytes, each AES-GCM ciphertext + 16-byte tag

Each chunk's additional data binds the format, the payload's place (the inbox row's message id or the
spool file's name), the chunk's position and whether it is the last: a changed, moved, swapped,
reordered, truncated or extended payload is refused on read (IntegrityError), never returned wrong.
The key id and wrapped key are outside it, so a rotation rewrites the header only.

Payloads stored before this existed are plaintext JSON objects: recognised by their first byte `{`
(a sealed payload starts with the magic; anything else is damage), read as they are, and sealed by
`evidex evidence rewrap`.
"""

from __future__ import annotations

import datetime as dt
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from evidex.core.crypto import IntegrityError, KeyRing, WrappedKey, new_data_key
from evidex.core.secretbox import derive_keys

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from evidex.exchange.spool import Spool

MAGIC = b"EVXP"
VERSION = 1
CHUNK_SIZE = 1024 * 1024
TAG = 16
WRAPPED = 40  # an AES-256 key wrapped by RFC 3394
_HEAD = struct.Struct(">4sBB")  # magic, version, length of the key id
_TAIL = struct.Struct(f">{WRAPPED}s4sI")  # wrapped data key, nonce prefix, chunk size
_AAD = struct.Struct(">4sBIQ?")  # magic, version, chunk size, chunk index, last chunk? (+ the place)
MAX_HEADER = _HEAD.size + 255 + _TAIL.size
KEK_LABEL = b"evidex received-payload kek v1"  # HKDF info: the evidence hierarchy, another purpose


class PayloadDamaged(IntegrityError):
    """A stored received payload is not what this node wrote (changed, moved, cut or unreadable)."""


class UnknownKey(PayloadDamaged):
    def __init__(self, kid: str) -> None:
        super().__init__(f"the payload's data key is wrapped by key {kid}, which this node does not hold")
        self.kid = kid


def key_ring(secret: bytes, previous: list[bytes] | None = None) -> KeyRing:
    """The key-encryption keys of received payloads: the current secret's wraps, the previous ones'
    still unwrap (until `evidex evidence rewrap`)."""
    kid, ring = derive_keys(secret, previous, label=KEK_LABEL, kid_prefix="p-")
    return KeyRing(ring, kid)


def sealer_of(settings: Any) -> Sealer:
    """The node's sealer: EVIDEX_SECRET_KEY wraps, EVIDEX_PREVIOUS_SECRET_KEYS still unwrap."""
    return Sealer(key_ring(settings.secret_key.get_secret_value().encode(),
                           [p.get_secret_value().encode() for p in settings.previous_secret_keys]),
                  accept_plaintext=settings.accept_plaintext_payloads)


def row_place(msg_id: str) -> bytes:
    return b"inbox:" + msg_id.encode()


def file_place(name: str) -> bytes:
    return b"spool:" + name.encode()


def is_sealed(head: bytes | memoryview) -> bool:
    return bytes(head[:4]) == MAGIC


class Sealer:
    """Seals and opens received payloads with the node's payload key ring."""

    def __init__(self, keys: KeyRing, chunk_size: int = CHUNK_SIZE, *, accept_plaintext: bool = True) -> None:
        self.keys, self.chunk_size = keys, chunk_size
        # False once everything is sealed: a payload an insider replaced by clear text is then refused too.
        self.accept_plaintext = accept_plaintext

    def header_size(self) -> int:
        return _HEAD.size + len(self.keys.current.encode()) + _TAIL.size

    def size(self, n: int) -> int:
        """Bytes of a sealed payload of `n` bytes (for writing it straight into a buffer)."""
        return self.header_size() + n + TAG * max(1, -(-n // self.chunk_size))

    def seal_into(self, data: bytes | memoryview, place: bytes, out: memoryview) -> None:
        """Seal `data` into `out` (exactly size(len(data)) bytes), a chunk at a time: no copy of the
        payload is made beside `out` (a large spool file is encrypted into the buffer it is written from)."""
        data = memoryview(data)
        data_key = new_data_key()
        wrapped = self.keys.wrap(data_key)
        prefix = os.urandom(4)
        kid = wrapped.kek_id.encode()
        head = _HEAD.pack(MAGIC, VERSION, len(kid)) + kid + _TAIL.pack(wrapped.wrapped, prefix, self.chunk_size)
        if len(out) != self.size(len(data)):
            raise ValueError("the buffer is not the sealed size")
        out[:len(head)] = head
        aead, at, index, n = AESGCM(data_key), len(head), 0, len(data)
        while True:
            piece = data[index * self.chunk_size:(index + 1) * self.chunk_size]
            last = (index + 1) * self.chunk_size >= n
            aead.encrypt_into(prefix + index.to_bytes(8, "big"), piece, _aad(self.chunk_size, index, last, place),
                              out[at:at + len(piece) + TAG])
            at += len(piece) + TAG
            if last:
                return
            index += 1

    def seal(self, data: bytes | memoryview, place: bytes) -> bytes:
        out = bytearray(self.size(len(data)))
        self.seal_into(data, place, memoryview(out))
        return bytes(out)

    def open(self, blob: bytes | memoryview, place: bytes) -> bytes:
        """The payload of a stored row or file: decrypted and verified if sealed, as it is if it
        is a plaintext payload from before; PayloadDamaged otherwise."""
        blob = memoryview(blob)
        if not is_sealed(blob):
            return self._plaintext(bytes(blob))
        chunk_size, head_len, aead, prefix = self._opened_header(bytes(blob[:MAX_HEADER]))
        n, records = _plain_size(len(blob) - head_len, chunk_size)
        out = bytearray(n)
        for index in range(records):
            start = head_len + index * (chunk_size + TAG)
            record = blob[start:start + chunk_size + TAG]
            _decrypt_into(aead, prefix, chunk_size, index, index == records - 1, place, record,
                          memoryview(out)[index * chunk_size:index * chunk_size + len(record) - TAG])
        return bytes(out)

    def open_file(self, path: Path, place: bytes) -> bytes | bytearray:
        """open() of a file, read a chunk at a time and decrypted into the one buffer returned (the
        payload is never twice in memory)."""
        with open(path, "rb") as f:
            head = f.read(MAX_HEADER)
            if not is_sealed(head):
                f.seek(0)
                return self._plaintext(f.read())
            chunk_size, head_len, aead, prefix = self._opened_header(head)
            n, records = _plain_size(os.fstat(f.fileno()).st_size - head_len, chunk_size)
            f.seek(head_len)
            out, record = bytearray(n), bytearray(chunk_size + TAG)
            for index in range(records):
                got = f.readinto(record)
                last = index == records - 1
                if got != len(record) and not (last and got >= TAG):
                    raise PayloadDamaged(f"the stored payload changed while it was read (chunk {index})")
                _decrypt_into(aead, prefix, chunk_size, index, last, place, memoryview(record)[:got],
                              memoryview(out)[index * chunk_size:index * chunk_size + got - TAG])
        return out

    def rewrapped_header(self, head: bytes) -> tuple[bytes, bytes] | None:
        """Key rotation: (old header, the same data key's header under the current key-encryption key),
        or None if it is under the current key already. The payload itself is not touched."""
        kid, wrapped, prefix, chunk_size, head_len = _parse_header(head)
        if kid == self.keys.current:
            return None
        if kid not in self.keys.keys:
            raise UnknownKey(kid)
        new = self.keys.rewrap(WrappedKey(kid, wrapped))
        new_kid = new.kek_id.encode()
        return head[:head_len], (_HEAD.pack(MAGIC, VERSION, len(new_kid)) + new_kid
                                 + _TAIL.pack(new.wrapped, prefix, chunk_size))

    def _plaintext(self, blob: bytes) -> bytes:
        if not self.accept_plaintext:
            raise PayloadDamaged("the stored payload is in clear, and this node reads only sealed payloads "
                                 "(EVIDEX_ACCEPT_PLAINTEXT_PAYLOADS is false)")
        return plaintext_payload(blob)

    def _opened_header(self, head: bytes) -> tuple[int, int, AESGCM, bytes]:
        kid, wrapped, prefix, chunk_size, head_len = _parse_header(head)
        if kid not in self.keys.keys:
            raise UnknownKey(kid)
        try:
            data_key = self.keys.unwrap(WrappedKey(kid, wrapped))
        except IntegrityError as e:
            raise PayloadDamaged(f"the stored payload cannot be opened: {e}") from e
        return chunk_size, head_len, AESGCM(data_key), prefix


def _parse_header(head: bytes) -> tuple[str, bytes, bytes, int, int]:
    """(key id, wrapped data key, nonce prefix, chunk size, header length) of a sealed payload."""
    if len(head) < _HEAD.size:
        raise PayloadDamaged("the stored payload is shorter than its header")
    magic, version, kid_len = _HEAD.unpack_from(head)
    if magic != MAGIC or version != VERSION:
        raise PayloadDamaged(f"the stored payload has an unknown format (version {version})")
    head_len = _HEAD.size + kid_len + _TAIL.size
    if len(head) < head_len:
        raise PayloadDamaged("the stored payload is shorter than its header")
    wrapped, prefix, chunk_size = _TAIL.unpack_from(head, _HEAD.size + kid_len)
    try:
        kid = head[_HEAD.size:_HEAD.size + kid_len].decode("ascii")
    except UnicodeDecodeError as e:
        raise PayloadDamaged("the stored payload's key id is damaged") from e
    if chunk_size < 1:
        raise PayloadDamaged("the stored payload's header is damaged")
    return kid, wrapped, prefix, chunk_size, head_len


def _plain_size(body: int, chunk_size: int) -> tuple[int, int]:
    """(plaintext bytes, chunks) of a sealed body of `body` bytes after the header."""
    records = max(1, -(-body // (chunk_size + TAG)))
    last = body - (records - 1) * (chunk_size + TAG)
    if body < TAG or last < TAG:
        raise PayloadDamaged("the stored payload was cut short")
    return body - records * TAG, records


def _aad(chunk_size: int, index: int, last: bool, place: bytes) -> bytes:
    return _AAD.pack(MAGIC, VERSION, chunk_size, index, last) + place


def _decrypt_into(aead: AESGCM, prefix: bytes, chunk_size: int, index: int, last: bool, place: bytes,
                  record: memoryview, out: memoryview) -> None:
    try:
        aead.decrypt_into(prefix + index.to_bytes(8, "big"), record, _aad(chunk_size, index, last, place), out)
    except InvalidTag as e:
        raise PayloadDamaged(f"chunk {index} of the stored payload was altered or moved, or the payload was cut "
                             "or extended") from e


def plaintext_payload(blob: bytes) -> bytes:
    """A payload stored in clear before encryption at rest: a JSON object, nothing else."""
    if blob[:64].lstrip(b" \t\r\n")[:1] != b"{":  # the head only: no copy of a large payload
        raise PayloadDamaged("the stored payload is neither sealed nor a plaintext payload: it was altered")
    return blob


# --------------------------------------------------------------------------- key rotation
@dataclass
class RewrapReport:
    rewrapped: int = 0  # data keys re-wrapped under the current key (rows and files)
    sealed: int = 0  # payloads stored in clear before encryption at rest, sealed now
    unknown_keys: dict[str, int] = field(default_factory=dict)  # key id → payloads this node cannot unwrap
    damaged: list[str] = field(default_factory=list)  # message ids whose payload cannot be read


def rewrap_received(db: Session, *, spool: Spool, party: str, now: dt.datetime, batch: int = 200) -> RewrapReport:
    """`evidex evidence rewrap` for received payloads: every data key under an older key-encryption key
    re-wrapped under the current one (the header only), and payloads still in clear sealed; committed
    in batches. A row is replaced only if it is still as it was read (an erasure meanwhile wins)."""
    from evidex.audit import service as audit
    from evidex.exchange.models import InboxMessage
    from evidex.parties.roles import Principal

    assert spool.sealer is not None
    sealer, report, last = spool.sealer, RewrapReport(), ""
    while True:
        rows = db.execute(sa.select(InboxMessage.msg_id, InboxMessage.body, InboxMessage.body_file)
                          .where(InboxMessage.msg_id > last).order_by(InboxMessage.msg_id).limit(batch)).all()
        if not rows:
            return report
        before = (report.rewrapped, report.sealed)
        # Files first, rows after: the spool's exclusive lock (sealing a plaintext file) is never awaited
        # while this transaction holds SQLite's write lock, which a receiver holding the shared lock awaits.
        for msg_id, body, body_file in sorted(rows, key=lambda r: r.body_file is None):
            try:
                if body_file is not None:
                    if spool.rewrap(body_file):
                        report.rewrapped += 1
                    elif spool.seal_plaintext(body_file):
                        report.sealed += 1
                elif body:
                    new = _rewrapped_row(sealer, msg_id, body, report)
                    if new is not None:
                        db.execute(sa.update(InboxMessage).where(InboxMessage.msg_id == msg_id,
                                                                 InboxMessage.body == body).values(body=new)
                                   .execution_options(synchronize_session=False))
            except UnknownKey as e:
                report.unknown_keys[e.kid] = report.unknown_keys.get(e.kid, 0) + 1
            except (PayloadDamaged, OSError) as e:
                report.damaged.append(f"{msg_id}: {e}")
        last = rows[-1].msg_id
        if (report.rewrapped, report.sealed) != before:
            audit.record(db, actor=Principal.system(party), action="exchange.payloads_rewrap", object_type="message",
                         object_id=None, at=now, details={"rewrapped": report.rewrapped - before[0],
                                                          "sealed": report.sealed - before[1],
                                                          "kek": sealer.keys.current})
        db.commit()


def _rewrapped_row(sealer: Sealer, msg_id: str, body: bytes, report: RewrapReport) -> bytes | None:
    if not is_sealed(body):
        sealed = sealer.seal(plaintext_payload(body), row_place(msg_id))
        report.sealed += 1
        return sealed
    new = sealer.rewrapped_header(body[:MAX_HEADER])
    if new is None:
        return None
    old, header = new
    report.rewrapped += 1
    return header + body[len(old):]
