"""Large received payloads in the spool folder (exchange/spool.py): written durably before their
rows commit, read back, erased in place, orphans swept, and a spool that cannot be written leaves
nothing stored and tells the sender to come back. On SQLite and on PostgreSQL where a database is
involved."""

from __future__ import annotations

import datetime as dt
import os

import pytest
import sqlalchemy as sa

from evidex.exchange import service as exchange
from evidex.exchange.models import InboxMessage, OutboxMessage, Receipt
from evidex.exchange.spool import Spool
from tests.exchange.conftest import Link
from tests.exchange.test_faults import count, deliver, now

BIG = "z" * 200_000


def _age(path, hours: float) -> None:  # type: ignore[no-untyped-def]
    t = (now() - dt.timedelta(hours=hours)).timestamp()
    os.utime(path, (t, t))


def test_write_read_and_names(tmp_path):
    spool = Spool(tmp_path / "spool")
    a, b = Spool.name("m-1", "aa" * 32), Spool.name("m-1", "bb" * 32)
    assert a != b and len(a) == 64  # one id, other content: another file (a replay never overwrites)
    spool.write([(a, b"first"), (b, memoryview(b"second"))])
    assert spool.read(a) == b"first" and spool.read(b) == b"second"
    assert sorted(os.listdir(tmp_path / "spool")) == sorted([a, b])  # no temporary files left
    assert oct((tmp_path / "spool" / a).stat().st_mode & 0o777) == "0o600"
    for bad in ("../etc/passwd", "x" * 64, a.upper()):
        with pytest.raises(ValueError):
            spool.path(bad)


def test_a_failed_write_leaves_no_file_under_a_final_name(tmp_path, monkeypatch):
    spool = Spool(tmp_path / "spool")
    names = [Spool.name(f"m-{i}", "cc" * 32) for i in range(3)]
    real, calls = os.fdatasync, []

    def failing(fd):  # type: ignore[no-untyped-def]
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(fd)

    monkeypatch.setattr(os, "fdatasync", failing)
    with pytest.raises(OSError):
        spool.write([(n, b"x" * 10) for n in names])
    assert os.listdir(tmp_path / "spool") == []


def test_sweep_removes_orphans_and_leftovers_once_old(tmp_path):
    spool = Spool(tmp_path / "spool")
    kept, orphan, young = (Spool.name(f"m-{i}", "dd" * 32) for i in range(3))
    spool.write([(kept, b"1"), (orphan, b"2"), (young, b"3")])
    leftover = tmp_path / "spool" / f"{orphan}.tmp-0123456789abcdef"
    leftover.write_bytes(b"half")
    foreign = tmp_path / "spool" / "README"
    foreign.write_text("not ours")
    for path in (kept, orphan, leftover.name, foreign.name):
        _age(tmp_path / "spool" / path, 2)
    asked: list[str] = []

    def referenced(names: list[str]) -> set[str]:
        asked.extend(names)
        return {kept} & set(names)

    assert spool.sweep(referenced, now()) == 2  # the orphan and the interrupted write
    assert sorted(os.listdir(tmp_path / "spool")) == sorted([kept, young, "README", ".lock"])
    assert young not in asked  # too recent to judge: its transaction may be about to commit
    assert Spool(tmp_path / "nowhere").sweep(referenced, now()) == 0


