"""Custody events of one file written at the same moment (two people opening it) queue on the
file's row and both land, in order, in one unbroken chain. SQLite and PostgreSQL."""

from __future__ import annotations

from evidex.cases import service
from evidex.core.db import make_engine, make_sessionmaker
from evidex.evidence import service as evidence
from evidex.evidence.storage import LocalStorage
from evidex.parties.roles import Role
from tests.concurrency import overlapping_transactions
from tests.factories import NOW, new_request, user


def test_two_custody_events_at_once_both_land_in_order(own_database_url, tmp_path):
    engine = make_engine(own_database_url)
    sessions = make_sessionmaker(engine)
    vault = evidence.Vault.from_secret(LocalStorage(tmp_path / "ev"), b"custody concurrency secret")
    with sessions() as db:
        actor = user(db, "RS", Role.central_authority)
        req = new_request(db, actor, service.Law())
        ev = evidence.new_file(db, vault=vault, party="RS", request_id=req.id, name="a.bin", media_type="x/y",
                               size=1, sha256="0" * 64, status="sealed", created_by=None, now=NOW)
        evidence.custody(db, ev, event="produced", actor=actor, at=NOW, vault=vault)
        db.commit()
        evidence_id = ev.id

    def opened(db):  # type: ignore[no-untyped-def]
        evidence.custody(db, db.get(evidence.EvidenceFile, evidence_id), event="opened", actor=actor, at=NOW,
                         vault=vault)

    assert overlapping_transactions(sessions, opened, opened) == []  # the second opener waits, then follows
    with sessions() as db:
        assert evidence.verify_custody(db, evidence_id) == []
        events = [e.event for e in db.execute(evidence.sa.select(evidence.CustodyEvent).where(
            evidence.CustodyEvent.evidence_id == evidence_id).order_by(evidence.CustodyEvent.seq)).scalars()]
        assert events == ["produced", "opened", "opened"]
    engine.dispose()
