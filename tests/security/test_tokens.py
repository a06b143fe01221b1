"""API tokens with a life (issue 12): expiry, scope, revocation through the API and the CLI, last
use, the second factor for administrator tokens, and idempotency records that hold no secret.
SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyotp
import sqlalchemy as sa

from evidex.core.idempotency import IdempotencyKey
from evidex.parties.roles import Role
from tests.api import conftest as api_fixtures
from tests.conftest import run_cli
from tests.security.signin_helpers import login, person

api = api_fixtures.api  # the fixture of tests/api


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def mint(api: Any, headers: dict[str, str], **body: Any) -> Any:
    return api.client.post("/api/v1/tokens", json={"name": "integration", **body}, headers=headers)


def test_tokens_expire_by_default_after_90_days_or_sooner_if_asked(api):
    h = api.as_("RS", Role.central_authority)
    r = mint(api, h)
    assert r.status_code == 201, r.text
    made = r.json()
    assert dt.datetime.fromisoformat(made["token"]["expires_at"]) == api.clock.now + dt.timedelta(days=90)
    short = mint(api, h, expires_days=1).json()["api_token"]
    assert api.client.get("/api/v1/cases", headers=bearer(short)).status_code == 200
    api.clock.now += dt.timedelta(days=1, seconds=1)
    assert api.client.get("/api/v1/cases", headers=bearer(short)).status_code == 401
    assert api.client.get("/api/v1/cases", headers=bearer(made["api_token"])).status_code == 200
    api.clock.now += dt.timedelta(days=89)
    assert api.client.get("/api/v1/cases", headers=bearer(made["api_token"])).status_code == 401


def test_a_read_token_only_reads(api):
    h = api.as_("RS", Role.central_authority)
    read = mint(api, h, scope="read").json()["api_token"]
    assert api.client.get("/api/v1/cases", headers=bearer(read)).status_code == 200
    r = api.client.post("/api/v1/cases", json={"reference": "R-1", "title": "t"}, headers=bearer(read))
    assert r.status_code == 403 and "read" in r.json()["detail"]
    write = mint(api, h, scope="write").json()["api_token"]
    assert api.client.post("/api/v1/cases", json={"reference": "R-1", "title": "t"},
                           headers=bearer(write)).status_code == 201
    # A token never acts beyond its owner's role: a data protection officer's write token cannot draft.
    dpo_token = mint(api, api.as_("RS", Role.data_protection_officer)).json()["api_token"]
    assert api.client.post("/api/v1/cases", json={"reference": "R-2", "title": "t"},
                           headers=bearer(dpo_token)).status_code == 403
    # A token never mints another (a stolen one cannot outlive its expiry).
    assert mint(api, bearer(write)).status_code == 403


def test_revocation_through_the_api_and_by_logout(api):
    h = api.as_("RS", Role.central_authority)
    first, second = mint(api, h).json(), mint(api, h).json()
    assert api.client.delete(f"/api/v1/tokens/{first['token']['id']}", headers=h).status_code == 204
    assert api.client.get("/api/v1/cases", headers=bearer(first["api_token"])).status_code == 401
    listed = api.client.get("/api/v1/tokens", headers=h).json()
    assert [t["id"] for t in listed] == [second["token"]["id"]]
    # Another user's token is not found (not theirs to see); the Party's administrator may revoke it.
    other = api.as_("RS", Role.contact_24_7)
    assert api.client.delete(f"/api/v1/tokens/{second['token']['id']}", headers=other).status_code == 404
    admin = api.as_("RS", Role.administrator)
    assert second["token"]["id"] in [t["id"] for t in api.client.get("/api/v1/tokens", headers=admin).json()]
    assert api.client.delete(f"/api/v1/tokens/{second['token']['id']}", headers=api.as_("SI", Role.administrator)
                             ).status_code == 404
    third = mint(api, h, scope="read").json()
    assert api.client.post("/api/v1/auth/logout", headers=bearer(third["api_token"])).status_code == 204
    assert api.client.get("/api/v1/cases", headers=bearer(third["api_token"])).status_code == 401
    assert api.client.delete(f"/api/v1/tokens/{second['token']['id']}", headers=admin).status_code == 204
    assert api.client.get("/api/v1/cases", headers=bearer(second["api_token"])).status_code == 401


def test_revocation_through_the_cli(api):
    name, session = api.user("RS", Role.central_authority, suffix="-cli")
    made = mint(api, bearer(session)).json()
    env = {"EVIDEX_DATABASE_URL": api.client.app.state.settings.database_url}
    listed = run_cli("tokens", "list", "--user", name, "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert row["id"] == made["token"]["id"] and made["api_token"] not in listed.stdout
    r = run_cli("tokens", "revoke", row["id"], env=env)
    assert r.returncode == 0, r.stderr
    assert api.client.get("/api/v1/cases", headers=bearer(made["api_token"])).status_code == 401
    assert json.loads(run_cli("tokens", "list", "--user", name, "--json", env=env).stdout) == []
    assert run_cli("tokens", "revoke", "not-an-id", env=env).returncode == 2


def test_last_use_is_shown_and_written_at_most_once_a_minute(api):
    h = api.as_("RS", Role.central_authority)
    made = mint(api, h).json()
    tid = made["token"]["id"]

    def last_used() -> str | None:
        return next(t for t in api.client.get("/api/v1/tokens", headers=h).json() if t["id"] == tid)["last_used_at"]

    assert last_used() is None
    start = api.clock.now
    assert api.client.get("/api/v1/cases", headers=bearer(made["api_token"])).status_code == 200
    assert dt.datetime.fromisoformat(last_used() or "") == start
    api.clock.now += dt.timedelta(seconds=30)
    api.client.get("/api/v1/cases", headers=bearer(made["api_token"]))
    assert dt.datetime.fromisoformat(last_used() or "") == start  # not written again within the minute
    api.clock.now += dt.timedelta(seconds=31)
    api.client.get("/api/v1/cases", headers=bearer(made["api_token"]))
    assert dt.datetime.fromisoformat(last_used() or "") == api.clock.now


def signed_in_admin(api: Any, name: str) -> tuple[str, dict[str, str]]:
    """An administrator (person) signed in at the clock's time: its TOTP secret and its header."""
    secret = person(api.sessionmaker, name, api.clock.now, role=Role.administrator)
    r = login(api.client, name, secret, api.clock.now)
    assert r.status_code == 200, r.text
    return secret, bearer(r.json()["token"])


