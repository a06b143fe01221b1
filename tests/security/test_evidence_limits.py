"""Issue 12, evidence: only the uploader adds to or completes an upload; declared sizes capped by
EVIDEX_MAX_EVIDENCE_BYTES and a per-request quota; uploads idle for 24 h swept by the worker. Through
the API on SQLite and PostgreSQL, and the real `evidex worker --once`."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid

import pytest
import sqlalchemy as sa

from evidex.audit.models import AuditEntry
from evidex.core.settings import Settings
from evidex.evidence.models import EvidenceFile
from evidex.evidence.service import build_vault
from evidex.parties.roles import Role
from tests.api.conftest import api  # noqa: F401  (the fixture)
from tests.api.test_api import new_request
from tests.api.test_evidence import put, start
from tests.conftest import run_cli
from tests.dbfixtures import postgres_database
from tests.factories import document

MiB = 1024 * 1024
GiB = 1024 * MiB
PROVIDER = "Zgled Mail d.o.o."  # the organisation of the fixture's service_provider user


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, sqlite_template):  # type: ignore[no-untyped-def]
    """A database of each kind of this test's own (the worker sweeps every upload of the node)."""
    if request.param == "sqlite":
        import shutil

        shutil.copy(sqlite_template, tmp_path / "evidex.db")
        yield f"sqlite:///{tmp_path / 'evidex.db'}"
        return
    with postgres_database("evidex_security") as url:
        yield url


def _order_to_provider(api) -> str:  # type: ignore[no-untyped-def]  # noqa: F811
    """An order under CETS224 Art 7 received from SI for a provider on RS's territory: the provider
    produces the data; RS's notified authority (Art 7(5)) sees the order too."""
    doc = document("subscriber_order", "SI", "RS")
    doc["addressee"]["name"] = PROVIDER
    ca = api.as_("RS", Role.central_authority)
    r = api.client.post("/api/v1/requests", headers=ca, json={
        "case_id": new_request(api)["case_id"], "direction": "incoming", "document": doc})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_only_the_uploader_may_add_chunks_or_complete(api):  # noqa: F811
    rid = _order_to_provider(api)
    provider, notified = ("RS", Role.service_provider), ("RS", Role.notified_authority)
    data = os.urandom(MiB + 100)
    ev = start(api, rid, data, who=provider)
    eid = ev["id"]
    # The notified authority sees the upload (same request) but may not write into it, nor complete it.
    assert api.client.get(f"/api/v1/evidence/{eid}", headers=api.as_(*notified)).status_code == 200
    r = put(api, eid, 0, os.urandom(MiB), who=notified)
    assert r.status_code == 403 and r.json()["code"] == "forbidden", r.text
    # Another person of the Party with a role that produces evidence: the same answer.
    assert put(api, eid, 0, data[:MiB], who=("RS", Role.central_authority)).status_code == 403
    state = api.client.get(f"/api/v1/evidence/{eid}", headers=api.as_(*provider)).json()
    assert state["chunks_received"] == 0 and state["bytes_received"] == 0  # nothing written
    assert put(api, eid, 0, data[:MiB], who=provider).status_code == 200
    assert put(api, eid, 1, data[MiB:], who=provider).status_code == 200
    for who in (notified, ("RS", Role.central_authority)):
        r = api.client.post(f"/api/v1/evidence/{eid}/complete", headers=api.as_(*who))
        assert r.status_code == 403, r.text
    assert api.client.get(f"/api/v1/evidence/{eid}", headers=api.as_(*provider)).json()["status"] == "uploading"
    done = api.client.post(f"/api/v1/evidence/{eid}/complete", headers=api.as_(*provider))
    assert done.status_code == 200 and done.json()["status"] == "sealed", done.text
    custody = api.client.get(f"/api/v1/evidence/{eid}/custody", headers=api.as_(*provider)).json()
    produced = custody["events"][0]
    assert produced["event"] == "produced" and produced["actor"] == f"{api.tag}-rs-service_provider"
    # Another Party still gets 404, not 403: it may not even know the upload exists.
    assert put(api, eid, 1, b"x", who=("SI", Role.central_authority)).status_code == 404


def test_a_declared_terabyte_is_refused_naming_the_limit(api):  # noqa: F811
    rid = new_request(api)["id"]
    ca = api.as_("RS", Role.central_authority)
    r = api.client.post(f"/api/v1/requests/{rid}/evidence", headers=ca,
                        json={"name": "disk.img", "size": 1 << 40, "sha256": "ab" * 32})
    assert r.status_code == 422 and "EVIDEX_MAX_EVIDENCE_BYTES" in r.json()["detail"], r.text
    with api.sessionmaker() as db:
        assert db.execute(sa.select(sa.func.count()).select_from(EvidenceFile)
                          .where(EvidenceFile.request_id == uuid.UUID(rid))).scalar_one() == 0
    # A file cannot grow beyond what it declared: no chunk past its end, no longer last chunk.
    ev = start(api, rid, b"12345")
    assert put(api, ev["id"], 0, b"123456").status_code == 422
    assert put(api, ev["id"], 1, b"6").status_code == 422
    # The limit is the node's setting.
    vault = build_vault(Settings(max_evidence_bytes=10 * GiB, request_evidence_quota_bytes=20 * GiB), None, {})
    assert (vault.limits.max_file_bytes, vault.limits.request_quota_bytes) == (10 * GiB, 20 * GiB)


