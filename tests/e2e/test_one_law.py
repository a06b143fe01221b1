"""One node, one law: `evidex serve` and `evidex worker`, started as separate processes (the production
layout) with EVIDEX_PARTIES_FILE, both work with the profiles of that file. Here RS's profile keeps
personal data 3 days instead of the shipped 365 (CETS224 Art 14(5)): a file sealed by the API (an
upload) and a file sealed by the worker (an evidence package arrived from ME) both get 3 days, and
the worker's retention sweep disposes of both once the 3 days are over."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from evidex.demo.federation import introduce
from evidex.evidence.models import EvidenceFile
from evidex.parties.roles import Role
from evidex.rules.loader import data_dir
from tests.e2e.test_federation import Node, pair, wait_for  # noqa: F401  (pair: the fixture of two nodes)
from tests.factories import document as example_document

pytestmark = pytest.mark.slow  # long-running: started first by parallel runs (tests/conftest.py)

FILE_DAYS = 3  # the shipped RS profile says 365


def profiles_with_short_retention(tmp_path: Path) -> Path:
    """Every shipped profile, in one file (as an administrator would give them), RS's retention cut to 3 days."""
    texts = []
    for f in sorted((data_dir() / "parties").glob("*.yaml")):
        text = f.read_text(encoding="utf-8")
        if f.stem == "RS":
            assert text.count("retention_days: 365") == 1
            text = text.replace("retention_days: 365", f"retention_days: {FILE_DAYS}")
        texts.append(text)
    path = tmp_path / "official-profiles.yaml"
    path.write_text("\n".join(texts), encoding="utf-8")
    return path


@pytest.fixture
def short_retention_pair(pair, tmp_path):  # noqa: F811  (pair: the imported fixture)
    """The two nodes of the federation tests, RS reading its profiles from a file of its own."""
    rs, me = pair
    rs.env["EVIDEX_PARTIES_FILE"] = str(profiles_with_short_retention(tmp_path))
    return rs, me


def evidence_at(rs: Node, evidence_id: str) -> EvidenceFile:
    (ev,) = rs.rows(EvidenceFile, EvidenceFile.id == uuid.UUID(evidence_id))
    return ev


def retention_days(rs: Node, evidence_id: str) -> tuple[str, float]:
    ev = evidence_at(rs, evidence_id)
    return ev.status, (ev.retain_until - ev.sealed_at) / dt.timedelta(days=1)


def test_serve_and_worker_use_the_profiles_of_the_parties_file(short_retention_pair):
    rs, me = short_retention_pair
    introduce(rs, me)
    rs.add_users(("rs-247", Role.contact_24_7), ("rs-247-b", Role.contact_24_7))
    me.add_users(("me-247", Role.contact_24_7))
    me.start()
    rs.start("--worker-interval", "0")  # the API only: the worker runs beside it, as in production
    worker = subprocess.Popen([sys.executable, "-m", "evidex", "worker", "--interval", "5"], env=rs.env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        a, b = rs.login("rs-247"), rs.login("rs-247-b")
        case = a.post("/api/v1/cases", json={"reference": "VTK-LAW-1", "title": "Ransomware"}).json()
        rid = a.post("/api/v1/requests", json={"case_id": case["id"],
                                               "document": example_document("preservation", "RS", "ME")}).json()["id"]
        for who, event in ((a, "check"), (b, "approve"), (a, "send")):
            assert who.post(f"/api/v1/requests/{rid}/transitions", json={"event": event}).status_code == 200
        # A file sealed by RS's API: its retention period is the file's, not the shipped one.
        data = b"notes of the 24/7 contact\n"
        own = a.post(f"/api/v1/requests/{rid}/evidence", json={"name": "notes.txt", "size": len(data),
                                                               "sha256": hashlib.sha256(data).hexdigest()}).json()
        assert a.put(f"/api/v1/evidence/{own['id']}/chunks/0", content=data,
                     headers={"Content-Type": "application/octet-stream"}).status_code == 200
        assert a.post(f"/api/v1/evidence/{own['id']}/complete").json()["status"] == "sealed"
        assert retention_days(rs, own["id"]) == ("sealed", FILE_DAYS)
        # A file sealed by RS's worker: ME's evidence package, verified by the worker when it has arrived.
        m = me.login("me-247")
        (got,) = wait_for(lambda: m.get("/api/v1/requests?direction=incoming").json()["items"], "the request at ME")
        produced = os.urandom(1000)
        ev = m.post(f"/api/v1/requests/{got['id']}/evidence", json={
            "name": "logs.txt", "size": len(produced), "sha256": hashlib.sha256(produced).hexdigest()}).json()
        assert m.put(f"/api/v1/evidence/{ev['id']}/chunks/0", content=produced,
                     headers={"Content-Type": "application/octet-stream"}).status_code == 200
        assert m.post(f"/api/v1/evidence/{ev['id']}/complete").json()["status"] == "sealed"
        for event in ("acknowledge", "start_execution"):  # in the course of execution (ETS185 Art 30(1))
            assert m.post(f"/api/v1/requests/{got['id']}/transitions", json={"event": event}).status_code == 200
        sent = m.post(f"/api/v1/requests/{got['id']}/evidence-packages", json={"evidence_ids": [ev["id"]]})
        assert sent.status_code == 201, sent.text
        (pkg,) = wait_for(lambda: [p for p in a.get(f"/api/v1/requests/{rid}/evidence-packages").json()
                                   if p["status"] == "received"], "the package verified by RS's worker", seconds=60)
        arrived = pkg["files"][0]["evidence_id"]
        assert retention_days(rs, arrived) == ("sealed", FILE_DAYS)
    finally:
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, out
    # The worker's retention sweep, a day after the file's period (the shipped one would keep them a year).
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=FILE_DAYS + 1)).isoformat()
    assert "2 disposed" in rs.cli("worker", "--once", "--now", later).stdout
    for evidence_id in (own["id"], arrived):
        ev = evidence_at(rs, evidence_id)  # the record stays; its data key is erased
        assert (ev.status, ev.wrapped_key) == ("disposed", None)