def test_an_administrator_token_needs_the_creators_second_factor(api):
    name = f"{api.tag}-2fa"
    secret, h = signed_in_admin(api, name)
    # An administrator-role system user: its first token acts as an administrator.
    body = {"username": f"{api.tag}-adm-sys", "display_name": "Admin system", "role": "administrator",
            "is_system": True}
    assert api.client.post("/api/v1/users", json=body, headers=h).status_code == 403  # no code
    used = pyotp.TOTP(secret).at(api.clock.now)  # the code that signed in
    assert api.client.post("/api/v1/users", json={**body, "totp_code": used}, headers=h).status_code == 403
    api.clock.now += dt.timedelta(seconds=30)
    r = api.client.post("/api/v1/users", json={**body, "totp_code": pyotp.TOTP(secret).at(api.clock.now)}, headers=h)
    assert r.status_code == 201, r.text
    system_id = r.json()["user"]["id"]
    # A token for oneself as an administrator, or for that system user, needs a fresh code too.
    assert mint(api, h).status_code == 403
    assert mint(api, h, user_id=system_id).status_code == 403
    assert mint(api, h, totp_code=pyotp.TOTP(secret).at(api.clock.now)).status_code == 403  # used just above
    api.clock.now += dt.timedelta(seconds=30)
    code = pyotp.TOTP(secret).at(api.clock.now)
    assert mint(api, h, totp_code=code).status_code == 201
    assert mint(api, h, user_id=system_id, totp_code=code).status_code == 403  # a code works once
    api.clock.now += dt.timedelta(seconds=30)
    assert mint(api, h, user_id=system_id, totp_code=pyotp.TOTP(secret).at(api.clock.now)).status_code == 201
    # A system user of another role gets its token without the second factor.
    other = api.client.post("/api/v1/users", json={**body, "username": f"{api.tag}-ca-sys", "role": "central_authority"},
                            headers=h)
    assert other.status_code == 201 and other.json()["api_token"]
    with api.sessionmaker() as db:
        from evidex.audit.models import AuditEntry

        made = db.execute(sa.select(AuditEntry).where(AuditEntry.action == "token.create",
                                                      AuditEntry.actor == name)).scalars().all()
    assert [(e.details["user"], e.details["role"]) for e in made] == [
        (body["username"], "administrator"), (name, "administrator"), (body["username"], "administrator"),
        (f"{api.tag}-ca-sys", "central_authority")]


