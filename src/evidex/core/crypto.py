"""Encryption at rest, streamed: each file has its own random data key (AES-256-GCM), wrapped by
a key-encryption key of the node (envelope encryption, RFC 3394 key wrap). The file is encrypted
in chunks; each chunk's additional data binds the file id, the chunk's position and whether it
is the last one, so a changed, reordered, dropped or appended chunk — or a truncated file — is
detected and named. Rotating the key-encryption key re-wraps data keys; data is never re-encrypted.
Memory stays at one chunk whatever the file size.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from evidex.core.errors import EvidexError

MAGIC = b"EVX1"
CHUNK_SIZE = 1024 * 1024
TAG = 16
_HEADER = struct.Struct(">4s16sI4s")  # magic, file id, chunk size, nonce prefix
_AAD = struct.Struct(">16sQ?")  # file id, chunk index, last chunk?


class IntegrityError(EvidexError):
    """Stored evidence does not match what was written: the message names where."""


@dataclass(frozen=True)
class WrappedKey:
    kek_id: str
    wrapped: bytes


class KeyRing:
    """The node's key-encryption keys by id; the newest wraps, any of them unwraps."""

    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        if current not in keys or any(len(k) != 32 for k in keys.values()):
            raise ValueError("a key ring needs 32-byte keys and its current key among them")
        self.keys, self.current = dict(keys), current

    def wrap(self, data_key: bytes) -> WrappedKey:
        return WrappedKey(self.current, aes_key_wrap(self.keys[self.current], data_key))

    def unwrap(self, wk: WrappedKey) -> bytes:
        kek = self.keys.get(wk.kek_id)
        if kek is None:
            raise IntegrityError(f"the data key is wrapped by key {wk.kek_id}, which this node does not hold")
        try:
            return aes_key_unwrap(kek, wk.wrapped)
        except InvalidUnwrap as e:
            raise IntegrityError("the wrapped data key is damaged") from e

    def rewrap(self, wk: WrappedKey) -> WrappedKey:
        """Key rotation: the same data key under the current key-encryption key."""
        return self.wrap(self.unwrap(wk))


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


@dataclass
class Sealed:
    sha256: str  # of the plaintext, computed while it streamed
    size: int
    chunks: int


def _chunks(src: BinaryIO | Iterable[bytes], size: int) -> Iterator[bytes]:
    """Re-chunk any stream into pieces of exactly `size` (the last may be shorter)."""
    if hasattr(src, "read"):
        while True:
            piece = src.read(size)
            if not piece:
                return
            yield piece
        return
    buf = bytearray()
    for part in src:
        buf += part
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)


def encrypt_stream(src: BinaryIO | Iterable[bytes], dst: BinaryIO, *, data_key: bytes, file_id: bytes,
                   chunk_size: int = CHUNK_SIZE) -> Sealed:
    """Encrypt `src` into `dst` chunk by chunk, hashing the plaintext on the way."""
    if len(file_id) != 16:
        raise ValueError("file_id must be 16 bytes")
    head, prefix = header(file_id, chunk_size)
    digest = hashlib.sha256()
    dst.write(head)
    index, size = 0, 0
    pending: bytes | None = None
    for piece in _chunks(src, chunk_size):
        if pending is not None:  # one chunk of look-ahead, to know which chunk is the last
            dst.write(encrypt_chunk(data_key, prefix, file_id, index, pending, last=False))
            index += 1
        digest.update(piece)
        size += len(piece)
        pending = piece
    # The last chunk is always written (empty for an empty file) and marked last: truncation shows.
    dst.write(encrypt_chunk(data_key, prefix, file_id, index, pending or b"", last=True))
    return Sealed(sha256=digest.hexdigest(), size=size, chunks=index + 1)


def decrypt_stream(src: BinaryIO, *, data_key: bytes, file_id: bytes) -> Iterator[bytes]:
    """Yield the plaintext chunk by chunk; raise IntegrityError naming the first bad chunk."""
    header = src.read(_HEADER.size)
    if len(header) != _HEADER.size:
        raise IntegrityError("the stored file is shorter than its header")
    magic, fid, chunk_size, prefix = _HEADER.unpack(header)
    if magic != MAGIC or fid != file_id:
        raise IntegrityError("the stored file is not this evidence file (header mismatch)")
    aead, index = AESGCM(data_key), 0
    record = chunk_size + TAG
    current = src.read(record)
    while True:
        following = src.read(record)
        last = not following
        if len(current) < TAG:
            raise IntegrityError(f"chunk {index}: missing or cut short (file truncated)")
        try:
            plain = aead.decrypt(prefix + struct.pack(">Q", index), current, _AAD.pack(fid, index, last))
        except InvalidTag as e:
            where = "the last chunk" if last else f"chunk {index}"
            raise IntegrityError(f"{where} (bytes {_HEADER.size + index * record}–"
                                 f"{_HEADER.size + index * record + len(current) - 1}) was altered, moved, "
                                 "or the file was truncated or extended") from e
        yield plain
        if last:
            return
        current, index = following, index + 1


def verify_stream(src: BinaryIO, *, data_key: bytes, file_id: bytes, sha256: str) -> int:
    """Decrypt everything and compare with the recorded hash; returns the size."""
    digest, size = hashlib.sha256(), 0
    for piece in decrypt_stream(src, data_key=data_key, file_id=file_id):
        digest.update(piece)
        size += len(piece)
    if digest.hexdigest() != sha256:
        raise IntegrityError(f"SHA-256 {digest.hexdigest()} differs from the recorded {sha256}")
    return size


# --------------------------------------------------------------------------- resumable uploads
HEADER_SIZE = _HEADER.size


def header(file_id: bytes, chunk_size: int) -> tuple[bytes, bytes]:
    """A new file's header and its nonce prefix."""
    prefix = os.urandom(4)
    return _HEADER.pack(MAGIC, file_id, chunk_size, prefix), prefix


def read_header(data: bytes) -> tuple[bytes, int, bytes]:
    magic, fid, chunk_size, prefix = _HEADER.unpack(data[:HEADER_SIZE])
    if magic != MAGIC:
        raise IntegrityError("not an evidex evidence file")
    return fid, chunk_size, prefix


def encrypt_chunk(data_key: bytes, prefix: bytes, file_id: bytes, index: int, data: bytes, last: bool) -> bytes:
    """One chunk, exactly as encrypt_stream writes it (deterministic for the same inputs)."""
    return AESGCM(data_key).encrypt(prefix + struct.pack(">Q", index), data, _AAD.pack(file_id, index, last))


def decrypt_chunk(data_key: bytes, prefix: bytes, file_id: bytes, index: int, blob: bytes, last: bool) -> bytes:
    try:
        return AESGCM(data_key).decrypt(prefix + struct.pack(">Q", index), blob, _AAD.pack(file_id, index, last))
    except InvalidTag as e:
        raise IntegrityError(f"chunk {index} was altered") from e
