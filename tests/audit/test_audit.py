"""The audit chain: every change is recorded; a changed, removed or reordered entry is named."""

from __future__ import annotations

import os
import uuid

import sqlalchemy as sa

from evidex.audit import service as audit
from evidex.audit.models import AuditEntry, AuditHead
from evidex.cases import service
from evidex.core.db import make_engine, make_sessionmaker
from evidex.parties.roles import Principal, Role
from tests.concurrency import overlapping_transactions
from tests.conftest import run_cli
from tests.factories import NOW, new_request, user

LAW = service.Law()


def head(db) -> int:
    """The chain's length before the test (PostgreSQL's session database holds other tests' entries)."""
    h = db.get(AuditHead, 1)
    return h.seq if h is not None else 0


def some_history(db, n_reads: int = 3) -> int:
    """Five entries (case, request, three reads); returns the seq just before them."""
    start = head(db)
    rs = user(db, "RS", Role.central_authority, name=f"audit-{start}-{n_reads}")
    req = new_request(db, rs, LAW, case_ref=f"AUD-{start}")
    for _ in range(n_reads):
        service.get_request(db, actor=rs, request_id=req.id, now=NOW)
    return start


def test_changes_and_personal_data_reads_are_recorded(db):
    s = some_history(db, n_reads=2)
    rows = db.execute(sa.select(AuditEntry).where(AuditEntry.seq > s).order_by(AuditEntry.seq)).scalars().all()
    assert [r.action for r in rows] == ["case.create", "request.create", "request.read", "request.read"]
    assert all(r.personal_data for r in rows if r.action == "request.read")
    assert rows[1].prev_hash == rows[0].hash
    before = db.get(AuditEntry, s).hash if s else audit.GENESIS  # the entry before ours, or the chain's start
    assert rows[0].prev_hash == before
    count, problems = audit.verify(db)
    assert (count, problems) == (s + 4, [])


def test_a_changed_entry_is_named(db):
    s = some_history(db)
    db.execute(sa.update(AuditEntry).where(AuditEntry.seq == s + 3).values(actor="someone-else"))
    _, problems = audit.verify(db)
    assert [(p.seq, "content changed" in p.problem) for p in problems] == [(s + 3, True)]


def test_a_removed_entry_is_named(db):
    s = some_history(db)
    db.execute(sa.delete(AuditEntry).where(AuditEntry.seq == s + 2))
    _, problems = audit.verify(db)
    assert {p.seq for p in problems} == {s + 3}
    assert any("removed" in p.problem for p in problems)


def test_reordered_entries_are_named(db):
    s = some_history(db)
    # Swap the contents of two entries (each keeps a valid hash of itself).
    e2, e3 = (db.get(AuditEntry, s + 2), db.get(AuditEntry, s + 3))
    fields = ("at", "actor", "party", "action", "object_type", "object_id", "personal_data", "details", "prev_hash", "hash")
    v2, v3 = ({f: getattr(e2, f) for f in fields}, {f: getattr(e3, f) for f in fields})
    db.execute(sa.update(AuditEntry).where(AuditEntry.seq == s + 2).values(**v3))
    db.execute(sa.update(AuditEntry).where(AuditEntry.seq == s + 3).values(**v2))
    db.expire_all()
    _, problems = audit.verify(db)
    assert {p.seq for p in problems} >= {s + 2, s + 3}


def test_entries_removed_from_the_end_are_found(db):
    s = some_history(db)
    db.execute(sa.delete(AuditEntry).where(AuditEntry.seq == s + 5))
    _, problems = audit.verify(db)
    assert len(problems) == 1 and problems[0].seq is None and "end" in problems[0].problem


def test_a_rewritten_chain_still_disagrees_with_its_head(db):
    """Even a forger who recomputes every hash after deleting an entry leaves the head behind."""
    s = some_history(db)
    db.execute(sa.delete(AuditEntry).where(AuditEntry.seq == s + 5))
    assert head(db) == s + 5
    _, problems = audit.verify(db)
    assert problems


def test_evidex_audit_verify_cli(own_database_url, tmp_path):
    """On a database of its own: the test commits, tampers with an entry, and `verify` signs heads, none
    of which may reach other tests (a shared database kept a signed head over entries deleted after)."""
    engine = make_engine(own_database_url)
    with make_sessionmaker(engine)() as db:
        rs = user(db, "RS", Role.central_authority, name=f"cli-{os.getpid()}-{tmp_path.name[-6:]}")
        req = new_request(db, rs, LAW, case_ref=f"CLI-{tmp_path.name[-8:]}")
        service.get_request(db, actor=rs, request_id=req.id, now=NOW)
        db.commit()
        last = db.execute(sa.select(sa.func.max(AuditEntry.seq))).scalar_one()
    env = {"EVIDEX_DATABASE_URL": own_database_url}
    r = run_cli("audit", "verify", env=env)
    assert r.returncode == 0, r.stderr
    assert "audit chain intact" in r.stdout
    with engine.begin() as conn:
        conn.execute(sa.update(AuditEntry).where(AuditEntry.seq == last - 1).values(action="request.nothing"))
    r = run_cli("audit", "verify", env=env)
    assert r.returncode == 1
    assert f"entry {last - 1}: content changed" in r.stderr
    engine.dispose()


def test_concurrent_appends_both_land_in_the_chain(own_database_url):
    """Two transactions appending at once (an audited read beside a message being received): the
    second waits for the first and links to it. On SQLite, where FOR UPDATE does nothing, the head
    used to be read before the write lock was taken: both wrote the same number and one failed."""
    engine = make_engine(own_database_url)
    sessions = make_sessionmaker(engine)

    def append(tag: str):  # type: ignore[no-untyped-def]
        return lambda db: audit.record(db, actor=Principal.system("RS"), action=f"test.concurrent.{tag}",
                                       object_type="test", object_id=tag, at=NOW)

    tag = uuid.uuid4().hex[:8]
    assert overlapping_transactions(sessions, append(f"{tag}-a"), append(f"{tag}-b")) == []
    with sessions() as db:
        got = db.execute(sa.select(AuditEntry.seq, AuditEntry.object_id).where(
            AuditEntry.object_id.in_([f"{tag}-a", f"{tag}-b"])).order_by(AuditEntry.seq)).all()
        assert [o for _, o in got] == [f"{tag}-a", f"{tag}-b"]
        _count, problems = audit.verify(db)
        assert problems == []
    engine.dispose()
