"""`evidex users unlock|deactivate|reactivate|reset-second-factor` as an operator runs them (a real
subprocess), on SQLite and PostgreSQL: audited as the command line with the reason; an unknown user
or a missing reason is one line and exit 2."""

from __future__ import annotations

import datetime as dt
import json

import pyotp
import pytest

from evidex.parties.roles import Role
from tests.api.conftest import PASSWORD
from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # long-running: started first by parallel runs (tests/conftest.py)


def env_of(api) -> dict[str, str]:
    return {"EVIDEX_DATABASE_URL": api.client.app.state.settings.database_url}


def login(api, name: str):
    api.clock.now += dt.timedelta(minutes=1)  # a TOTP code works once: each sign-in in its own time step
    code = pyotp.TOTP(api.totp_secret(name)).at(api.clock.now)
    return api.client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD, "totp_code": code})


def one_line_error(r, *words: str) -> None:
    assert r.returncode == 2 and r.stdout == "", (r.returncode, r.stdout)
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("evidex: error: "), r.stderr
    assert all(w in r.stderr for w in words), r.stderr


def audit_of(api, uid_or_action: dict[str, str]):
    r = api.client.get("/api/v1/audit", params={**uid_or_action, "limit": 200},
                       headers=api.as_("RS", Role.data_protection_officer))
    return r.json()["items"]


def test_the_operator_unlocks_deactivates_reactivates_and_resets(api):
    env = env_of(api)
    name, session = api.user("RS", Role.central_authority, "-cli-admin")
    for _ in range(5):
        api.client.post("/api/v1/auth/login", json={"username": name, "password": "wrong password!"})
    assert login(api, name).status_code == 401
    r = run_cli("users", "unlock", name, "--reason", "identity checked by phone", env=env)
    assert r.returncode == 0 and f"unlocked {name}" in r.stdout, r.stderr
    assert login(api, name).status_code == 200

    one_line_error(run_cli("users", "deactivate", name, env=env), "reason")
    one_line_error(run_cli("users", "deactivate", "nobody-by-that-name", "--reason", "x", env=env), "no such user")
    si_name, _ = api.user("SI", Role.central_authority, "-cli-other")
    one_line_error(run_cli("users", "deactivate", si_name, "--reason", "x", env=env), "no such user")
    r = run_cli("users", "deactivate", name, "--reason", "left the ministry", env=env)
    assert r.returncode == 0 and "revoked" in r.stdout, r.stderr
    assert api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {session}"}).status_code == 401
    assert login(api, name).status_code == 401
    assert run_cli("users", "reactivate", name, env=env).returncode == 0
    assert login(api, name).status_code == 200

    one_line_error(run_cli("users", "reset-second-factor", name, "--reason", "", env=env), "reason")
    r = run_cli("users", "reset-second-factor", name, "--reason", "phone lost", env=env)
    assert r.returncode == 0, r.stderr
    r = api.client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD, "totp_code": "123456"})
    assert r.status_code == 401 and r.json()["code"] == "second_factor_enrolment_due"

    uid = api.client.get("/api/v1/users", headers=api.as_("RS", Role.administrator)).json()
    uid = next(u["id"] for u in uid if u["username"] == name)
    got = [(e["actor"], e["action"], e["details"].get("reason"))
           for e in audit_of(api, {"object_id": uid}) if e["action"].startswith("user.")]
    assert got == [("cli", "user.second_factor_reset", "phone lost"), ("cli", "user.reactivate", None),
                   ("cli", "user.deactivate", "left the ministry"),
                   ("cli", "user.unlock", "identity checked by phone")]
    # The same log through `evidex audit list`, with the API's filters.
    r = run_cli("audit", "list", "--actor", "cli", "--object-id", uid, "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert [(e["action"], e["details"].get("reason")) for e in json.loads(r.stdout)] == [g[1:] for g in got]
    r = run_cli("audit", "list", "--action", "user.deactivate", "--object-id", uid, env=env)
    assert r.returncode == 0 and "user.deactivate" in r.stdout and r.stdout.strip().endswith("1 of 1 entry")
    one_line_error(run_cli("audit", "list", "--since", "last week", env=env), "--since")


def test_the_last_administrator_is_not_deactivated(own_api):
    env = env_of(own_api)
    name, _ = own_api.user("RS", Role.administrator, "-last")
    one_line_error(run_cli("users", "deactivate", name, "--reason", "x", env=env), "last active administrator")
    assert login(own_api, name).status_code == 200
