"""Sign-in as an attacker tries it (issue 12): replayed TOTP codes, concurrent guesses, username
enumeration by timing, floods of logins, and what the audit chain keeps. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import statistics
import threading
import time

import pyotp
import sqlalchemy as sa

from evidex.parties.models import User
from evidex.parties.roles import Role
from tests.api import conftest as api_fixtures
from tests.api.conftest import PASSWORD, Clock
from tests.conftest import run_cli
from tests.factories import NOW
from tests.security.signin_helpers import audit_rows, login, node_app, person, stored_user

api = api_fixtures.api  # the fixture of tests/api
UNLIMITED = {"login_limit_per_account": 1_000_000, "login_limit_per_address": 1_000_000}


def test_a_totp_code_works_once(api):
    name = f"{api.tag}-once"
    secret = person(api.sessionmaker, name, api.clock.now)
    assert login(api.client, name, secret, api.clock.now).status_code == 200
    assert login(api.client, name, secret, api.clock.now).status_code == 401  # the same code again
    api.clock.now += dt.timedelta(seconds=30)
    assert login(api.client, name, secret, api.clock.now - dt.timedelta(seconds=30)).status_code == 401  # older step
    r = login(api.client, name, secret, api.clock.now)  # the next step's code: once
    assert r.status_code == 200, r.text
    assert login(api.client, name, secret, api.clock.now).status_code == 401


def test_ten_concurrent_wrong_passwords_lock_the_account(own_database_url, tmp_path, production_hashing):
    """Ten wrong passwords at once, through the app's worker threads: each one counts, so the account
    is locked (before: the counter raced, eight at once counted as one). At production cost: the
    verifications overlap as they do in production."""
    clock = Clock()
    with node_app(own_database_url, tmp_path, clock, **UNLIMITED) as (client, sessions):
        secret = person(sessions, "racer", clock.now)
        start = threading.Barrier(10)
        codes: list[int] = []

        def guess() -> None:
            start.wait()
            codes.append(login(client, "racer", secret, clock.now, password="a wrong password").status_code)

        threads = [threading.Thread(target=guess) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert codes == [401] * 10
        u = stored_user(sessions, "racer")
        assert u.locked_until is not None and u.locked_until > clock.now
        assert login(client, "racer", secret, clock.now).status_code == 401  # locked: even the right password
        assert len(audit_rows(sessions, "auth.login_failed")) == 11
        # The 5th failure locks; guesses that arrive after it meet a locked account (counted, audited, but
        # no second lockout), so a second lockout at the 10th depends on timing.
        assert len(audit_rows(sessions, "auth.lockout")) in (1, 2)


def test_unknown_and_known_usernames_take_the_same_time(api, production_hashing):
    """The answer's time does not tell whether a username exists, nor whether it is locked: an
    unknown or locked user costs the same argon2 verify as a known one (before: about 1 ms against
    about 200 ms). At production cost: with the tests' cheapest hashes there would be nothing to hide."""
    known = [f"{api.tag}-known-{i}" for i in range(9)]
    for name in known:  # one wrong password each: none of them is locked meanwhile
        person(api.sessionmaker, name, api.clock.now)
    locked = f"{api.tag}-locked"
    secret = person(api.sessionmaker, locked, api.clock.now)
    for _ in range(5):
        login(api.client, locked, secret, api.clock.now, password="not the password")

    def timed(username: str) -> float:
        t = time.perf_counter()
        r = api.client.post("/api/v1/auth/login", json={"username": username, "password": "not the password",
                                                        "totp_code": "123456"})
        assert r.status_code == 401
        return time.perf_counter() - t

    timed("nobody-at-all"), timed(locked)  # warm the paths
    times: dict[str, list[float]] = {"known": [], "unknown": [], "locked": []}
    for i, name in enumerate(known):
        times["known"].append(timed(name))
        times["unknown"].append(timed(f"nobody-{i}"))
        times["locked"].append(timed(locked))
    median = {k: statistics.median(v) for k, v in times.items()}
    assert 0.5 < median["known"] / median["unknown"] < 2, median
    assert 0.5 < median["known"] / median["locked"] < 2, median


def test_login_rate_limit_per_account_answers_429_with_retry_after_across_processes(own_database_url, tmp_path):
    """Two server processes of one node (two apps, two engines, one database) share the count."""
    clock = Clock(NOW + dt.timedelta(seconds=15))
    limits = {"login_limit_per_account": 3, "login_limit_per_address": 1_000_000, "login_limit_window_seconds": 60}
    with node_app(own_database_url, tmp_path / "a", clock, **limits) as (a, sessions), \
            node_app(own_database_url, tmp_path / "b", clock, **limits) as (b, _):
        secret = person(sessions, "target", clock.now)
        for client in (a, b, a):
            assert login(client, "target", secret, clock.now, password="guess guess guess").status_code == 401
        r = login(b, "target", secret, clock.now)  # the 4th attempt in this minute, even with the right password
        assert r.status_code == 429 and r.json()["code"] == "too_many_requests"
        assert r.headers["Retry-After"] == "45"  # until the minute's window ends
        assert login(a, "someone-else", secret, clock.now).status_code == 401  # other accounts are not held up
        clock.now += dt.timedelta(seconds=45)
        assert login(a, "target", secret, clock.now).status_code == 200