def test_the_sweep_waits_for_a_receiver_between_its_files_and_its_commit(tmp_path):
    """A retry writes a file again under the name of an hour-old orphan and has not committed yet:
    without the lock the sweep would see an old, unnamed file and delete the one about to be named."""
    import threading

    spool = Spool(tmp_path / "spool")
    name = Spool.name("m-retried", "12" * 32)
    committed: set[str] = set()
    written, swept = threading.Event(), threading.Event()
    result: list[int] = []
    held_off: list[bool] = []

    def receiver() -> None:
        with spool.writing():
            spool.write([(name, b"payload")])
            _age(spool.path(name), 2)  # as the orphan's mtime, so age alone does not protect it
            written.set()
            held_off.append(not swept.wait(0.5))  # the sweep is held off while this "transaction" runs
            committed.add(name)  # commit: the row names the file

    def sweeper() -> None:
        written.wait(5)
        result.append(spool.sweep(lambda names: committed & set(names), now()))
        swept.set()

    threads = [threading.Thread(target=receiver), threading.Thread(target=sweeper)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert held_off == [True] and result == [0] and spool.read(name) == b"payload"


def test_received_payloads_in_files_erased_in_place_and_swept(two_nodes):
    rs, me = two_nodes
    link = Link(me, now)
    with rs.sessions() as db:
        msg = exchange.enqueue(db, node=rs.identity, recipient="ME", type="data_transmitted", conversation_id="spool-1",
                               payload={"blob": BIG, "transfer_key": "secret-key-material"}, now=now())
        small = exchange.enqueue(db, node=rs.identity, recipient="ME", type="data_transmitted",
                                 conversation_id="spool-2", payload={"blob": "small"}, now=now())
        msg_id, small_id, sha = msg.msg_id, small.msg_id, msg.payload_sha256
        db.commit()
    assert deliver(rs, link).delivered == 2
    assert me.spool is not None
    with me.sessions() as db:
        row = db.execute(sa.select(InboxMessage).where(InboxMessage.msg_id == msg_id)).scalar_one()
        tiny = db.execute(sa.select(InboxMessage).where(InboxMessage.msg_id == small_id)).scalar_one()
        assert row.body is None and row.body_file == Spool.name(msg_id, sha)
        assert tiny.body_file is None and exchange.inbox_payload(tiny, me.spool) == {"blob": "small"}  # in its row
        assert b"secret-key-material" in me.spool.read(row.body_file)
        with pytest.raises(exchange.FederationError, match="spool"):
            exchange.inbox_body(row, None)
        assert exchange.erase_from_payload(db, msg_id=msg_id, field="transfer_key", reason="served", spool=me.spool)
        db.commit()
    with me.sessions() as db:
        row = db.execute(sa.select(InboxMessage).where(InboxMessage.msg_id == msg_id)).scalar_one()
        payload = exchange.inbox_payload(row, me.spool)
        assert payload["transfer_key"] == "erased" and payload["blob"] == BIG
        assert b"secret-key-material" not in me.spool.read(row.body_file or "")
        assert row.payload_sha256 == sha  # the receipts still name what crossed
        # An orphan (a batch that never committed) goes; the named file stays, however old.
        orphan = Spool.name("never-committed", "ee" * 32)
        me.spool.write([(orphan, b"{}")])
        for name in (orphan, row.body_file or ""):
            _age(me.spool.path(name), 3)
        assert exchange.sweep_spool(db, me.spool, now()) == 1
        assert sorted(os.listdir(me.spool.root)) == sorted([row.body_file, ".lock"])


def test_a_spool_that_cannot_be_written_keeps_nothing_and_the_sender_retries(two_nodes):
    rs, me = two_nodes
    link = Link(me, now)
    assert me.spool is not None
    me.spool.root.parent.mkdir(parents=True, exist_ok=True)
    me.spool.root.write_text("a file where the spool folder should be")  # writing under it fails
    with rs.sessions() as db:
        exchange.enqueue(db, node=rs.identity, recipient="ME", type="data_transmitted", conversation_id="spool-3",
                         payload={"blob": BIG}, now=now())
        db.commit()
    with me.sessions() as db:
        receipts_before = db.execute(sa.select(sa.func.count()).select_from(Receipt)).scalar_one()
    r = deliver(rs, link)
    assert (r.delivered, r.retried, r.dead) == (0, 1, 0)
    assert count(me, InboxMessage) == 0
    with me.sessions() as db:
        assert db.execute(sa.select(sa.func.count()).select_from(Receipt)).scalar_one() == receipts_before
    with rs.sessions() as db:
        waiting = db.execute(sa.select(OutboxMessage)).scalar_one()
        assert waiting.status == "pending" and "503" in (waiting.last_error or "")
        waiting.next_attempt_at = now()
        db.commit()
    me.spool.root.unlink()  # the operator frees the folder: the next pass delivers, once
    assert deliver(rs, link).delivered == 1 and count(me, InboxMessage) == 1


def test_a_file_system_without_direct_io_gets_buffered_writes(tmp_path, monkeypatch):
    """O_DIRECT refused (EINVAL, as tmpfs did): the same bytes, written through the page cache."""
    real_open, direct_asked = os.open, []

    def no_direct(path, flags, mode=0o777):  # type: ignore[no-untyped-def]
        if flags & getattr(os, "O_DIRECT", 0):
            direct_asked.append(path)
            raise OSError(22, "Invalid argument")
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", no_direct)
    spool = Spool(tmp_path / "spool")
    data = os.urandom(100_003)  # not a multiple of the block size
    name = Spool.name("m-direct", "ff" * 32)
    spool.write([(name, data)])
    assert spool.read(name) == data and len(direct_asked) == (1 if hasattr(os, "O_DIRECT") else 0)


def test_direct_writes_keep_the_exact_length(tmp_path):
    spool = Spool(tmp_path / "spool")
    for size in (1, 4095, 4096, 4097, 1048576 + 5):
        data = os.urandom(size)
        name = Spool.name(f"m-{size}", "ab" * 32)
        spool.write([(name, data)])
        assert spool.read(name) == data
