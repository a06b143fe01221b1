"""Custody events of one file written at the same moment (two people opening it) queue on the
file's row and both land, in order, in one unbroken chain. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time

from evidex.core.db import make_engine, make_sessionmaker
from evidex.evidence import service as evidence
from evidex.evidence.storage import LocalStorage
from evidex.parties.roles import Role
from evidex.requests import service
from tests.factories import NOW, new_request, user


def test_two_custody_events_at_once_both_land_in_order(own_database_url, tmp_path):
    engine = make_engine(own_database_url)
    sessions = make_sessionmaker(engine)
    vault = evidence.Vault.from_secret(LocalStorage(tmp_path / "ev"), b"custody concurrency secret")
    with sessions() as db:
        actor = user(db, "RS", Role.central_authority)
        req = new_request(db, actor, service.Domain())
        ev = evidence.new_file(db, vault=vault, party="RS", request_id=req.id, name="a.bin", media_type="x/y",
                               size=1, sha256="0" * 64, status="sealed", created_by=None, now=NOW)
        evidence.custody(db, ev, event="produced", actor=actor, at=NOW, vault=vault)
        db.commit()
        evidence_id = ev.id
    errors: list[BaseException] = []

    def opened(hold: float, start_after: float) -> None:
        time.sleep(start_after)
        try:
            with sessions() as db:
                f = db.get(evidence.EvidenceFile, evidence_id)
                evidence.custody(db, f, event="opened", actor=actor, at=NOW, vault=vault)
                time.sleep(hold)  # the other opener must wait for this one, then follow it
                db.commit()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=opened, args=(0.5, 0.0)), threading.Thread(target=opened, args=(0.0, 0.15))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with sessions() as db:
        assert evidence.verify_custody(db, evidence_id) == []
        events = [e.event for e in db.execute(evidence.sa.select(evidence.CustodyEvent).where(
            evidence.CustodyEvent.evidence_id == evidence_id).order_by(evidence.CustodyEvent.seq)).scalars()]
        assert events == ["produced", "opened", "opened"]
    engine.dispose()