def test_an_idempotent_retry_never_shows_a_secret_again_and_stores_none(api):
    admin = api.as_("RS", Role.administrator)
    system = {"username": f"{api.tag}-sys-idem", "display_name": "Case system", "role": "central_authority",
              "is_system": True}
    person = {"username": f"{api.tag}-person-idem", "display_name": "P", "role": "contact_24_7",
              "password": "a long password 1"}
    for key, body, field in (("idem-system", system, "api_token"), ("idem-person", person, "totp_uri")):
        h = {**admin, "Idempotency-Key": f"{api.tag}-{key}"}
        first = api.client.post("/api/v1/users", json=body, headers=h)
        assert first.status_code == 201 and first.json()[field]
        secret = first.json()[field]
        retry = api.client.post("/api/v1/users", json=body, headers=h)
        assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
        assert retry.json()[field] is None and "shown once" in retry.json()["secret_note"].lower()
        assert retry.json()["user"] == first.json()["user"]
        assert secret not in retry.text
        with api.sessionmaker() as db:
            stored = db.execute(sa.select(IdempotencyKey.response).where(
                IdempotencyKey.key == f"{api.tag}-{key}")).scalar_one()
        assert secret not in json.dumps(stored) and stored[field] is None
    made = mint(api, {**api.as_("RS", Role.central_authority), "Idempotency-Key": f"{api.tag}-tok"})
    again = mint(api, {**api.as_("RS", Role.central_authority), "Idempotency-Key": f"{api.tag}-tok"})
    assert again.json()["api_token"] is None and made.json()["api_token"] not in again.text


def test_idempotency_records_expire_after_a_day(api):
    name = f"{api.tag}-day-admin"
    secret, session = signed_in_admin(api, name)

    def signed_in() -> dict[str, str]:  # sessions last 8 h: the same administrator signs in again
        r = login(api.client, name, secret, api.clock.now)
        assert r.status_code == 200, r.text
        return {**bearer(r.json()["token"]), "Idempotency-Key": f"{api.tag}-day"}

    h = {**session, "Idempotency-Key": f"{api.tag}-day"}
    body = {"username": f"{api.tag}-day", "display_name": "D", "role": "contact_24_7", "password": "a long password 1"}
    assert api.client.post("/api/v1/users", json=body, headers=h).status_code == 201
    api.clock.now += dt.timedelta(hours=23)
    h = signed_in()
    assert api.client.post("/api/v1/users", json=body, headers=h).headers.get("Idempotent-Replayed") == "true"
    api.clock.now += dt.timedelta(hours=2)
    h = signed_in()
    # Forgotten after 24 h: the same key is a new command (the user exists now: a conflict, not a replay).
    r = api.client.post("/api/v1/users", json=body, headers=h)
    assert r.status_code == 409 and "Idempotent-Replayed" not in r.headers
    # The worker's sweep removes old records.
    other = {**h, "Idempotency-Key": f"{api.tag}-swept"}
    body2 = {**body, "username": f"{api.tag}-swept"}
    assert api.client.post("/api/v1/users", json=body2, headers=other).status_code == 201
    env = {"EVIDEX_DATABASE_URL": api.client.app.state.settings.database_url}
    later = (api.clock.now + dt.timedelta(hours=25)).isoformat()
    assert run_cli("worker", "--once", "--now", later, env=env).returncode == 0
    with api.sessionmaker() as db:
        assert db.execute(sa.select(IdempotencyKey).where(IdempotencyKey.key == f"{api.tag}-swept")).first() is None