def test_login_rate_limit_per_client_address(own_database_url, tmp_path):
    clock = Clock()
    limits = {"login_limit_per_account": 1_000_000, "login_limit_per_address": 5, "login_limit_window_seconds": 300}
    with node_app(own_database_url, tmp_path / "a", clock, **limits) as (a, sessions), \
            node_app(own_database_url, tmp_path / "b", clock, **limits) as (b, _):
        secret = person(sessions, "sprayed", clock.now)
        for i in range(5):  # password spraying: one guess per account, many accounts, one address
            assert login(a if i % 2 else b, f"user{i}", secret, clock.now).status_code == 401
        r = login(a, "sprayed", secret, clock.now)
        assert r.status_code == 429 and r.headers["Retry-After"] == "300"
        clock.now += dt.timedelta(seconds=300)
        assert login(b, "sprayed", secret, clock.now).status_code == 200


def test_every_sign_in_event_is_in_the_audit_chain(own_database_url, tmp_path):
    clock = Clock()
    with node_app(own_database_url, tmp_path, clock, **UNLIMITED) as (client, sessions):
        secret = person(sessions, "audited", clock.now)
        long_name = "x" * 80
        wrong = "a wrong password 1"
        assert login(client, long_name, secret, clock.now, password=wrong).status_code == 401
        for _ in range(5):
            assert login(client, "audited", secret, clock.now, password=wrong).status_code == 401
        clock.now += dt.timedelta(minutes=16)
        r = login(client, "audited", secret, clock.now)
        assert r.status_code == 200
        h = {"Authorization": f"Bearer {r.json()['token']}"}
        t = client.post("/api/v1/tokens", json={"name": "script", "scope": "read"}, headers=h)
        assert t.status_code == 201, t.text
        assert client.delete(f"/api/v1/tokens/{t.json()['token']['id']}", headers=h).status_code == 204
        assert client.post("/api/v1/auth/logout", headers=h).status_code == 204

        failed = audit_rows(sessions, "auth.login_failed")
        assert [e.details["reason"] for e in failed] == ["unknown_user"] + ["wrong_password"] * 5
        assert failed[0].details["username"] == long_name and failed[0].actor == "anonymous"
        [lockout] = audit_rows(sessions, "auth.lockout")
        assert lockout.object_id == str(stored_user(sessions, "audited").id)
        [ok] = audit_rows(sessions, "auth.login")
        assert ok.actor == "audited"
        [made] = audit_rows(sessions, "token.create")
        assert made.details["scope"] == "read" and made.actor == "audited"
        assert len(audit_rows(sessions, "token.revoke")) == 1
        assert len(audit_rows(sessions, "auth.logout")) == 1
        everything = json.dumps([e.details for e in audit_rows(sessions, *(
            "auth.login_failed", "auth.lockout", "auth.login", "token.create", "token.revoke", "auth.logout"))])
        assert wrong not in everything and PASSWORD not in everything and secret not in everything
        assert "evx_" not in everything and "evs_" not in everything
    assert run_cli("audit", "verify", env={"EVIDEX_DATABASE_URL": own_database_url}).returncode == 0


def test_totp_secrets_are_sealed_at_rest(api):
    """A user created through the API: its TOTP secret is not in the users table; a secret stored in
    plaintext before (demo data, older nodes) still works and is sealed at its first use;
    `evidex users totp` still prints the current code."""
    admin = api.as_("RS", Role.administrator)
    name = f"{api.tag}-sealed"
    r = api.client.post("/api/v1/users", json={"username": name, "display_name": "S", "role": "contact_24_7",
                                              "password": "a long password 1"}, headers=admin)
    assert r.status_code == 201
    secret = pyotp.parse_uri(r.json()["totp_uri"]).secret
    with api.sessionmaker() as db:
        stored = db.execute(sa.select(User.totp_secret).where(User.username == name)).scalar_one()
    assert secret not in stored and stored.startswith("tot1:")
    assert login(api.client, name, secret, api.clock.now, password="a long password 1").status_code == 200

    legacy = f"{api.tag}-legacy"
    plain = person(api.sessionmaker, legacy, api.clock.now)
    assert stored_user(api.sessionmaker, legacy).totp_secret == plain  # as older nodes stored it
    assert login(api.client, legacy, plain, api.clock.now).status_code == 200
    assert plain not in (stored_user(api.sessionmaker, legacy).totp_secret or "")

    url = api.client.app.state.settings.database_url  # type: ignore[attr-defined]
    cli = run_cli("users", "totp", legacy, env={"EVIDEX_DATABASE_URL": url})
    assert cli.returncode == 0, cli.stderr
    assert pyotp.TOTP(plain).verify(cli.stdout.strip(), valid_window=1)
    wrong_key = run_cli("users", "totp", legacy, env={"EVIDEX_DATABASE_URL": url, "EVIDEX_SECRET_KEY": "another"})
    assert wrong_key.returncode == 2 and "EVIDEX_PREVIOUS_SECRET_KEYS" in wrong_key.stderr
    rotated = run_cli("users", "totp", legacy, env={"EVIDEX_DATABASE_URL": url, "EVIDEX_SECRET_KEY": "another",
                                                     "EVIDEX_PREVIOUS_SECRET_KEYS": json.dumps(["changethis"])})
    assert rotated.returncode == 0 and pyotp.TOTP(plain).verify(rotated.stdout.strip(), valid_window=1)
