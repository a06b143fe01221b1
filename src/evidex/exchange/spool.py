"""Large message bodies received from other nodes, one file each, beside the database.

A receiving node must store a message durably before it answers with a delivery receipt. Storing a
1 MiB body in SQLite writes it twice (the write-ahead log, then the database file at checkpoint) in
4 KiB pages, holding the database's single write lock the while: the receiver spent more time on that
than on everything else (bench/exchange_bench.py). A file is written once. The order makes it crash-
safe: every file of a batch is written and flushed to disk (fdatasync, then the folder) before the
transaction naming them commits, so a committed row never names a missing file; a file whose row
never committed (a crash, a refused batch) is an orphan, removed by `sweep` once an hour old. The
sweep never runs while a receiver is between writing its files and committing (a file lock, shared
by receivers, exclusive for the sweep), so a file is never taken for an orphan because its row is
about to be committed.

Files are encrypted at rest (exchange/sealed.py), straight into the buffer they are written from; a
changed file is refused on read.

Names are not chosen by the sender: a file is named by the SHA-256 of (message id, SHA-256 of the
payload that crossed), so a path is never built from what another node wrote, and a second message
under the same id with other content (a replay, refused) never lands on the first one's file. Back
the folder up with the database, as the evidence folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import mmap
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from evidex.exchange.sealed import (
    MAX_HEADER,
    PayloadDamaged,
    Sealer,
    file_place,
    is_sealed,
    plaintext_payload,
    row_place,
    sealer_of,
)

SPOOL_OVER = 64 * 1024  # bodies larger than this go to files; smaller ones stay in their row
ORPHAN_AFTER = dt.timedelta(hours=1)  # far longer than any receiving transaction
_NAME = re.compile(r"^[0-9a-f]{64}$")
LOCK_FILE = ".lock"
_TMP = re.compile(r"^[0-9a-f]{64}\.tmp-[0-9a-f]{16}$")


DEFAULT_PEER_QUOTA = 4 << 30  # EVIDEX_SPOOL_PEER_QUOTA_BYTES


class Spool:
    """`sealer`: files are encrypted at rest (exchange/sealed.py) — every node's spool has one
    (`evidex serve`, `evidex worker`); without one (tests of the folder's mechanics) bytes are kept as given.
    `peer_quota`: bytes one peer's payloads may occupy here (exchange.service checks it)."""

    def __init__(self, root: Path, sealer: Sealer | None = None, peer_quota: int = DEFAULT_PEER_QUOTA) -> None:
        self.root = Path(root)
        self.sealer = sealer
        self.peer_quota = peer_quota

    @classmethod
    def of_node(cls, settings: Any) -> Spool:
        """The node's spool (EVIDEX_SPOOL_DIR), sealing under the key ring of EVIDEX_SECRET_KEY and
        EVIDEX_PREVIOUS_SECRET_KEYS, with its per-peer quota (EVIDEX_SPOOL_PEER_QUOTA_BYTES): the spool of
        `evidex serve` and `evidex worker`."""
        return cls(settings.spool_dir, sealer_of(settings), peer_quota=settings.spool_peer_quota_bytes)

    @staticmethod
    def name(msg_id: str, payload_sha256: str) -> str:
        return hashlib.sha256(f"{msg_id}\n{payload_sha256}".encode()).hexdigest()

    def path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise ValueError(f"not a spool file name: {name!r}")
        return self.root / name

    def write(self, files: Iterable[tuple[str, bytes | memoryview]]) -> None:
        """Write each (name, bytes) durably: flushed to disk and renamed into place, the folder flushed
        once after all. Raises OSError (disk full, no permission) with nothing left under a final name
        that was not fully written."""
        files = list(files)
        if not files:
            return
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        done: list[tuple[Path, Path]] = []
        try:
            for name, data in files:
                final = self.path(name)
                tmp = final.with_name(f"{name}.tmp-{secrets.token_hex(8)}")
                _write_file(tmp, data, done, final, self.sealer, file_place(name))
            for tmp, final in done:
                os.replace(tmp, final)
        except BaseException:
            for tmp, _ in done:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            raise
        _fsync_dir(self.root)

    def read(self, name: str) -> bytes | bytearray:
        """The payload in a file: decrypted and verified (PayloadDamaged if it was changed), or as it
        is if written in clear before encryption at rest."""
        if self.sealer is not None:
            return self.sealer.open_file(self.path(name), file_place(name))
        data = self.path(name).read_bytes()
        if is_sealed(data):
            raise PayloadDamaged(f"spool file {name} is encrypted and this spool has no key")
        return data

    def seal_row(self, msg_id: str, body: bytes) -> bytes:
        """A payload kept in its inbox row (small ones), sealed like the files."""
        return self.sealer.seal(body, row_place(msg_id)) if self.sealer is not None else body

    def open_row(self, msg_id: str, body: bytes) -> bytes:
        if self.sealer is not None:
            return self.sealer.open(body, row_place(msg_id))
        if is_sealed(body):
            raise PayloadDamaged(f"the payload of message {msg_id} is encrypted and this spool has no key")
        return body

    def rewrap(self, name: str) -> bool:
        """Key rotation: the file's data key re-wrapped under the current key, its header rewritten in
        place (same length) and flushed; the payload is not touched. True if it was rewritten. A file
        replaced meanwhile (erase rewrites by rename) keeps its new, current header: the write lands in
        the replaced file. False for a file written in clear (see seal_plaintext)."""
        assert self.sealer is not None
        fd = os.open(self.path(name), os.O_RDWR)
        try:
            head = os.pread(fd, MAX_HEADER, 0)
            if not is_sealed(head):
                return False
            new = self.sealer.rewrapped_header(head)
            if new is None:
                return False
            old, header = new
            if len(header) != len(old):  # key ids are all of one length; never move the payload
                raise PayloadDamaged(f"spool file {name}: the new header does not fit in place")
            os.pwrite(fd, header, 0)
            os.fdatasync(fd)
            return True
        finally:
            os.close(fd)

    def seal_plaintext(self, name: str) -> bool:
        """A file written in clear before encryption at rest, sealed (written anew, durably, renamed
        into place). Under the exclusive lock, which erase_from_payload's read-and-rewrite also takes,
        so a payload erased meanwhile is never written back. True if it was sealed."""
        with self._lock(fcntl.LOCK_EX):
            data = self.path(name).read_bytes()
            if is_sealed(data):
                return False
            self.write([(name, plaintext_payload(data))])
            return True

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Held by a receiver from writing its files until its transaction has committed (or rolled
        back): the sweep never runs between the two, so it never takes a file for an orphan because
        the row naming it is not committed yet — not even a file a retry has just written again under
        an old orphan's name. Shared: receivers (all processes of the node) do not wait for one another."""
        with self._lock(fcntl.LOCK_SH):
            yield

    @contextlib.contextmanager
    def _lock(self, kind: int) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, kind)
            yield
        finally:
            os.close(fd)  # releases the lock

    def sweep(self, referenced: Callable[[list[str]], set[str]], now: dt.datetime,
              older_than: dt.timedelta = ORPHAN_AFTER) -> int:
        """Remove files no stored message names (`referenced` answers which of some names are still
        named), and leftovers of interrupted writes, once older than `older_than`. Returns how many."""
        if not self.root.is_dir():
            return 0
        cutoff = (now - older_than).timestamp()
        candidates: list[str] = []
        removed = 0
        with os.scandir(self.root) as entries:
            for entry in entries:
                if not entry.is_file(follow_symlinks=False) or entry.stat().st_mtime > cutoff:
                    continue
                if _TMP.match(entry.name):
                    removed += _unlink(self.root / entry.name)
                elif _NAME.match(entry.name):
                    candidates.append(entry.name)
        for k in range(0, len(candidates), 500):
            chunk = candidates[k:k + 500]
            with self._lock(fcntl.LOCK_EX):  # no receiver between its files and its commit (writing())
                kept = referenced(chunk)
                removed += sum(_unlink(self.root / name) for name in chunk if name not in kept)
        return removed


