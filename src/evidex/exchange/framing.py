"""The binary form of a batch POST between nodes (`application/vnd.evidex.batch`).

A batch is a list of (envelope, attachment or none). In JSON, a 1 MiB attachment must be
base64-encoded by the sender and parsed and decoded by the receiver; this framing carries the
bytes as they are, length-prefixed:

    b"EVXB\\x01"  u32 count  { u32 envelope length, envelope, u32 attachment length, attachment } × count

(unsigned 32-bit big-endian lengths; an attachment length of 0 means none). Nothing here is
trusted: every envelope is verified and every attachment AEAD-checked after unpacking.
"""

from __future__ import annotations

import struct

MEDIA_TYPE = "application/vnd.evidex.batch"
MAGIC = b"EVXB\x01"
_U32 = struct.Struct(">I")


def pack_batch(items: list[tuple[bytes, bytes | None]]) -> bytes:
    parts: list[bytes] = [MAGIC, _U32.pack(len(items))]
    for envelope, attachment in items:
        if not envelope:
            raise ValueError("an empty envelope")
        if attachment is not None and not attachment:
            raise ValueError("an empty attachment (say none instead)")
        parts += [_U32.pack(len(envelope)), envelope, _U32.pack(len(attachment or b"")), attachment or b""]
    return b"".join(parts)


def unpack_batch(body: bytes, max_items: int) -> list[tuple[bytes, memoryview | None]]:
    """The items of a packed batch; ValueError (with what is wrong) for anything else. Attachments
    are views into `body`, not copies (a batch is up to 16 MiB)."""
    view = memoryview(body)
    if view[:len(MAGIC)] != MAGIC:
        raise ValueError("not an evidex batch (magic)")
    pos = len(MAGIC)

    def take(n: int) -> memoryview:
        nonlocal pos
        if n < 0 or pos + n > len(view):
            raise ValueError("truncated batch")
        part = view[pos:pos + n]
        pos += n
        return part

    count = _U32.unpack(take(4))[0]
    if not 1 <= count <= max_items:
        raise ValueError(f"a batch holds 1 to {max_items} envelopes")
    items: list[tuple[bytes, memoryview | None]] = []
    for _ in range(count):
        envelope = bytes(take(_U32.unpack(take(4))[0]))
        if not envelope:
            raise ValueError("an empty envelope")
        size = _U32.unpack(take(4))[0]
        items.append((envelope, take(size) if size else None))
    if pos != len(view):
        raise ValueError("trailing bytes after the last envelope")
    return items
