"""Issue 12: package chunks are rate-limited per peer (EVIDEX_PACKAGE_CHUNK_RATE, a token bucket per
server process: chunks are authenticated by the package key before they count). The receiving node's
real route answers 429 with Retry-After; the sending node's package worker waits as told and sends
again — a retry, never a failure. Two nodes, SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import os
import time
import uuid

import httpx
import sqlalchemy as sa
from fastapi.testclient import TestClient

from evidex.api.app import create_app
from evidex.core.settings import Settings
from evidex.evidence import packages
from evidex.evidence.models import EvidenceFile, EvidencePackage
from tests.exchange.conftest import two_nodes  # noqa: F401  (the fixture)
from tests.exchange.test_faults import deliver, now
from tests.exchange.test_packages import Wire, federated, setup_package  # noqa: F401  (federated: a fixture)

MiB = 1024 * 1024


def _receiver(rs, vault, tmp_path, rate: float, burst: int) -> TestClient:  # type: ignore[no-untyped-def]
    """RS's real app (its federation routes) with the given chunk rate."""
    engine = rs.sessions.kw["bind"]
    app = create_app(Settings(database_url=str(engine.url.render_as_string(hide_password=False)), environment="test",
                              evidence_dir=tmp_path / "evidence-app", spool_dir=tmp_path / "spool-app",
                              package_chunk_rate=rate, package_chunk_burst=burst),
                     engine=engine, identity=rs.identity, clock=now)
    app.state.vault = vault  # the vault the manifest's files were prepared in
    return TestClient(app, raise_server_exceptions=False)


class Through:
    """ME's client to RS: each call goes to RS's app (its URL prefix /RS taken off); answers counted."""

    def __init__(self, app_client: TestClient) -> None:
        self.app_client, self.statuses = app_client, []  # type: ignore[var-annotated]

    def client_for(self, peer: object) -> httpx.Client:
        def handler(request: httpx.Request) -> httpx.Response:
            path = request.url.path.removeprefix("/RS")
            r = self.app_client.request(request.method, path, content=request.content, headers=dict(request.headers))
            self.statuses.append(r.status_code)
            return httpx.Response(r.status_code, content=r.content, headers=r.headers)

        return httpx.Client(transport=httpx.MockTransport(handler))


def test_package_chunks_over_the_rate_get_429_and_the_sender_retries(federated, tmp_path):  # noqa: F811
    rs, me, vaults = federated
    data = os.urandom(5 * MiB + 10)  # 6 chunks
    _, pid, _ = setup_package(rs, me, vaults, {"disk.img": data})
    assert deliver(me, Wire(rs, now, vault=vaults["RS"])).delivered == 1  # the manifest
    with _receiver(rs, vaults["RS"], tmp_path, rate=4, burst=2) as app_client:
        # The route itself: over the burst, 429 with Retry-After, and the chunk is not stored.
        with me.sessions() as db:
            pkg = db.get(EvidencePackage, pid)
            key = base64.b64decode(pkg.transfer_key)
        codes = []
        for _ in range(3):
            resource = "files/0/chunks/0"
            blob = packages.seal_chunk(key, pid, 0, 0, data[:MiB], False)
            r = app_client.put(f"/federation/v1/packages/{pid}/{resource}", content=blob,
                               headers={packages.MAC_HEADER: packages.mac(key, pid, resource),
                                        "Content-Type": "application/octet-stream"})
            codes.append(r.status_code)
        assert codes == [200, 200, 429], codes
        assert int(r.headers["Retry-After"]) >= 1 and "too many chunks" in r.json()["detail"]
        # A chunk whose MAC does not verify is refused as before and spends nothing of RS's budget.
        r = app_client.put(f"/federation/v1/packages/{pid}/files/0/chunks/1", content=b"x",
                           headers={packages.MAC_HEADER: "0" * 64})
        assert r.status_code == 403
        # The sending node's worker meets the limit, waits as told, and carries on in the same pass.
        through = Through(app_client)
        slept: list[float] = []

        def sleep(s: float) -> None:
            slept.append(s)
            time.sleep(s)

        report = packages.transfer_once(me.sessions, me.identity, vaults["ME"], now(), client_for=through.client_for,
                                        sleep=sleep)
        assert 429 in through.statuses and slept, through.statuses
        assert (report.chunks, report.sent, report.retrying) == (5, 1, 0)  # chunk 0 was already there
        with me.sessions() as db:
            pkg = db.get(EvidencePackage, pid)
            assert pkg.status == "sent" and pkg.attempts == 0 and pkg.last_error is None  # no failure recorded
    assert packages.verify_received(rs.sessions, rs.identity, vaults["RS"], now(), spool=rs.spool) == 1
    with rs.sessions() as db:
        got = db.execute(sa.select(EvidenceFile).where(EvidenceFile.package_id == pid)).scalar_one()
        assert got.status == "sealed"


def test_a_wait_longer_than_the_pass_resumes_later_without_a_failure(federated, tmp_path):  # noqa: F811
    rs, me, vaults = federated
    data = os.urandom(3 * MiB)
    _, pid, _ = setup_package(rs, me, vaults, {"mailbox.mbox": data})
    assert deliver(me, Wire(rs, now, vault=vaults["RS"])).delivered == 1
    with _receiver(rs, vaults["RS"], tmp_path, rate=0.01, burst=1) as app_client:  # 1 chunk, then 100 s
        through = Through(app_client)
        report = packages.transfer_once(me.sessions, me.identity, vaults["ME"], now(), client_for=through.client_for,
                                        sleep=lambda s: None, budget_seconds=5)
        assert (report.chunks, report.sent, report.retrying) == (1, 0, 1) and through.statuses[-1] == 429
        with me.sessions() as db:
            pkg = db.get(EvidencePackage, pid)
            assert pkg.status == "sending" and pkg.attempts == 0 and "rate" in (pkg.last_error or "")
            assert pkg.next_attempt_at == now() + dt.timedelta(seconds=100)
        # Not before the time asked for; then it goes on where it stopped (the bucket refilled).
        assert packages.transfer_once(me.sessions, me.identity, vaults["ME"], now() + dt.timedelta(seconds=50),
                                      client_for=through.client_for).chunks == 0
        app_client.app.state.package_throttle.rate = 1000.0
        report = packages.transfer_once(me.sessions, me.identity, vaults["ME"], now() + dt.timedelta(seconds=100),
                                        client_for=through.client_for)
        assert (report.chunks, report.sent) == (2, 1)
    with me.sessions() as db:
        assert db.get(EvidencePackage, uuid.UUID(str(pid))).attempts == 0


def test_a_manifest_announcing_a_file_over_the_limit_is_refused(federated):  # noqa: F811
    """EVIDEX_MAX_EVIDENCE_BYTES binds what another node announces too: nothing is prepared for it."""
    import dataclasses

    from evidex.evidence.service import Limits

    rs, me, vaults = federated
    _, pid, _ = setup_package(rs, me, vaults, {"disk.img": os.urandom(3000)})
    small = dataclasses.replace(vaults["RS"], limits=Limits(max_file_bytes=2000))
    report = deliver(me, Wire(rs, now, vault=small))
    assert (report.delivered, report.dead) == (0, 1)
    with rs.sessions() as db:
        assert db.get(EvidencePackage, pid) is None
        assert db.execute(sa.select(sa.func.count()).select_from(EvidenceFile)).scalar_one() == 0