# Written around the page cache (O_DIRECT) where the file system allows it: a buffered write copies
# each payload into page-cache pages the kernel must first find and map, which cost the receiving node
# more CPU than the write itself (perf: copy_folio_from_iter_atomic); the file is read rarely after.
# O_DIRECT needs the memory and the length aligned: each thread keeps one aligned buffer for it.
_ALIGN = 4096
_buffers = threading.local()


def _aligned(size: int) -> mmap.mmap:
    buf: mmap.mmap | None = getattr(_buffers, "buf", None)
    if buf is None or len(buf) < size:
        if buf is not None:
            buf.close()
        buf = _buffers.buf = mmap.mmap(-1, max(size, 2 * 1024 * 1024))  # page-aligned, reused
    return buf


def _write_all(fd: int, view: memoryview) -> None:
    while view:  # os.write may write less than asked
        view = view[os.write(fd, view):]


def _write_file(tmp: Path, data: bytes | memoryview, done: list[tuple[Path, Path]], final: Path,
                sealer: Sealer | None, place: bytes) -> None:
    size = sealer.size(len(data)) if sealer is not None else len(data)
    padded = -(-size // _ALIGN) * _ALIGN
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_DIRECT", 0), 0o600)
        direct = hasattr(os, "O_DIRECT")
    except OSError as e:
        if e.errno != errno.EINVAL:  # EINVAL: this file system has no O_DIRECT (tmpfs): buffered, then
            raise
        fd, direct = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), False
    done.append((tmp, final))
    try:
        if (direct and size) or sealer is not None:
            # Sealed straight into the aligned buffer, a chunk at a time: no copy of the payload beside it.
            buf = _aligned(padded)
            if sealer is not None:
                sealer.seal_into(data, place, memoryview(buf)[:size])
            else:
                buf[:size] = data
            if direct:
                buf[size:padded] = bytes(padded - size)
                _write_all(fd, memoryview(buf)[:padded])
                os.ftruncate(fd, size)  # the padding off again
            else:
                _write_all(fd, memoryview(buf)[:size])
        else:
            _write_all(fd, memoryview(data))
        os.fdatasync(fd)
    finally:
        os.close(fd)


def _unlink(path: Path) -> int:
    try:
        path.unlink()
        return 1
    except FileNotFoundError:
        return 0


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