def test_the_request_quota_counts_live_files(api):  # noqa: F811
    """The declared sizes of a request's live files may not exceed EVIDEX_REQUEST_EVIDENCE_QUOTA_BYTES
    (256 GiB by default); a disposed file no longer counts."""
    rid = new_request(api)["id"]
    ca = api.as_("RS", Role.central_authority)

    def declare(size: int):  # type: ignore[no-untyped-def]
        return api.client.post(f"/api/v1/requests/{rid}/evidence", headers=ca,
                               json={"name": "part.img", "size": size, "sha256": "cd" * 32})

    ids = []
    for _ in range(4):  # 4 × 64 GiB: exactly the quota
        r = declare(64 * GiB)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    r = declare(1)
    assert r.status_code == 422 and "EVIDEX_REQUEST_EVIDENCE_QUOTA_BYTES" in r.json()["detail"], r.text
    other = new_request(api)["id"]  # the quota is per request
    assert api.client.post(f"/api/v1/requests/{other}/evidence", headers=ca,
                           json={"name": "x", "size": 10, "sha256": "cd" * 32}).status_code == 201
    r = api.client.post(f"/api/v1/evidence/{ids[0]}/dispose", json={"reason": "declared by mistake"},
                        headers=api.as_("RS", Role.data_protection_officer))
    assert r.status_code == 200, r.text
    assert declare(64 * GiB).status_code == 201


def test_an_abandoned_upload_is_swept_after_24_hours(api, database_url, tmp_path):  # noqa: F811
    rid = new_request(api)["id"]
    data = os.urandom(2 * MiB + 5)
    idle = start(api, rid, data)
    assert put(api, idle["id"], 0, data[:MiB]).status_code == 200
    busy = start(api, rid, data)
    sealed_data = b"sealed and kept"
    sealed = start(api, rid, sealed_data)
    assert put(api, sealed["id"], 0, sealed_data).status_code == 200
    ca = api.as_("RS", Role.central_authority)
    assert api.client.post(f"/api/v1/evidence/{sealed['id']}/complete", headers=ca).status_code == 200
    vault = api.client.app.state.vault
    with api.sessionmaker() as db:
        names = {str(e.id): e.storage_name for e in db.execute(sa.select(EvidenceFile)).scalars()}
    assert vault.storage.exists(names[idle["id"]])
    # 7 h later the other upload goes on; at 24 h 1 min the first has had no chunk for a day.
    first = api.clock.now
    api.clock.now += dt.timedelta(hours=7)
    assert put(api, busy["id"], 0, data[:MiB]).status_code == 200
    env = {"EVIDEX_DATABASE_URL": database_url, "EVIDEX_EVIDENCE_DIR": str(tmp_path / "evidence"),
           "EVIDEX_SPOOL_DIR": str(tmp_path / "spool"), "XDG_DATA_HOME": str(tmp_path / "home")}
    at = (first + dt.timedelta(hours=23, minutes=59)).isoformat()
    r = run_cli("worker", "--once", "--now", at, env=env)
    assert r.returncode == 0 and "uploads: 0 abandoned upload(s) erased" in r.stdout, r.stdout + r.stderr
    at = (first + dt.timedelta(hours=24, minutes=1)).isoformat()
    r = run_cli("worker", "--once", "--now", at, env=env)
    assert r.returncode == 0 and "uploads: 1 abandoned upload(s) erased" in r.stdout, r.stdout + r.stderr
    state = api.client.get(f"/api/v1/evidence/{idle['id']}", headers=ca).json()
    assert state["status"] == "abandoned" and state["chunks_received"] == 1  # the record stays
    assert not vault.storage.exists(names[idle["id"]])  # the partial ciphertext is erased
    assert vault.storage.exists(names[busy["id"]]) and vault.storage.exists(names[sealed["id"]])
    assert put(api, idle["id"], 1, data[MiB:2 * MiB]).status_code == 409  # too late
    with api.sessionmaker() as db:
        notes = db.execute(sa.select(AuditEntry).where(AuditEntry.action == "evidence.upload_abandoned")).scalars().all()
        assert [n.object_id for n in notes] == [idle["id"]]
        assert notes[0].details["chunks_received"] == 1 and "erased" in notes[0].details["note"]
    custody = api.client.get(f"/api/v1/evidence/{sealed['id']}/custody", headers=ca).json()
    assert custody["intact"] and [e["event"] for e in custody["events"]] == ["produced", "sealed"]
    r = run_cli("worker", "--once", "--now", at, env=env)  # run again: nothing more
    assert "uploads: 0 abandoned upload(s) erased" in r.stdout, r.stdout + r.stderr
    with api.sessionmaker() as db:
        assert db.execute(sa.select(sa.func.count()).select_from(AuditEntry)
                          .where(AuditEntry.action == "evidence.upload_abandoned")).scalar_one() == 1
    assert hashlib.sha256(sealed_data).hexdigest() == custody["events"][0]["hash_after"]
