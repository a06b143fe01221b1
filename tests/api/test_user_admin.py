"""Users administered through the API, on SQLite and PostgreSQL: unlocked, deactivated (every token
stops at once) and reactivated, their second factor reset and enrolled again; each audited with the
actor, the user and the reason; another Party's users answer 404."""

from __future__ import annotations

import datetime as dt
import urllib.parse

import pyotp
import sqlalchemy as sa

from evidex.parties.models import User
from evidex.parties.roles import Role
from evidex.parties.service import create_user, issue_api_token
from tests.api.conftest import PASSWORD

MINUTE = dt.timedelta(minutes=1)


def user_id(api, username: str) -> str:
    with api.sessionmaker() as db:
        return str(db.execute(sa.select(User.id).where(User.username == username)).scalar_one())


def login(api, username: str, password: str = PASSWORD, secret: str | None = None):
    api.clock.now += MINUTE  # a TOTP code works once: each sign-in in its own time step
    code = pyotp.TOTP(secret or api.totp_secret(username)).at(api.clock.now)
    return api.client.post("/api/v1/auth/login", json={"username": username, "password": password, "totp_code": code})


def admin_post(api, uid: str, what: str, who, reason: str | None = None):
    return api.client.post(f"/api/v1/users/{uid}/{what}", json={} if reason is None else {"reason": reason},
                           headers=who)


def entries(api, **filters):
    r = api.client.get("/api/v1/audit", params={**filters, "limit": 200},
                       headers=api.as_("RS", Role.data_protection_officer))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_a_locked_account_is_unlocked_at_once(api):
    admin = api.as_("RS", Role.administrator)
    name, _ = api.user("RS", Role.competent_authority, "-locked")
    uid = user_id(api, name)
    for _ in range(5):
        assert api.client.post("/api/v1/auth/login", json={"username": name, "password": "wrong password!",
                                                           "totp_code": "000000"}).status_code == 401
    assert login(api, name).status_code == 401  # locked for 15 minutes
    listed = {u["username"]: u for u in api.client.get("/api/v1/users", headers=admin).json()}
    assert listed[name]["locked_until"] is not None

    for who in (api.as_("RS", Role.central_authority), api.as_("RS", Role.data_protection_officer)):
        assert admin_post(api, uid, "unlock", who).status_code == 403
    assert admin_post(api, uid, "unlock", api.as_("SI", Role.administrator)).status_code == 404
    r = admin_post(api, uid, "unlock", admin, reason="called from the desk, identity checked")
    assert r.status_code == 200 and r.json()["locked_until"] is None
    assert login(api, name).status_code == 200
    again = admin_post(api, uid, "unlock", admin)
    assert again.status_code == 200  # unlocking an unlocked user changes nothing, and records nothing
    (entry,) = entries(api, action="user.unlock", object_id=uid)
    assert entry["details"]["reason"] == "called from the desk, identity checked"
    assert entry["actor"] == f"{api.tag}-rs-administrator" and entry["details"]["username"] == name


def test_a_deactivated_user_loses_every_token_at_once_and_signs_in_again_when_reactivated(api):
    admin = api.as_("RS", Role.administrator)
    name, session = api.user("RS", Role.central_authority, "-leaving")
    uid = user_id(api, name)
    mine = {"Authorization": f"Bearer {session}"}
    minted = api.client.post("/api/v1/tokens", json={"name": "case system", "scope": "read"}, headers=mine)
    assert minted.status_code == 201, minted.text
    token = {"Authorization": f"Bearer {minted.json()['api_token']}"}
    assert api.client.get("/api/v1/auth/me", headers=token).status_code == 200

    r = admin_post(api, uid, "deactivate", admin)
    assert r.status_code == 422 and "reason" in r.json()["detail"]
    assert admin_post(api, uid, "deactivate", admin, reason="   ").status_code == 422
    assert admin_post(api, uid, "deactivate", api.as_("SI", Role.administrator), reason="x").status_code == 404
    assert admin_post(api, uid, "deactivate", mine, reason="x").status_code == 403
    r = admin_post(api, uid, "deactivate", admin, reason="left the ministry on 2026-11-30")
    assert r.status_code == 200 and r.json()["is_active"] is False and r.json()["deactivated_at"] is not None
    for credential in (mine, token):
        assert api.client.get("/api/v1/auth/me", headers=credential).status_code == 401
    assert login(api, name).status_code == 401
    (entry,) = entries(api, action="user.deactivate", object_id=uid)
    assert entry["details"]["reason"] == "left the ministry on 2026-11-30"
    assert entry["details"]["revoked"] == {"sessions": 1, "api_tokens": 1}

    r = admin_post(api, uid, "reactivate", admin, reason="back from secondment")
    assert r.status_code == 200 and r.json()["is_active"] is True and r.json()["deactivated_at"] is None
    assert login(api, name).status_code == 200
    for credential in (mine, token):  # what was revoked stays revoked
        assert api.client.get("/api/v1/auth/me", headers=credential).status_code == 401
    assert [e["details"]["reason"] for e in entries(api, action="user.reactivate", object_id=uid)] == \
        ["back from secondment"]


