"""Key rotation: the node secret changes; evidence wrapped under the old key still opens while the
old secret is listed as previous; `evidex evidence rewrap` re-wraps every data key under the new
key without touching the stored data; then the old secret can go. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os

import pytest
import sqlalchemy as sa

from evidex.cases import service as requests
from evidex.core.db import make_engine, make_sessionmaker
from evidex.core.migrate import upgrade
from evidex.evidence import service as evidence
from evidex.evidence.models import EvidenceFile
from evidex.evidence.storage import LocalStorage
from evidex.parties.roles import Role
from evidex.parties.service import create_user, principal_of
from tests.conftest import run_cli
from tests.exchange.conftest import _drop, _url
from tests.factories import document as example_document

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    made: list[str] = []
    yield _url(request.param, tmp_path, "ROT", made)
    _drop(made)


def test_rotation_rewraps_data_keys_without_touching_the_data(url, tmp_path):
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    storage = LocalStorage(tmp_path / "ev")
    old = evidence.Vault.from_secret(storage, b"the old node secret")
    data = os.urandom(1024 * 1024 + 99)
    with sessions() as db:
        ca = principal_of(create_user(db, username="ca", display_name="ca", party="RS",
                                      role=Role.central_authority, now=NOW))
        case = requests.create_case(db, actor=ca, reference="ROT-1", title="t", now=NOW)
        req = requests.create_request(db, actor=ca, law=requests.Law(), case_id=case.id, now=NOW,
                                      document=example_document("mutual_assistance", "RS", "SI"))
        ev = evidence.start_upload(db, actor=ca, vault=old, request_id=req.id, name="a.bin", media_type="x/y",
                                   size=len(data), sha256=hashlib.sha256(data).hexdigest(), now=NOW)
        for i in range(2):
            evidence.put_chunk(db, actor=ca, vault=old, evidence_id=ev.id, index=i,
                               data=data[i * 1024 * 1024:(i + 1) * 1024 * 1024], now=NOW)
        evidence.complete(db, actor=ca, vault=old, evidence_id=ev.id, now=NOW)
        db.commit()
        eid, old_kek = ev.id, ev.kek_id
    stored = {p: p.read_bytes() for p in (tmp_path / "ev").rglob("*") if p.is_file()}
    env = {"EVIDEX_DATABASE_URL": url, "EVIDEX_SECRET_KEY": "the new node secret",
           "EVIDEX_EVIDENCE_DIR": str(tmp_path / "ev")}
    # Without the old secret the node cannot re-wrap: it says so and changes nothing.
    r = run_cli("evidence", "rewrap", env=env)
    assert r.returncode != 0 and "EVIDEX_PREVIOUS_SECRET_KEYS" in r.stderr and old_kek in r.stderr
    # With it, the data key is re-wrapped under the new key; the stored bytes are untouched.
    r = run_cli("evidence", "rewrap", env={**env, "EVIDEX_PREVIOUS_SECRET_KEYS": json.dumps(["the old node secret"])})
    assert r.returncode == 0 and "1 data key(s) re-wrapped" in r.stdout, r.stderr
    assert {p: p.read_bytes() for p in (tmp_path / "ev").rglob("*") if p.is_file()} == stored
    new = evidence.Vault.from_secret(storage, b"the new node secret")  # the old secret is gone now
    with sessions() as db:
        assert db.get(EvidenceFile, eid).kek_id == new.keys.current != old_kek
        _, stream = evidence.open_content(db, actor=ca, vault=new, evidence_id=eid, now=NOW)
        assert b"".join(stream) == data
        assert db.execute(sa.select(sa.func.count()).select_from(EvidenceFile)
                          .where(EvidenceFile.kek_id != new.keys.current)).scalar_one() == 0
    again = run_cli("evidence", "rewrap", env=env)  # nothing left to do
    assert again.returncode == 0 and "0 data key(s) re-wrapped" in again.stdout
    engine.dispose()
