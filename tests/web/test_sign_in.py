"""Sign-in, sign-out, CSRF and the session cookie of the web application (in process)."""

from __future__ import annotations

import pyotp

from evidex.parties.roles import Role
from tests.api.conftest import PASSWORD
from tests.web.site import Site, site

__all__ = ["site"]


def test_a_page_without_a_session_sends_the_browser_to_sign_in(site: Site) -> None:
    r = site.client.get("/", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/sign-in?next=/"


def test_sign_in_with_password_and_code_opens_the_dashboard_and_sign_out_ends_the_session(site: Site) -> None:
    name, secret = site.person("RS", Role.central_authority)
    form = {"csrf_token": site.csrf(), "username": name, "password": PASSWORD,
            "totp_code": pyotp.TOTP(secret).at(site.clock.now), "next": "/"}
    r = site.client.post("/sign-in", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "evidex_session=evs_" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    page = site.client.get("/")
    assert page.status_code == 200
    assert f"Officer {name}" in page.text and "Dashboard" in page.text
    token = site.client.cookies.get("evidex_session")
    r = site.client.post("/sign-out", data={"csrf_token": site.csrf("/")}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")
    # revoked on the server: the old cookie no longer opens anything
    site.client.cookies.set("evidex_session", token)
    assert site.client.get("/", follow_redirects=False).status_code == 303
    assert site.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_failed_sign_in_says_the_same_whatever_the_reason(site: Site) -> None:
    name, secret = site.person("RS", Role.central_authority)
    answers = []
    for username, password, code in ((name, "wrong password", pyotp.TOTP(secret).at(site.clock.now)),
                                     ("nobody-at-all", PASSWORD, "123456"),
                                     (name, PASSWORD, "000000")):
        r = site.client.post("/sign-in", data={"csrf_token": site.csrf(), "username": username, "password": password,
                                               "totp_code": code}, follow_redirects=False)
        assert r.status_code == 401
        assert "There is a problem" in r.text
        answers.append(r.text.split('<main', 1)[1].replace(username, "USER"))
    assert answers[0] == answers[1] == answers[2]  # no difference tells whether the account exists


def test_a_form_posted_without_its_csrf_token_is_refused(site: Site) -> None:
    name, secret = site.person("RS", Role.central_authority)
    site.client.get("/sign-in")
    r = site.client.post("/sign-in", data={"username": name, "password": PASSWORD,
                                           "totp_code": pyotp.TOTP(secret).at(site.clock.now)},
                         follow_redirects=False)
    assert r.status_code == 403
    assert "form has expired" in r.text
    assert "evidex_session" not in r.headers.get("set-cookie", "")
    site.sign_in("RS", Role.central_authority, "-2")
    r = site.client.post("/sign-out", data={"csrf_token": "0" * 64}, follow_redirects=False)
    assert r.status_code == 403
    assert site.client.get("/", follow_redirects=False).status_code == 200  # still signed in


def test_a_csrf_token_of_another_session_is_refused(site: Site) -> None:
    site.sign_in("RS", Role.central_authority)
    stolen = site.csrf("/")
    site.client.cookies.clear()
    site.sign_in("RS", Role.central_authority, "-other")
    r = site.client.post("/sign-out", data={"csrf_token": stolen}, follow_redirects=False)
    assert r.status_code == 403


def test_next_never_leaves_the_node(site: Site) -> None:
    name, secret = site.person("RS", Role.central_authority)
    r = site.client.post("/sign-in", data={"csrf_token": site.csrf(), "username": name, "password": PASSWORD,
                                           "totp_code": pyotp.TOTP(secret).at(site.clock.now),
                                           "next": "//evil.example/x"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_pages_carry_a_strict_content_security_policy_and_are_not_cached(site: Site) -> None:
    r = site.client.get("/sign-in")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "form-action 'self'" in csp
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-frame-options"] == "DENY"
    api = site.client.get("/api/v1/health")
    assert "default-src 'none'" in api.headers["content-security-policy"]


def test_static_assets_are_served_by_the_node_compressed_and_cached(site: Site) -> None:
    page = site.client.get("/sign-in").text
    import re

    links = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert any("evidex.css" in x for x in links) and any("htmx.min.js" in x for x in links)
    assert not re.search(r'(?:href|src)="(?:https?:)?//', page)  # nothing from outside the node
    for link in links:
        r = site.client.get(link, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200, link
        assert "immutable" in r.headers["cache-control"]
    assert site.client.get("/static/../pyproject.toml").status_code == 404
    assert site.client.get("/static/nothing.css").status_code == 404


def test_an_unknown_page_is_a_404_page_not_json(site: Site) -> None:
    site.sign_in("RS", Role.central_authority)
    r = site.client.get("/no/such/page")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Page not found" in r.text
    assert site.client.get("/api/v1/no-such").headers["content-type"].startswith("application/problem+json")


def test_an_unexpected_failure_is_an_html_page_without_a_trace(site: Site, monkeypatch) -> None:
    from evidex.cases import desk

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("secret internal detail")

    site.sign_in("RS", Role.central_authority)
    monkeypatch.setattr(desk, "desk", broken)
    r = site.client.get("/")
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert "Sorry, something went wrong" in r.text and "Nothing you entered has been saved" in r.text
    assert "secret internal detail" not in r.text and "Traceback" not in r.text
    api = site.client.get("/api/v1/no-such-route")
    assert api.headers["content-type"].startswith("application/problem+json")


def test_only_a_language_chosen_with_the_switcher_becomes_the_persons_own(site: Site) -> None:
    import sqlalchemy as sa

    from evidex.parties.models import User

    def stored(name: str) -> str | None:
        with site.sessionmaker() as db:
            return db.execute(sa.select(User.locale).where(User.username == name)).scalar_one()

    site.client.headers["Accept-Language"] = "fr"
    guessed = site.sign_in("RS", Role.central_authority, "-guessed")
    assert '<html lang="fr"' in site.client.get("/").text  # the browser's language is used...
    assert stored(guessed) is None  # ...but not kept as the person's choice
    site.client.cookies.clear()
    site.client.post("/language", data={"csrf_token": site.csrf(), "lang": "sl", "next": "/sign-in"})
    chosen = site.sign_in("RS", Role.central_authority, "-chosen")
    assert stored(chosen) == "sl"


def test_the_menu_marks_the_one_entry_the_page_belongs_to(site: Site) -> None:
    import re

    site.sign_in("RS", Role.central_authority)
    for path, label in (("/requests/new", "New request"), ("/requests", "Requests"), ("/", "Dashboard")):
        page = site.client.get(path).text
        active = re.findall(r'govuk-service-navigation__item--active">\s*<a[^>]*>\s*(?:<strong[^>]*>)?\s*([^<]+?)\s*<', page)
        assert active == [label], (path, active)
