"""Encryption at rest: round trips of every shape, and every kind of damage found and named."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from evidex.core.crypto import (
    CHUNK_SIZE,
    IntegrityError,
    KeyRing,
    decrypt_stream,
    encrypt_stream,
    new_data_key,
    verify_stream,
)
from evidex.evidence.storage import LocalStorage

FID = bytes(range(16))
SMALL = 1024  # small chunks make multi-chunk files cheap to test


def seal(data: bytes, chunk: int = SMALL, key: bytes | None = None) -> tuple[bytes, bytes, str]:
    key = key or new_data_key()
    out = io.BytesIO()
    sealed = encrypt_stream(io.BytesIO(data), out, data_key=key, file_id=FID, chunk_size=chunk)
    assert sealed.sha256 == hashlib.sha256(data).hexdigest() and sealed.size == len(data)
    return out.getvalue(), key, sealed.sha256


def plain(blob: bytes, key: bytes) -> bytes:
    return b"".join(decrypt_stream(io.BytesIO(blob), data_key=key, file_id=FID))


@pytest.mark.parametrize("size", [0, 1, SMALL - 1, SMALL, SMALL + 1, 5 * SMALL, 5 * SMALL + 17])
def test_round_trip(size):
    data = os.urandom(size)
    blob, key, sha = seal(data)
    assert plain(blob, key) == data
    assert verify_stream(io.BytesIO(blob), data_key=key, file_id=FID, sha256=sha) == size
    assert size < 16 or data[:64] not in blob  # a byte or two may occur in ciphertext by chance; 16 do not


def test_iterable_source_is_rechunked():
    data = os.urandom(3 * SMALL + 5)
    key, out = new_data_key(), io.BytesIO()
    encrypt_stream((data[i:i + 333] for i in range(0, len(data), 333)), out, data_key=key, file_id=FID,
                   chunk_size=SMALL)
    assert plain(out.getvalue(), key) == data


HEADER = 28
RECORD = SMALL + 16


def test_a_flipped_byte_is_found_and_named():
    blob, key, _ = seal(os.urandom(4 * SMALL))
    damaged = bytearray(blob)
    damaged[HEADER + 2 * RECORD + 100] ^= 0x01
    with pytest.raises(IntegrityError, match="chunk 2"):
        plain(bytes(damaged), key)


def test_reordered_chunks_are_found():
    blob, key, _ = seal(os.urandom(4 * SMALL))
    r = [blob[HEADER + i * RECORD: HEADER + (i + 1) * RECORD] for i in range(4)]
    swapped = blob[:HEADER] + r[1] + r[0] + b"".join(r[2:]) + blob[HEADER + 4 * RECORD:]
    with pytest.raises(IntegrityError, match="chunk 0"):
        plain(swapped, key)


def test_truncation_and_extension_are_found():
    blob, key, _ = seal(os.urandom(4 * SMALL + 10))
    with pytest.raises(IntegrityError):  # the last chunk dropped: chunk 3 is not marked last
        plain(blob[:HEADER + 4 * RECORD], key)
    with pytest.raises(IntegrityError):
        plain(blob[:-5], key)
    with pytest.raises(IntegrityError):
        plain(blob + blob[HEADER:HEADER + RECORD], key)


def test_wrong_key_or_file():
    blob, _, _ = seal(b"evidence")
    with pytest.raises(IntegrityError):
        plain(blob, new_data_key())
    with pytest.raises(IntegrityError, match="header"):
        b"".join(decrypt_stream(io.BytesIO(blob), data_key=new_data_key(), file_id=bytes(16)))


def test_hash_mismatch_is_reported():
    blob, key, _ = seal(b"evidence")
    with pytest.raises(IntegrityError, match="SHA-256"):
        verify_stream(io.BytesIO(blob), data_key=key, file_id=FID, sha256="0" * 64)


def test_key_rotation_rewraps_without_touching_data():
    old, new = os.urandom(32), os.urandom(32)
    ring = KeyRing({"k1": old}, "k1")
    data_key = new_data_key()
    wrapped = ring.wrap(data_key)
    blob, _, _ = seal(b"x" * 5000, key=data_key)
    rotated = KeyRing({"k1": old, "k2": new}, "k2")
    rewrapped = rotated.rewrap(wrapped)
    assert rewrapped.kek_id == "k2" and rewrapped.wrapped != wrapped.wrapped
    assert plain(blob, KeyRing({"k2": new}, "k2").unwrap(rewrapped)) == b"x" * 5000
    with pytest.raises(IntegrityError, match="does not hold"):
        KeyRing({"k2": new}, "k2").unwrap(wrapped)


def test_local_storage_is_atomic(tmp_path):
    store = LocalStorage(tmp_path)
    with pytest.raises(RuntimeError), store.writer("abc123") as f:
        f.write(b"half")
        raise RuntimeError("crash while writing")
    assert not store.exists("abc123") and not list(tmp_path.rglob("*.part"))
    with store.writer("abc123") as f:
        f.write(b"whole")
    with store.reader("abc123") as f:
        assert f.read() == b"whole"


def test_default_chunk_size_is_one_mebibyte():
    assert CHUNK_SIZE == 1024 * 1024
