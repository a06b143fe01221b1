"""Issue 13: one canonical JSON, RFC 8785. The audit chain and custody chains written before it (canon
1: Python's sorted JSON) still verify; what is written now is hashed over a version tag and the
RFC 8785 bytes; a changed entry of either kind is named. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import pytest
import rfc8785
import sqlalchemy as sa

from evidex.audit import service as audit
from evidex.audit.models import AuditEntry, AuditHead
from evidex.cases import service
from evidex.core.canonical import NotCanonical, canonical_json
from evidex.core.db import make_engine, make_sessionmaker
from evidex.evidence import service as evidence
from evidex.evidence.models import CustodyEvent
from evidex.evidence.storage import LocalStorage
from evidex.parties.roles import Principal, Role
from tests.conftest import run_cli
from tests.factories import NOW, new_request, user

# Non-ASCII text, a float written differently by Python (1.0, 1e-07) and by RFC 8785 (1, 1e-7), nested
# keys: bytes that differ between the two canons, so each chain below really is of its kind.
DETAILS: dict[str, Any] = {"zeta": "Ž ćevap", "alpha": {"b": [1.0, 1e-07], "a": None}, "n": 2}


def legacy_audit_hash(seq: int, at: dt.datetime, actor: str, party: str, action: str, object_type: str,
                      object_id: str | None, personal_data: bool, details: dict[str, Any], prev: str) -> str:
    """The audit hash exactly as evidex wrote it before RFC 8785."""
    canonical = json.dumps([seq, at.astimezone(dt.UTC).isoformat(timespec="microseconds"), actor, party, action,
                            object_type, object_id, personal_data, details, prev],
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def legacy_custody_hash(evidence_id: uuid.UUID, seq: int, event: str, actor: str, party: str, at: dt.datetime,
                        before: str | None, after: str | None, details: dict[str, Any], prev: str) -> str:
    """The custody hash exactly as evidex wrote it before RFC 8785."""
    canonical = json.dumps([str(evidence_id), seq, event, actor, party, at.astimezone(dt.UTC).isoformat(),
                            before, after, details, prev], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_rfc8785_is_the_canonical_json():
    value = {"zeta": "Ž\u2028\x1f", "alpha": {"b": [1.0, 1e-07, 1e21, 0.1, -0.0], "a": None, "€": True}, "n": 2**53 - 1}
    assert canonical_json(value) == rfc8785.dumps(value)
    assert canonical_json(value) != json.dumps(value, sort_keys=True, separators=(",", ":"),
                                               ensure_ascii=False).encode("utf-8")
    # RFC 8785 §3.2.2, its own example: numbers as ECMAScript writes them, minimal escapes.
    example = json.loads('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], '
                         '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", '
                         '"literals": [null, true, false]}')
    assert canonical_json(example) == ('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,'
                                       '1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}').encode()


@pytest.mark.parametrize("value", [{"n": 2**53}, {"x": float("inf")}, {"x": float("nan")}, {"s": "\ud800"},
                                   {1: "a key that is not a string"}, {"d": dt.date(2026, 1, 1)}])
def test_what_rfc8785_cannot_encode_is_refused_by_name(value):
    with pytest.raises(NotCanonical):
        canonical_json(value)


def test_an_audit_chain_written_before_rfc8785_still_verifies_and_goes_on(own_database_url):
    engine = make_engine(own_database_url)
    sessions = make_sessionmaker(engine)
    with sessions() as db:  # a node's chain as the earlier version wrote it: three entries, canon 1
        prev = audit.GENESIS
        for seq in (1, 2, 3):
            at = NOW + dt.timedelta(seconds=seq)
            h = legacy_audit_hash(seq, at, "alice", "RS", "request.read", "request", f"r-{seq}", True, DETAILS, prev)
            db.add(AuditEntry(seq=seq, at=at, actor="alice", party="RS", action="request.read", object_type="request",
                              object_id=f"r-{seq}", personal_data=True, details=DETAILS, prev_hash=prev, hash=h))
            prev = h
        head = db.get(AuditHead, 1) or AuditHead(id=1)  # the migration made it, at the genesis
        head.seq, head.hash = 3, prev
        db.add(head)
        db.commit()
    with sessions() as db:  # after the upgrade: entries go on in RFC 8785
        actor = Principal(user_id=None, username="bob", party="RS", role=Role.central_authority)
        for n in (4, 5):
            audit.record(db, actor=actor, action="request.read", object_type="request", object_id=f"r-{n}",
                         at=NOW + dt.timedelta(seconds=n), details=DETAILS, personal_data=True)
        db.commit()
    with sessions() as db:
        rows = db.execute(sa.select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
        assert rows[3].prev_hash == rows[2].hash  # the new entries link to the old chain
        fields = [4, rows[3].at.astimezone(dt.UTC).isoformat(timespec="microseconds"), "bob", "RS", "request.read",
                  "request", "r-4", True, DETAILS, rows[2].hash]
        assert rows[3].hash == hashlib.sha256(b"evidex-jcs\n" + rfc8785.dumps(fields)).hexdigest()
        assert audit.verify(db) == (5, [])
    env = {"EVIDEX_DATABASE_URL": own_database_url}
    r = run_cli("audit", "verify", env=env)  # also signs the head over both kinds of entries
    assert r.returncode == 0 and "audit chain intact" in r.stdout, r.stderr
    for seq in (2, 5):  # an old entry and a new one, each changed
        with engine.begin() as conn:
            conn.execute(sa.update(AuditEntry).where(AuditEntry.seq == seq).values(actor="mallory"))
        r = run_cli("audit", "verify", env=env)
        assert r.returncode == 1 and f"entry {seq}: content changed" in r.stderr, r.stderr
        with engine.begin() as conn:
            conn.execute(sa.update(AuditEntry).where(AuditEntry.seq == seq).values(actor="alice" if seq == 2 else "bob"))
    assert run_cli("audit", "verify", env=env).returncode == 0
    engine.dispose()


def test_a_custody_chain_written_before_rfc8785_still_verifies_and_goes_on(db, tmp_path):
    vault = evidence.Vault.from_secret(LocalStorage(tmp_path / "ev"), b"canon custody secret")
    actor = user(db, "RS", Role.central_authority)
    req = new_request(db, actor, service.Law())
    ev = evidence.new_file(db, vault=vault, party="RS", request_id=req.id, name="Ž.bin", media_type="x/y",
                           size=1, sha256="0" * 64, status="sealed", created_by=None, now=NOW)
    prev = evidence.GENESIS
    for seq, event in ((1, "produced"), (2, "sealed")):  # as the earlier version wrote them
        at = NOW + dt.timedelta(seconds=seq)
        h = legacy_custody_hash(ev.id, seq, event, actor.username, "RS", at, None, "0" * 64, DETAILS, prev)
        db.add(CustodyEvent(evidence_id=ev.id, seq=seq, event=event, actor=actor.username, party="RS", at=at,
                            hash_before=None, hash_after="0" * 64, details=DETAILS, prev_hash=prev, hash=h))
        prev = h
    db.flush()
    evidence.custody(db, ev, event="opened", actor=actor, at=NOW + dt.timedelta(seconds=3), vault=vault,
                     details=DETAILS)
    db.flush()
    new = evidence.last_custody(db, ev.id)
    assert new is not None and new.seq == 3 and new.prev_hash == prev
    fields = [str(ev.id), 3, "opened", actor.username, "RS", new.at.astimezone(dt.UTC).isoformat(), None, None,
              DETAILS, prev]
    assert new.hash == hashlib.sha256(b"evidex-jcs\n" + rfc8785.dumps(fields)).hexdigest()
    assert evidence.verify_custody(db, ev.id) == []
    for seq in (1, 3):
        db.execute(sa.update(CustodyEvent).where(CustodyEvent.evidence_id == ev.id, CustodyEvent.seq == seq)
                   .values(details={**DETAILS, "n": 3}))
        db.expire_all()
        assert [p for p in evidence.verify_custody(db, ev.id) if "changed" in p] == \
            [f"custody event {seq} ({ {1: 'produced', 3: 'opened'}[seq] }): changed after it was written"]
        db.execute(sa.update(CustodyEvent).where(CustodyEvent.evidence_id == ev.id, CustodyEvent.seq == seq)
                   .values(details=DETAILS))
        db.expire_all()
    assert evidence.verify_custody(db, ev.id) == []
