"""Admission control: at most `limit` requests inside the app at once, the others waiting before any
dependency runs; a slot is freed when the response starts (a long download does not hold it) or
when the app fails."""

from __future__ import annotations

import asyncio

import pytest

from evidex.api.admission import AdmissionLimit


def run_requests(app, n: int) -> list[list]:  # type: ignore[no-untyped-def]
    sent: list[list] = [[] for _ in range(n)]

    async def main() -> None:
        async def receive():  # type: ignore[no-untyped-def]
            return {"type": "http.request", "body": b"", "more_body": False}

        async def one(i: int) -> None:
            async def send(message):  # type: ignore[no-untyped-def]
                sent[i].append(message)

            try:
                await app({"type": "http", "method": "GET", "path": "/"}, receive, send)
            except RuntimeError:
                sent[i].append({"type": "failed"})

        await asyncio.gather(*(one(i) for i in range(n)))

    asyncio.run(main())
    return sent


def test_no_more_than_the_limit_inside_at_once():
    inside, most = 0, 0

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        await asyncio.sleep(0.01)
        inside -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent = run_requests(AdmissionLimit(app, limit=3), 20)
    assert most == 3 and all(m[0]["status"] == 200 for m in sent)


def test_a_slot_is_freed_when_the_response_starts_and_when_the_app_fails():
    log: list[str] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        n = len([x for x in log if x.startswith("in")]) + 1
        log.append(f"in {n}")
        if n == 1:
            raise RuntimeError("a failing request")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if n == 2:  # a long download: streams on after its start, outside the slot
            await asyncio.sleep(0.2)
        await send({"type": "http.response.body", "body": b"ok"})
        log.append(f"done {n}")

    sent = run_requests(AdmissionLimit(app, limit=1), 3)
    assert sent[0] == [{"type": "failed"}]
    assert [m["type"] for m in sent[1]] == ["http.response.start", "http.response.body"]
    assert sent[2][0]["status"] == 200
    # The third went in while the second was still streaming: the failed one and the started one
    # both gave their slot back.
    assert log == ["in 1", "in 2", "in 3", "done 3", "done 2"]


@pytest.mark.parametrize("kind", ["lifespan", "websocket"])
def test_other_scopes_pass(kind):
    seen = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(scope["type"])

    asyncio.run(AdmissionLimit(app, limit=1)({"type": kind}, None, None))  # type: ignore[arg-type]
    assert seen == [kind]


def test_no_free_database_connection_is_a_503_to_retry(database_url, tmp_path):
    """When every pooled connection stays busy past the pool's timeout, the client is told to retry
    (503 with Retry-After), not shown an internal error; nothing is half-written."""
    import pyotp
    import sqlalchemy as sa
    from fastapi.testclient import TestClient

    from evidex.api.app import create_app
    from evidex.cases.models import Case
    from evidex.core.db import make_engine, make_sessionmaker
    from evidex.core.settings import Settings
    from evidex.parties.roles import Role
    from evidex.parties.service import create_user
    from tests.api.conftest import UNLIMITED
    from tests.factories import NOW

    reference = f"POOL-{tmp_path.name[-12:]}"
    engine = make_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    with make_sessionmaker(engine)() as db:
        u = create_user(db, username=f"pool-{tmp_path.name[-12:]}", display_name="p", party="RS",
                        role=Role.central_authority, now=NOW, password="a long enough password")
        db.commit()
    app = create_app(Settings(database_url=database_url, environment="test", evidence_dir=tmp_path / "ev", spool_dir=tmp_path / "spool",
                              login_limit_per_address=UNLIMITED),  # the session database counts other tests' logins at NOW
                     engine=engine, clock=lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/api/v1/auth/login", json={"username": u.username, "password": "a long enough password",
                                                   "totp_code": pyotp.TOTP(u.totp_secret).at(NOW)})
        assert r.status_code == 200, r.text
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        busy = engine.connect()  # the only connection, held elsewhere
        try:
            r = client.post("/api/v1/cases", json={"reference": reference, "title": "t"}, headers=headers)
            assert r.status_code == 503 and r.headers["Retry-After"] == "1" and r.json()["code"] == "busy"
        finally:
            busy.close()
        assert client.get("/api/v1/cases", headers=headers).status_code == 200  # served again once one is free
    with make_sessionmaker(engine)() as db:
        assert db.execute(sa.select(sa.func.count()).select_from(Case).where(Case.reference == reference)).scalar_one() == 0
    engine.dispose()
