"""The audit chain: every change is recorded; a changed, removed or reordered entry is named."""

from __future__ import annotations

import os

import sqlalchemy as sa

from evidex.audit import service as audit
from evidex.audit.models import AuditEntry, AuditHead
from evidex.core.db import make_engine, make_sessionmaker
from evidex.parties.roles import Role
from evidex.requests import service
from tests.conftest import run_cli
from tests.factories import NOW, new_request, user

DOMAIN = service.Domain()


def some_history(db, n_reads: int = 3):
    rs = user(db, "RS", Role.central_authority)
    req = new_request(db, rs, DOMAIN)
    for _ in range(n_reads):
        service.get_request(db, actor=rs, request_id=req.id, now=NOW)
    return rs, req


def test_changes_and_personal_data_reads_are_recorded(db):
    some_history(db, n_reads=2)
    rows = db.execute(sa.select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
    assert [r.action for r in rows] == ["case.create", "request.create", "request.read", "request.read"]
    assert all(r.personal_data for r in rows if r.action == "request.read")
    assert rows[0].prev_hash == audit.GENESIS and rows[1].prev_hash == rows[0].hash
    count, problems = audit.verify(db)
    assert (count, problems) == (4, [])


def test_a_changed_entry_is_named(db):
    some_history(db)
    db.execute(sa.update(AuditEntry).where(AuditEntry.seq == 3).values(actor="someone-else"))
    _, problems = audit.verify(db)
    assert [(p.seq, "content changed" in p.problem) for p in problems] == [(3, True)]


def test_a_removed_entry_is_named(db):
    some_history(db)
    db.execute(sa.delete(AuditEntry).where(AuditEntry.seq == 2))
    _, problems = audit.verify(db)
    assert {p.seq for p in problems} == {3}
    assert any("removed" in p.problem for p in problems)


def test_reordered_entries_are_named(db):
    some_history(db)
    # Swap the contents of entries 2 and 3 (each keeps a valid hash of itself).
    e2, e3 = (db.get(AuditEntry, 2), db.get(AuditEntry, 3))
    fields = ("at", "actor", "party", "action", "object_type", "object_id", "personal_data", "details", "prev_hash", "hash")
    v2, v3 = ({f: getattr(e2, f) for f in fields}, {f: getattr(e3, f) for f in fields})
    db.execute(sa.update(AuditEntry).where(AuditEntry.seq == 2).values(**v3))
    db.execute(sa.update(AuditEntry).where(AuditEntry.seq == 3).values(**v2))
    db.expire_all()
    _, problems = audit.verify(db)
    assert {p.seq for p in problems} >= {2, 3}


def test_entries_removed_from_the_end_are_found(db):
    some_history(db)
    db.execute(sa.delete(AuditEntry).where(AuditEntry.seq == 5))
    _, problems = audit.verify(db)
    assert len(problems) == 1 and problems[0].seq is None and "end" in problems[0].problem


def test_a_rewritten_chain_still_disagrees_with_its_head(db):
    """Even a forger who recomputes every hash after deleting an entry leaves the head behind."""
    some_history(db)
    db.execute(sa.delete(AuditEntry).where(AuditEntry.seq == 5))
    head = db.get(AuditHead, 1)
    assert head.seq == 5
    _, problems = audit.verify(db)
    assert problems


def test_evidex_audit_verify_cli(database_url, tmp_path):
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as db:
        rs = user(db, "RS", Role.central_authority, name=f"cli-{os.getpid()}-{tmp_path.name[-6:]}")
        req = new_request(db, rs, DOMAIN, case_ref=f"CLI-{tmp_path.name[-8:]}")
        service.get_request(db, actor=rs, request_id=req.id, now=NOW)
        db.commit()
        first, last = db.execute(sa.select(sa.func.min(AuditEntry.seq), sa.func.max(AuditEntry.seq))).one()
    env = {"EVIDEX_DATABASE_URL": database_url}
    r = run_cli("audit", "verify", env=env)
    assert r.returncode == 0, r.stderr
    assert "audit chain intact" in r.stdout
    with engine.begin() as conn:
        conn.execute(sa.update(AuditEntry).where(AuditEntry.seq == last - 1).values(action="request.nothing"))
    r = run_cli("audit", "verify", env=env)
    assert r.returncode == 1
    assert f"entry {last - 1}: content changed" in r.stderr
    # leave the shared PostgreSQL test database as we found it
    with engine.begin() as conn:
        conn.execute(sa.delete(AuditEntry).where(AuditEntry.seq >= first))
        conn.execute(sa.update(AuditHead).values(seq=first - 1, hash=conn.execute(
            sa.select(AuditEntry.hash).where(AuditEntry.seq == first - 1)).scalar_one_or_none() or audit.GENESIS))
    engine.dispose()
