"""Evidence on S3-compatible object storage, against a real S3-speaking server process on loopback:
moto's server mode (`python -m moto.server`), the one installable here. Storage semantics first,
then the API on SQLite and PostgreSQL with `EVIDEX_EVIDENCE_URL=s3://…`: an upload interrupted and
resumed, a flipped byte in a stored object detected on read, disposal removing the objects."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import uuid

import boto3
import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from evidex.api.app import create_app
from evidex.core import crypto
from evidex.core.db import make_engine, make_sessionmaker
from evidex.core.errors import NotFound
from evidex.core.settings import Settings
from evidex.evidence.models import EvidenceFile
from evidex.evidence.storage import S3Storage, StorageError, open_storage
from evidex.parties.roles import Role
from tests.api.conftest import Api, Clock
from tests.api.test_api import new_request
from tests.servers import free_port

MiB = 1024 * 1024
BUCKET = "evidex-evidence"


@pytest.fixture(scope="module")
def moto_server():
    """A moto S3 server process on a free loopback port, with the AWS settings boto3 reads."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            httpx.get(endpoint, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the moto S3 server did not start")
    env = {"AWS_ENDPOINT_URL_S3": endpoint, "AWS_ACCESS_KEY_ID": "evidex-test", "AWS_SECRET_ACCESS_KEY": "evidex-test",
           "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    yield endpoint
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    proc.terminate()
    proc.wait(timeout=10)


def test_s3_storage_on_moto_server_appends_truncates_reads_and_deletes(moto_server):
    store = open_storage(f"s3://{BUCKET}/unit-{uuid.uuid4().hex[:6]}", directory=None)  # type: ignore[arg-type]
    assert isinstance(store, S3Storage)
    store.append("obj1", b"H" * 10, 0)
    store.append("obj1", b"a" * 100, 10)
    store.append("obj1", b"b" * 50, 110)
    assert store.read_range("obj1", 10, 100) == b"a" * 100  # a segment
    assert store.read_range("obj1", 5, 10) == b"H" * 5 + b"a" * 5  # across segments
    store.append("obj1", b"c" * 20, 10)  # rewriting a segment truncates what lay beyond (as a file would)
    with store.reader("obj1") as f:
        assert f.read() == b"H" * 10 + b"c" * 20
    with store.writer("obj2") as w:  # streamed in segments
        for _ in range(3):
            w.write(os.urandom(4 * MiB))
    with store.reader("obj2") as f:
        assert len(f.read()) == 12 * MiB
    with pytest.raises(RuntimeError), store.writer("obj3") as w:
        w.write(os.urandom(9 * MiB))  # one segment already out when the writer fails
        raise RuntimeError("disk gone")
    assert not store.exists("obj3")  # nothing half-written remains
    store.delete("obj1")
    assert not store.exists("obj1")
    with pytest.raises(NotFound), store.reader("obj1"):
        pass
    with pytest.raises(StorageError, match="invalid object name"):
        store.append("../escape", b"x", 0)


def test_an_unreachable_bucket_and_a_bad_address_are_clear_errors(moto_server):
    with pytest.raises(StorageError, match="cannot be reached"):
        open_storage("s3://no-such-bucket-here/x", directory=None)  # type: ignore[arg-type]
    with pytest.raises(StorageError, match="s3://bucket/prefix"):
        open_storage("ftp://example.org/x", directory=None)  # type: ignore[arg-type]


def test_encrypted_streams_round_trip_on_moto_server(moto_server):
    store = S3Storage(BUCKET, f"crypto-{uuid.uuid4().hex[:6]}")
    key, fid, data = crypto.new_data_key(), os.urandom(16), os.urandom(3 * MiB + 5)
    with store.writer("file") as out:
        sealed = crypto.encrypt_stream([data], out, data_key=key, file_id=fid)
    with store.reader("file") as f:
        assert crypto.verify_stream(f, data_key=key, file_id=fid, sha256=sealed.sha256) == len(data)


@pytest.fixture
def s3_api(moto_server, database_url, tmp_path):
    engine = make_engine(database_url)
    clock = Clock()
    settings = Settings(database_url=database_url, environment="test", evidence_dir=tmp_path / "unused",
                        evidence_url=f"s3://{BUCKET}/api-{uuid.uuid4().hex[:6]}")
    app = create_app(settings, engine=engine, clock=clock)
    assert isinstance(app.state.vault.storage, S3Storage)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client=client, sessionmaker=make_sessionmaker(engine), clock=clock, tag=uuid.uuid4().hex[:8])
    engine.dispose()
    assert not (tmp_path / "unused").exists()  # nothing went to the local folder


def test_evidence_through_the_api_on_moto_server(s3_api):
    api, who = s3_api, ("RS", Role.central_authority)
    rid = new_request(api)["id"]
    data = os.urandom(2 * MiB + 777)
    ev = api.client.post(f"/api/v1/requests/{rid}/evidence", headers=api.as_(*who),
                         json={"name": "traffic.pcap", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                         ).json()

    def put(i: int) -> httpx.Response:
        return api.client.put(f"/api/v1/evidence/{ev['id']}/chunks/{i}", content=data[i * MiB:(i + 1) * MiB],
                              headers={**api.as_(*who), "Content-Type": "application/octet-stream"})

    assert put(0).status_code == 200
    assert put(2).status_code == 409  # the connection dropped during chunk 1: resume there
    assert api.client.get(f"/api/v1/evidence/{ev['id']}", headers=api.as_(*who)).json()["chunks_received"] == 1
    assert put(1).status_code == 200 and put(2).status_code == 200
    done = api.client.post(f"/api/v1/evidence/{ev['id']}/complete", headers=api.as_(*who))
    assert done.status_code == 200 and done.json()["sha256"] == hashlib.sha256(data).hexdigest()
    got = api.client.get(f"/api/v1/evidence/{ev['id']}/content", headers=api.as_(*who))
    assert got.status_code == 200 and got.content == data
    # Nothing in the bucket is readable: every stored object is ciphertext.
    storage: S3Storage = api.client.app.state.vault.storage
    with api.sessionmaker() as db:
        name = db.execute(sa.select(EvidenceFile.storage_name).where(EvidenceFile.id == uuid.UUID(ev["id"]))).scalar_one()
    segments = list(storage._segments(name))
    assert len(segments) == 4  # header + three chunks
    s3 = boto3.client("s3")
    assert all(data[:64] not in s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for _, _, k in segments)
    # A flipped byte in the stored chunk 1 is found on read and named.
    _, _, key = segments[2]
    blob = bytearray(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    blob[100] ^= 0x01
    s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(blob))
    bad = api.client.get(f"/api/v1/evidence/{ev['id']}/content", headers=api.as_(*who))
    assert bad.status_code == 409 and "chunk 1" in bad.json()["detail"]
    # Disposal: the objects are deleted, the key erased, the chain intact.
    gone = api.client.post(f"/api/v1/evidence/{ev['id']}/dispose", json={"reason": "retention period ended"},
                           headers=api.as_("RS", Role.data_protection_officer))
    assert gone.status_code == 200 and gone.json()["status"] == "disposed"
    assert not storage.exists(name)
    custody = api.client.get(f"/api/v1/evidence/{ev['id']}/custody", headers=api.as_(*who)).json()
    assert custody["intact"] and custody["events"][-1]["event"] == "disposed"