def test_an_administrator_keeps_the_node_administered(own_api):
    api = own_api
    name, session = api.user("RS", Role.administrator, "-only")
    me = {"Authorization": f"Bearer {session}"}
    r = admin_post(api, user_id(api, name), "deactivate", me, reason="tidying up")
    assert r.status_code == 403 and "yourself" in r.json()["detail"]
    r = admin_post(api, user_id(api, name), "second-factor/reset", me, reason="lost my phone")
    assert r.status_code == 403
    # A system acting as an administrator may deactivate people, but not the Party's last administrator.
    with api.sessionmaker() as db:
        system = create_user(db, username="idm-sync", display_name="IdM", party="RS", role=Role.administrator,
                             now=api.clock.now, is_system=True)
        secret, _ = issue_api_token(db, user=system, name="idm", now=api.clock.now,
                                    expires_at=api.clock.now + dt.timedelta(days=1))
        db.commit()
    idm = {"Authorization": f"Bearer {secret}"}
    r = admin_post(api, user_id(api, name), "deactivate", idm, reason="sync")
    assert r.status_code == 409 and "last active administrator" in r.json()["detail"]
    second, _ = api.user("RS", Role.administrator, "-second")
    assert admin_post(api, user_id(api, name), "deactivate", idm, reason="sync").status_code == 200
    r = admin_post(api, user_id(api, second), "deactivate", idm, reason="sync")
    assert r.status_code == 409
    assert login(api, second).status_code == 200


def test_a_reset_second_factor_is_enrolled_again_before_the_next_sign_in(api):
    admin = api.as_("RS", Role.administrator)
    name, session = api.user("RS", Role.contact_24_7, "-lostphone")
    uid, old_secret = user_id(api, name), api.totp_secret(name)
    assert admin_post(api, uid, "second-factor/reset", admin).status_code == 422  # a reason is required
    assert admin_post(api, uid, "second-factor/reset", api.as_("SI", Role.administrator), reason="x").status_code == 404
    r = admin_post(api, uid, "second-factor/reset", admin, reason="phone stolen, reported 2026-11-23")
    assert r.status_code == 200 and r.json()["second_factor_enrolment_due"] is True
    assert api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {session}"}).status_code == 401

    r = login(api, name, secret=old_secret)
    assert r.status_code == 401 and r.json()["code"] == "second_factor_enrolment_due"
    r = login(api, name, password="wrong password!", secret=old_secret)
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"  # told only with the right password
    enrol = "/api/v1/auth/second-factor"
    for body in ({"username": name, "password": "wrong password!"}, {"username": "nobody", "password": PASSWORD}):
        r = api.client.post(enrol, json=body)
        assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    r = api.client.post(enrol, json={"username": name, "password": PASSWORD})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    new_secret = urllib.parse.parse_qs(urllib.parse.urlparse(r.json()["totp_uri"]).query)["secret"][0]
    assert new_secret != old_secret
    assert login(api, name, secret=old_secret).status_code == 401
    r = login(api, name, secret=new_secret)
    assert r.status_code == 200 and r.json()["user"]["second_factor_enrolment_due"] is False
    r = api.client.post(enrol, json={"username": name, "password": PASSWORD})
    assert r.status_code == 409  # enrolled: a new secret only after another reset

    (entry,) = entries(api, action="user.second_factor_reset", object_id=uid)
    assert entry["details"]["reason"] == "phone stolen, reported 2026-11-23"
    assert [e["action"] for e in entries(api, object_type="user", object_id=uid)][:4] == \
        ["auth.second_factor_enrol_failed", "auth.login", "auth.login_failed", "auth.second_factor_enrol"]


def test_a_user_created_by_an_administrator_is_of_its_party_and_audited(api):
    admin = api.as_("RS", Role.administrator)
    body = {"username": f"{api.tag}-new-247", "display_name": "Night desk", "role": "contact_24_7",
            "password": "a long password 1"}
    r = api.client.post("/api/v1/users", json=body, headers=admin)
    assert r.status_code == 201, r.text
    made = r.json()["user"]
    assert made["party"] == "RS" and r.json()["totp_uri"].startswith("otpauth://") and r.json()["api_token"] is None
    (entry,) = entries(api, action="user.create", object_id=made["id"])
    assert entry["actor"] == f"{api.tag}-rs-administrator"
    assert (entry["details"]["username"], entry["details"]["role"]) == (body["username"], "contact_24_7")
    assert api.client.post("/api/v1/users", json={**body, "username": f"{api.tag}-x"},
                           headers=api.as_("RS", Role.central_authority)).status_code == 403
