"""The real thing: `evidex db upgrade`, `evidex demo` (twice), `evidex serve` as a process on a
loopback port, a person logging in with password and TOTP over real HTTP."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from evidex.core.db import make_engine
from tests.conftest import run_cli
from tests.servers import demo_login, start_serve, stop

pytestmark = pytest.mark.slow  # long-running: started first by parallel runs (tests/conftest.py)


@pytest.fixture
def node_env(tmp_path, own_database_url):
    """A node's environment on a database of its own, of each kind: the node commits, signs its audit
    heads and verifies its whole chain, which a database shared with other tests would not let it."""
    return {"EVIDEX_DATABASE_URL": own_database_url, "EVIDEX_NODE_PARTY": "RS", "EVIDEX_NODE_DIR": str(tmp_path / "node"),
            "EVIDEX_NODE_KEY_PASSPHRASE": "node passphrase of the test", "EVIDEX_EVIDENCE_DIR": str(tmp_path / "ev"),
            "EVIDEX_SPOOL_DIR": str(tmp_path / "spool")}


def test_demo_twice_changes_nothing(node_env):
    assert run_cli("db", "upgrade", env=node_env).returncode == 0
    assert run_cli("node", "init", "--url", "http://127.0.0.1:8000", env=node_env).returncode == 0
    first = run_cli("demo", env=node_env)
    assert first.returncode == 0, first.stderr
    party = node_env["EVIDEX_NODE_PARTY"].lower()
    assert f"{party}-central-authority" in first.stdout and "TOTP secret" in first.stdout
    assert "Warning" not in first.stderr, first.stderr
    # An executed request whose evidence package arrived from a partner node and was verified here.
    assert "(DEMO-PKG-1) to ME: data_transmitted; evidence package" in first.stdout
    assert "received (2 files, verified against the manifest signed by ME's node)" in first.stdout
    _check_arrived_package(node_env)
    listing = json.loads(run_cli("requests", "list", "--format", "json", "--limit", "1000", env=node_env).stdout)
    states = {r["status"] for r in listing["items"]}
    assert {"draft", "checked", "approved", "sent", "received", "refused", "postponed", "conditions_accepted",
            "preserved", "expired", "closed", "withdrawn", "data_transmitted"} <= states
    second = run_cli("demo", env=node_env)
    assert "nothing changed" in second.stdout
    again = json.loads(run_cli("requests", "list", "--format", "json", "--limit", "1000", env=node_env).stdout)
    assert again["total"] == listing["total"]
    assert run_cli("audit", "verify", env=node_env).returncode == 0


def _check_arrived_package(node_env) -> None:
    from pathlib import Path

    from evidex.evidence import service as evidence
    from evidex.evidence.models import EvidenceFile, EvidencePackage
    from evidex.exchange import keys

    party = node_env["EVIDEX_NODE_PARTY"]
    identity = keys.load(Path(node_env["EVIDEX_NODE_DIR"]), node_env["EVIDEX_NODE_KEY_PASSPHRASE"].encode())
    engine = make_engine(node_env["EVIDEX_DATABASE_URL"])
    with sa.orm.Session(engine) as db:
        (pkg,) = db.execute(sa.select(EvidencePackage).where(EvidencePackage.party == party)).scalars()
        assert (pkg.direction, pkg.status, pkg.peer) == ("incoming", "received", "ME")
        files = db.execute(sa.select(EvidenceFile).where(EvidenceFile.package_id == pkg.id)).scalars().all()
        assert len(files) == 2 and all(f.status == "sealed" and f.sha256 for f in files)
        assert {f.sha256 for f in files} == {f["sha256"] for f in pkg.manifest["files"]}
        for f in files:  # custody events signed by this node's key
            assert evidence.verify_custody(db, f.id, signer=identity) == []
    engine.dispose()


def test_serve_real_process_login_and_create(node_env):
    proc, base = start_serve(node_env)
    try:
        h = demo_login(node_env, base)
        cases = httpx.get(f"{base}/cases", headers=h).json()
        assert cases["total"] >= 1
        reqs = httpx.get(f"{base}/requests?status=draft", headers=h).json()
        assert reqs["items"]
        detail = httpx.get(f"{base}/requests/{reqs['items'][0]['id']}", headers=h)
        assert detail.status_code == 200 and "check" in detail.json()["allowed_events"]
        assert httpx.get(f"{base}/requests", headers={"Authorization": "Bearer evs_nope"}).status_code == 401
    finally:
        stop(proc, 10)


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            continue
    return out


def test_serve_with_several_worker_processes(node_env):
    """`evidex serve --workers 2`: two API processes share the port and the database; logins, writes
    and reads work whichever process answers; the parent stops them all."""
    proc, base = start_serve(node_env, "--workers", "2")
    try:
        servers = [c for c in _children(proc.pid) if b"spawn" in Path(f"/proc/{c}/cmdline").read_bytes()]
        assert len(servers) == 2, servers
        h = demo_login(node_env, base)
        made = []
        for i in range(20):  # fresh connections: the kernel spreads them over both processes
            with httpx.Client() as c:
                r = c.post(f"{base}/cases", json={"reference": f"W-{os.getpid()}-{i}", "title": "two workers"}, headers=h)
                assert r.status_code == 201, r.text
                made.append(r.json()["id"])
                assert c.get(f"{base}/cases/{made[-1]}", headers=h).status_code == 200
        assert len(set(made)) == 20
    finally:
        if not stop(proc, 20):
            pytest.fail("the parent did not stop its workers in time")
    assert all(not Path(f"/proc/{c}").exists() or b"zombie" in Path(f"/proc/{c}/status").read_bytes().lower()
               for c in servers)
