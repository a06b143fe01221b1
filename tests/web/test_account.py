"""A person's own account: changing the password (web and API), and enrolling a new authenticator in the
browser after an administrator reset the second factor (in process)."""

from __future__ import annotations

import datetime as dt
import re

import pyotp
import sqlalchemy as sa

from evidex.parties import service as users
from evidex.parties.models import User
from evidex.parties.roles import Role
from tests.api.conftest import PASSWORD
from tests.web.site import Site, site

__all__ = ["site"]

NEW = "a new passphrase of five words"


def api_login(s: Site, name: str, secret: str, password: str) -> int:
    s.clock.now += dt.timedelta(seconds=30)  # TOTP codes are single-use: each sign-in in a window of its own
    code = pyotp.TOTP(secret).at(s.clock.now)
    return s.client.post("/api/v1/auth/login", json={"username": name, "password": password,
                                                      "totp_code": code}).status_code


def test_a_person_changes_their_password_other_sessions_end_this_one_stays(site: Site) -> None:
    name, secret = site.person("RS", Role.competent_authority)
    other = site.api_headers_of(name, secret)  # a session elsewhere
    site.clock.now += dt.timedelta(seconds=30)  # TOTP codes are single-use: the next window
    site.sign_in_as(name, secret)
    page = site.client.get("/account").text
    assert "Change your password" in page and name in page

    def post(current: str, new: str, again: str | None = None):  # type: ignore[no-untyped-def]
        return site.client.post("/account/password", data={
            "csrf_token": site.csrf("/account"), "current_password": current, "new_password": new,
            "confirm_password": new if again is None else again}, follow_redirects=False)

    for current, new, again, field, says in (
            ("wrong password here", NEW, None, "current_password", "Your current password is not right."),
            (PASSWORD, "short", None, "new_password", "too short"),
            (PASSWORD, PASSWORD, None, "new_password", "must differ from the current one"),
            (PASSWORD, NEW, NEW + "x", "confirm_password", "not the same")):
        r = post(current, new, again)
        assert r.status_code == 422 and says in r.text and f'href="#{field}"' in r.text, (field, r.text[:200])
    assert api_login(site, name, secret, PASSWORD) == 200  # nothing changed meanwhile
    r = post(PASSWORD, NEW)
    assert r.status_code == 303 and r.headers["location"] == "/account?notice=password"
    assert "Your password is changed" in site.client.get(r.headers["location"]).text  # this session stays
    assert site.client.get("/api/v1/auth/me", headers=other).status_code == 401  # the other one ended
    assert api_login(site, name, secret, PASSWORD) == 401
    assert api_login(site, name, secret, NEW) == 200


def test_a_password_change_without_its_csrf_token_is_refused(site: Site) -> None:
    site.sign_in("RS", Role.competent_authority)
    r = site.client.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW,
                                                     "confirm_password": NEW}, follow_redirects=False)
    assert r.status_code == 403


def test_the_api_changes_a_password_with_a_session_never_with_an_api_token(site: Site) -> None:
    name, secret = site.person("RS", Role.central_authority)
    headers = site.api_headers_of(name, secret)
    r = site.client.post("/api/v1/auth/password", json={"current_password": "not it at all", "new_password": NEW},
                         headers=headers)
    assert r.status_code == 422 and r.json()["problems"] == [{"field": "current_password", "code": "wrong_password"}]
    with site.sessionmaker() as db:
        user = db.execute(sa.select(User).where(User.username == name)).scalar_one()
        token, _row = users.issue_api_token(db, user=user, name="script", now=site.clock.now,
                                            expires_at=site.clock.now + dt.timedelta(days=1))
        db.commit()
    r = site.client.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": NEW},
                         headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    r = site.client.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": NEW},
                         headers=headers)
    assert r.status_code == 204
    assert site.client.get("/api/v1/auth/me", headers=headers).status_code == 200  # this session stays


def test_after_a_reset_the_person_enrols_a_new_authenticator_in_the_browser_and_signs_in(site: Site) -> None:
    name, _secret = site.person("RS", Role.competent_authority)
    admin, _ = site.person("RS", Role.administrator)
    with site.sessionmaker() as db:  # the administrator's act (its own page is tested in test_admin_pages)
        actor = users.principal_of(db.execute(sa.select(User).where(User.username == admin)).scalar_one())
        users.reset_second_factor(db, actor=actor, user=name, reason="phone lost", now=site.clock.now)
    r = site.client.post("/sign-in", data={"csrf_token": site.csrf(), "username": name, "password": PASSWORD,
                                           "totp_code": "123456"}, follow_redirects=False)
    assert r.status_code == 401 and 'href="/second-factor"' in r.text
    form = site.client.get("/second-factor")
    assert form.status_code == 200 and "Get a new key" in form.text
    r = site.client.post("/second-factor", data={"csrf_token": site.csrf("/second-factor"), "username": name,
                                                 "password": "not the password"})
    assert r.status_code == 401 and "is not right" in r.text and "totp-key" not in r.text
    r = site.client.post("/second-factor", data={"csrf_token": site.csrf("/second-factor"), "username": name,
                                                 "password": PASSWORD})
    assert r.status_code == 200 and "<svg" in r.text and r.headers["cache-control"] == "no-store"
    key = re.search(r'id="totp-key">([A-Z2-7 ]+)<', r.text)
    assert key, r.text[-2000:]
    secret = key.group(1).replace(" ", "")
    site.clock.now += dt.timedelta(seconds=30)
    site.sign_in_as(name, secret)
    assert site.client.get("/", follow_redirects=False).status_code == 200
