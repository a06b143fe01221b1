"""Data protection and administration in the browser (in process): the audit log searched and verified,
users created (second factor shown once), unlocked, deactivated, reactivated, their second factor reset —
each audited with its reason — and the trust list and outbox, for the roles the API allows."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
import sqlalchemy as sa

from evidex.audit import service as audit
from evidex.audit.models import AuditEntry
from evidex.cases import service as cases
from evidex.exchange import keys
from evidex.exchange import service as exchange
from evidex.exchange.models import OutboxMessage
from evidex.exchange.protocol import AcknowledgementMessage
from evidex.parties.models import User
from evidex.parties.roles import Principal, Role
from evidex.web.page import ALL_PEOPLE
from tests.api.conftest import PASSWORD
from tests.web.site import Site, make_site, site

__all__ = ["site"]
READERS = {Role.data_protection_officer, Role.administrator}


@pytest.fixture
def own_site(own_database_url: str, tmp_path: Path) -> Iterator[Site]:
    """The site on a database of this test alone: it signs audit heads, tampers with entries or counts rows."""
    yield from make_site(own_database_url, tmp_path)


def as_(site: Site, party: str, role: Role, suffix: str = "") -> str:
    site.client.cookies.clear()
    return site.sign_in(party, role, suffix)


def entries(site: Site, action: str, **where: Any) -> list[AuditEntry]:
    with site.sessionmaker() as db:
        q = sa.select(AuditEntry).where(AuditEntry.action == action, *(getattr(AuditEntry, k) == v
                                                                      for k, v in where.items()))
        return list(db.execute(q.order_by(AuditEntry.seq)).scalars())


def user_id(site: Site, username: str) -> uuid.UUID:
    with site.sessionmaker() as db:
        return db.execute(sa.select(User.id).where(User.username == username)).scalar_one()


def errors_linked(html: str) -> list[str]:
    """The fields the GOV.UK error summary links to."""
    summary = html.split('class="govuk-error-summary', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'href="#([^"]+)"', summary)


# --------------------------------------------------------------------------- who may open what
def test_each_page_is_open_to_the_roles_the_api_allows_and_403_to_the_others(site: Site) -> None:
    pages = {"/audit": READERS, "/admin/users": {Role.administrator}, "/admin/users/new": {Role.administrator},
             "/admin/peers": {Role.administrator}, "/admin/outbox": {Role.administrator}}
    for role in sorted(ALL_PEOPLE):
        as_(site, "RS", role)
        for path, allowed in pages.items():
            r = site.client.get(path)
            assert r.status_code == (200 if role in allowed else 403), (role, path)
            assert r.headers["content-type"].startswith("text/html")
        nav = site.client.get("/").text
        assert ('href="/audit"' in nav) == (role in READERS), role
        assert ('href="/admin/users"' in nav) == (role is Role.administrator), role
        assert ('href="/admin/outbox"' in nav) == (role is Role.administrator), role
        token = site.csrf("/")
        for path in ("/audit/verify", "/admin/users"):
            r = site.client.post(path, data={"csrf_token": token}, follow_redirects=False)
            allowed = READERS if path == "/audit/verify" else {Role.administrator}
            if role not in allowed:
                assert r.status_code == 403, (role, path)


def test_every_form_is_refused_without_its_csrf_token(site: Site) -> None:
    admin = as_(site, "RS", Role.administrator)
    target, _ = site.person("RS", Role.competent_authority, "-csrf")
    target_id = user_id(site, target)
    site.client.get("/admin/users")
    forms = [("/admin/users", {"username": "never-made", "display_name": "Never", "role": "central_authority",
                               "password": PASSWORD, "password_again": PASSWORD}),
             *[(f"/admin/users/{target_id}/{a}", {"reason": "no token"})
               for a in ("unlock", "deactivate", "reactivate", "reset-second-factor")],
             ("/audit/verify", {})]
    for path, data in forms:
        for token in (None, "0" * 64):
            r = site.client.post(path, data=data if token is None else {**data, "csrf_token": token},
                                 follow_redirects=False)
            assert r.status_code == 403 and "form has expired" in r.text, path
    with site.sessionmaker() as db:
        assert db.execute(sa.select(User).where(User.username == "never-made")).first() is None
        assert db.get(User, target_id).is_active  # type: ignore[union-attr]
    assert not entries(site, "user.deactivate", object_id=str(target_id))
    assert admin


# --------------------------------------------------------------------------- the audit log
def test_the_audit_search_filters_by_user_object_action_and_dates_and_pages(own_site: Site) -> None:
    site = own_site
    officer = as_(site, "RS", Role.central_authority, "-audited")
    with site.sessionmaker() as db:
        who = Principal(user_id=user_id(site, officer), username=officer, party="RS", role=Role.central_authority)
        case = cases.create_case(db, actor=who, reference="K-WEB-AUDIT", title="Phishing kit", now=site.clock.now)
        for n in range(57):  # more than a page of one action
            audit.record(db, actor=who, action="test.ping", object_type="case", object_id=str(case.id),
                         at=site.clock.now, details={"n": n})
        db.commit()
        case_id = str(case.id)
    as_(site, "SI", Role.data_protection_officer)  # another Party's officer sees none of it
    r = site.client.get("/audit", params={"actor": officer})
    assert r.status_code == 200 and "No entry matches this search." in r.text

    dpo = as_(site, "RS", Role.data_protection_officer)
    page = site.client.get("/audit", params={"actor": officer}).text
    assert "59 entries" in page  # the sign-in, the case, 57 pings
    actors = r'<td class="govuk-table__cell"><a class="govuk-link" href="[^"]*">([^<]+)</a></td>'
    assert re.findall(actors, page.split("<tbody", 1)[1]) == [officer] * 50  # newest first, a page of them
    assert 'href="/audit?actor=' in page and "page=2" in page  # "Older"
    second = site.client.get("/audit", params={"actor": officer, "page": 2}).text.split("<tbody", 1)[1]
    assert re.findall(actors, second) == [officer] * 9
    assert second.index("case.create") < second.index("auth.login")  # the oldest last

    by_object = site.client.get("/audit", params={"object_type": "case", "object_id": case_id,
                                                  "action": "case.create"}).text
    assert "1 entry" in by_object and "case.create" in by_object.split("<tbody", 1)[1]

    pinged = site.client.get("/audit", params={"action": "test.ping"}).text
    assert "57 entries" in pinged and pinged.count(">test.ping<") == 50
    older = site.client.get("/audit", params={"action": "test.ping", "page": 2}).text
    assert older.count(">test.ping<") == 7
    assert 'n:</span> <span class="evx-mono">0</span>' in older  # the oldest entry is on the last page

    day = site.clock.now.date()
    same_day = site.client.get("/audit", params={"action": "case.create", "since": day.isoformat(),
                                                 "until": day.isoformat()}).text
    assert "1 entry" in same_day  # "to" includes its day
    before = site.client.get("/audit", params={"action": "case.create",
                                               "until": (day - dt.timedelta(days=1)).isoformat()}).text
    after = site.client.get("/audit", params={"action": "case.create",
                                              "since": (day + dt.timedelta(days=1)).isoformat()}).text
    assert "No entry matches this search." in before and "No entry matches this search." in after

    # Each search is itself recorded, with its filter (as GET /api/v1/audit).
    reads = entries(site, "audit.read", actor=dpo)
    assert {"actor": officer} in [e.details["filter"] for e in reads]
    assert any(e.details["filter"].get("action") == "test.ping" and e.details["offset"] == 50 for e in reads)


def test_a_bad_search_is_shown_on_the_form_with_the_values_kept(site: Site) -> None:
    as_(site, "RS", Role.administrator)
    before = len(entries(site, "audit.read"))
    r = site.client.get("/audit", params={"actor": "x" * 81, "since": "2026-13-01", "object_type": "request"})
    assert r.status_code == 422
    assert errors_linked(r.text) == ["actor", "since"]
    assert 'value="request"' in r.text and 'value="2026-13-01"' in r.text
    assert "<title>Error:" in r.text
    r = site.client.get("/audit", params={"since": "2026-11-24", "until": "2026-11-23"})
    assert r.status_code == 422 and errors_linked(r.text) == ["until"]
    assert len(entries(site, "audit.read")) == before  # nothing was read


def test_verify_says_the_log_is_intact_then_names_the_broken_entry_after_tampering(own_site: Site) -> None:
    site = own_site
    officer = as_(site, "RS", Role.central_authority, "-busy")
    with site.sessionmaker() as db:
        who = Principal(user_id=user_id(site, officer), username=officer, party="RS", role=Role.central_authority)
        cases.create_case(db, actor=who, reference="K-WEB-VERIFY", title="Ransomware", now=site.clock.now)
        db.commit()
    as_(site, "RS", Role.data_protection_officer)
    # Without JavaScript: POST, then the result's own page.
    r = site.client.post("/audit/verify", data={"csrf_token": site.csrf("/audit")}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/audit/verifications/")
    result = site.client.get(r.headers["location"])
    assert result.status_code == 200
    with site.sessionmaker() as db:
        checked = db.execute(sa.select(sa.func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action != "audit.verify")).scalar_one()
    assert "The audit log is intact." in result.text
    assert f"{checked} entries were checked" in result.text
    assert "No signed head yet: only the hash chain was checked." in result.text
    assert re.search(r"The head of entry \d+ is now signed.", result.text)
    # With HTMX: the result region only, announced (role=status on the region it lands in).
    r = site.client.post("/audit/verify", data={"csrf_token": site.csrf("/audit")}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "<html" not in r.text and "The audit log is intact." in r.text
    assert "1 signed head checked with HMAC-SHA256" in r.text  # the head the first check signed
    assert 'id="verify-result" role="status"' in site.client.get("/audit").text
    recorded = entries(site, "audit.verify")
    assert len(recorded) == 2 and recorded[0].details["intact"] is True

    # Someone with the database changes an entry the signed head covers.
    changed = entries(site, "case.create")[0].seq
    with site.sessionmaker() as db:
        db.execute(sa.update(AuditEntry).where(AuditEntry.seq == changed).values(action="case.nothing"))
        db.commit()
    r = site.client.post("/audit/verify", data={"csrf_token": site.csrf("/audit")})  # redirect followed
    assert r.status_code == 200
    assert "The audit log has been tampered with" in r.text
    assert f"First broken entry: number {changed}." in r.text
    assert f"entry {changed}: content changed after it was written" in r.text
    assert "no longer matches the chain" in r.text  # the signed head disagrees with the rewrite
    assert "now signed" not in r.text  # a broken chain is never signed
    last = entries(site, "audit.verify")[-1]
    assert last.details["intact"] is False and last.details["first_broken_entry"] == changed

    # The result is its Party's: another Party's officer gets the 404 page, and may not verify this node.
    as_(site, "SI", Role.data_protection_officer)
    assert site.client.get(f"/audit/verifications/{last.seq}").status_code == 404
    r = site.client.post("/audit/verify", data={"csrf_token": site.csrf("/audit")}, follow_redirects=False)
    assert r.status_code == 403
    as_(site, "RS", Role.administrator)
    assert site.client.get(f"/audit/verifications/{changed}").status_code == 404  # not a verification


# --------------------------------------------------------------------------- users
def new_user_form(**change: str) -> dict[str, str]:
    return {"username": f"web-new-{uuid.uuid4().hex[:6]}", "display_name": "Jelena Marković",
            "role": "central_authority", "provider": "", "password": PASSWORD, "password_again": PASSWORD, **change}


def test_the_administrator_creates_a_user_whose_second_factor_is_shown_once_and_works(site: Site) -> None:
    admin = as_(site, "RS", Role.administrator)
    assert site.client.get("/admin/users/new").status_code == 200
    form = new_user_form()
    r = site.client.post("/admin/users", data={**form, "csrf_token": site.csrf("/admin/users/new")},
                         follow_redirects=False)
    assert r.status_code == 200 and "User created" in r.text
    assert r.headers["cache-control"] == "no-store"
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', r.text)
    assert secret is not None
    assert f"otpauth://totp/evidex%20RS:{form['username']}?secret={secret.group(1)}" in r.text.replace("&amp;", "&")
    created = user_id(site, form["username"])
    # Shown once: no other page has it.
    for path in ("/admin/users", f"/admin/users/{created}", f"/audit?object_id={created}"):
        assert secret.group(1) not in site.client.get(path).text, path
    assert form["username"] in site.client.get("/admin/users").text
    [entry] = entries(site, "user.create", object_id=str(created))
    assert entry.actor == admin and entry.details == {"username": form["username"], "role": "central_authority"}
    # The person signs in with the first password and the secret shown.
    site.client.cookies.clear()
    r = site.client.post("/sign-in", data={"csrf_token": site.csrf(), "username": form["username"],
                                           "password": PASSWORD,
                                           "totp_code": pyotp.TOTP(secret.group(1)).at(site.clock.now)},
                         follow_redirects=False)
    assert r.status_code == 303
    assert "Jelena Marković" in site.client.get("/").text


def test_a_new_user_form_with_mistakes_is_shown_again_with_each_field_named(site: Site) -> None:
    as_(site, "RS", Role.administrator)
    token = site.csrf("/admin/users/new")
    r = site.client.post("/admin/users", data={**new_user_form(username="a b", display_name="", role="system",
                                                               password="short"), "csrf_token": token})
    assert r.status_code == 422
    assert errors_linked(r.text) == ["username", "display_name", "role", "password"]
    assert 'value="a b"' in r.text  # kept
    r = site.client.post("/admin/users", data={**new_user_form(role="service_provider", password_again="other one!!"),
                                               "csrf_token": token})
    assert r.status_code == 422 and errors_linked(r.text) == ["provider", "password_again"]
    taken, _ = site.person("RS", Role.competent_authority, "-taken")
    r = site.client.post("/admin/users", data={**new_user_form(username=taken), "csrf_token": token})
    assert r.status_code == 422 and errors_linked(r.text) == ["username"] and "taken" in r.text
    provider = new_user_form(role="service_provider", provider="Zgled Mail d.o.o.")
    r = site.client.post("/admin/users", data={**provider, "csrf_token": token})
    assert r.status_code == 200 and "User created" in r.text
    with site.sessionmaker() as db:
        made = db.execute(sa.select(User).where(User.username == provider["username"])).scalar_one()
        assert (made.role, made.provider, made.party) == ("service_provider", "Zgled Mail d.o.o.", "RS")


def lock_out(site: Site, username: str) -> None:
    """Five wrong passwords through the sign-in form lock the account (parties.service)."""
    site.client.cookies.clear()
    for _ in range(5):
        site.client.post("/sign-in", data={"csrf_token": site.csrf(), "username": username, "password": "wrong",
                                           "totp_code": "000000"}, follow_redirects=False)


def test_unlock_deactivate_reactivate_and_reset_each_audited_with_their_reason(site: Site) -> None:
    target, secret = site.person("RS", Role.contact_24_7, "-target")
    target_id = user_id(site, target)
    lock_out(site, target)
    admin = as_(site, "RS", Role.administrator)
    listing = site.client.get("/admin/users").text
    row = listing.split(f">{target}</a>", 1)[1].split("</tr>", 1)[0]
    assert "Locked" in row and "Active" in row
    page_url = f"/admin/users/{target_id}"

    def act(action: str, reason: str) -> httpx.Response:
        return site.client.post(f"{page_url}/{action}", data={"csrf_token": site.csrf(page_url), "reason": reason},
                                follow_redirects=False)

    r = act("unlock", "called the helpdesk from the office")
    assert r.status_code == 303 and r.headers["location"] == f"{page_url}?notice=unlocked"
    assert "The account is unlocked" in site.client.get(r.headers["location"]).text
    [e] = entries(site, "user.unlock", object_id=str(target_id))
    assert e.actor == admin and e.details["reason"] == "called the helpdesk from the office"

    r = act("deactivate", "   ")
    assert r.status_code == 422 and errors_linked(r.text) == ["reason-deactivate"]
    assert not entries(site, "user.deactivate", object_id=str(target_id))
    r = act("deactivate", "left the unit")
    assert r.status_code == 303 and r.headers["location"].endswith("notice=deactivated")
    [e] = entries(site, "user.deactivate", object_id=str(target_id))
    assert e.details["reason"] == "left the unit"
    assert "Deactivated" in site.client.get(page_url).text

    r = act("reactivate", "back from leave")
    assert r.status_code == 303
    [e] = entries(site, "user.reactivate", object_id=str(target_id))
    assert e.details["reason"] == "back from leave"

    r = act("reset-second-factor", "")
    assert r.status_code == 422 and errors_linked(r.text) == ["reason-reset-second-factor"]
    r = act("reset-second-factor", "phone stolen")
    assert r.status_code == 303
    [e] = entries(site, "user.second_factor_reset", object_id=str(target_id))
    assert e.actor == admin and e.details["reason"] == "phone stolen"
    assert "enrolment due" in site.client.get(page_url).text
    # The old authenticator no longer signs the person in.
    site.client.cookies.clear()
    r = site.client.post("/sign-in", data={"csrf_token": site.csrf(), "username": target, "password": PASSWORD,
                                           "totp_code": pyotp.TOTP(secret).at(site.clock.now)},
                         follow_redirects=False)
    assert r.status_code == 401


def test_an_administrator_cannot_deactivate_themselves_and_another_partys_user_is_not_found(site: Site) -> None:
    admin = as_(site, "RS", Role.administrator)
    me = user_id(site, admin)
    mine = site.client.get(f"/admin/users/{me}").text
    assert "You cannot deactivate yourself" in mine and f"/admin/users/{me}/deactivate" not in mine
    r = site.client.post(f"/admin/users/{me}/deactivate", data={"csrf_token": site.csrf("/"), "reason": "test"},
                         follow_redirects=False)
    assert r.status_code == 403 and "There is a problem" in r.text and "yourself" in r.text
    assert not entries(site, "user.deactivate", object_id=str(me))
    foreign, _ = site.person("SI", Role.central_authority, "-foreign")
    foreign_id = user_id(site, foreign)
    assert foreign not in site.client.get("/admin/users").text
    assert site.client.get(f"/admin/users/{foreign_id}").status_code == 404
    r = site.client.post(f"/admin/users/{foreign_id}/deactivate", data={"csrf_token": site.csrf("/"),
                                                                         "reason": "not mine"})
    assert r.status_code == 404 and "Page not found" in r.text
    with site.sessionmaker() as db:
        assert db.get(User, foreign_id).is_active  # type: ignore[union-attr]
    assert site.client.get(f"/admin/users/{uuid.uuid4()}").status_code == 404
    assert site.client.post(f"/admin/users/{me}/promote", data={"csrf_token": site.csrf("/")}).status_code == 404


# --------------------------------------------------------------------------- peers and outbox
def test_peers_and_the_outbox_show_waiting_messages_dead_letters_and_negative_receipts(own_site: Site) -> None:
    site = own_site
    node = keys.generate("RS", "https://rs.example:8443")
    me = keys.generate("ME", "https://me.example:8443")
    t0 = site.clock.now
    with site.sessionmaker() as db:
        exchange.add_peer(db, document=me.public_document(t0, t0 + dt.timedelta(days=365)), now=t0,
                          actor=Principal.system("RS"))
        exchange.send(db, node=node, recipient="ME", message=AcknowledgementMessage(event="record_acknowledgement"),
                      conversation_id="conv-refused", now=t0)
        db.commit()
    refuse = httpx.MockTransport(lambda request: httpx.Response(422, text="invalid_payload: unknown event"))
    report = exchange.deliver_once(site.sessionmaker, node, t0, client_for=lambda peer: httpx.Client(transport=refuse))
    assert report.dead == 1
    with site.sessionmaker() as db:
        assert exchange.receipt_timeouts(db, party="RS", now=t0 + dt.timedelta(hours=25)) == 1
        exchange.send(db, node=node, recipient="ME", message=AcknowledgementMessage(event="record_acknowledgement"),
                      conversation_id="conv-waiting", now=t0 + dt.timedelta(hours=25))
        db.commit()
        waiting = db.execute(sa.select(OutboxMessage).where(OutboxMessage.status == "pending")).scalar_one()
        dead = db.execute(sa.select(OutboxMessage).where(OutboxMessage.status == "dead")).scalar_one()

    as_(site, "RS", Role.administrator)
    peers = site.client.get("/admin/peers").text
    assert "https://me.example:8443" in peers and "Trusted" in peers
    assert me.signing_jwk["kid"][:16] in peers and me.encryption_jwk["kid"][:16] in peers
    assert "This node has no federation identity yet" in peers  # this test's node has none on disk

    outbox = site.client.get("/admin/outbox").text
    dead_section = outbox.split('id="dead-letters"', 1)[1].split("</table>", 1)[0]
    assert dead.msg_id in dead_section and "rejected by ME: HTTP 422 invalid_payload: unknown event" in dead_section
    waiting_section = outbox.split('id="waiting"', 1)[1].split("</table>", 1)[0]
    assert waiting.msg_id in waiting_section and dead.msg_id not in waiting_section
    negative = outbox.split('id="negative-receipts"', 1)[1].split("</table>", 1)[0]
    assert "No delivery receipt" in negative and dead.msg_id in negative
    assert "Dead letter" in outbox and "Waiting" in outbox  # the summary by peer and status

    as_(site, "SI", Role.administrator)  # another Party's administrator: not this node's trust list or outbox
    assert site.client.get("/admin/outbox").status_code == 403
    assert site.client.get("/admin/peers").status_code == 403
