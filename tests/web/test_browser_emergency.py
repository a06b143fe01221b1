"""Two real nodes (RS and ME, HTTPS, as in the federation tests) and a real browser: an emergency
disclosure request (CETS224 Art 9) sent by RS's 24/7 contact appears on ME's 24/7 contact's dashboard
within 5 seconds of sending, without a reload, with the visible alert."""

from __future__ import annotations

import time

import pyotp
import pytest

from evidex.demo.federation import PASSWORD, introduce
from evidex.parties.roles import Role
from tests.e2e.test_federation import Node, pair
from tests.factories import document
from tests.web.conftest import axe_check

__all__ = ["pair"]


def sign_in(page, node: Node, name: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{node.url}/sign-in")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.fill("#totp_code", pyotp.TOTP(node.totp[name]).now())
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{node.url}/")


@pytest.mark.slow
@pytest.mark.parametrize("pair", ["sqlite"], indirect=True)  # the web's part; the federation tests run both
def test_an_emergency_reaches_the_other_24_7_contacts_dashboard_within_5_seconds(pair, browser) -> None:
    rs, me = pair
    introduce(rs, me)
    rs.add_users(("rs-247", Role.contact_24_7))
    me.add_users(("me-247", Role.contact_24_7))
    for n in (rs, me):
        n.start()
    context = browser.new_context(ignore_https_errors=True)  # each node's own certificate (pinned by the API tests)
    page = context.new_page()
    sign_in(page, me, "me-247")
    assert page.locator("#emergencies [data-evx-emergency]").count() == 0
    axe_check(page)

    a = rs.login("rs-247")
    case = a.post("/api/v1/cases", json={"reference": "VTK-EM-1", "title": "Child in danger"}).json()
    rid = a.post("/api/v1/requests", json={"case_id": case["id"],
                                           "document": document("emergency_disclosure", "RS", "ME")}).json()["id"]
    r = a.post(f"/api/v1/requests/{rid}/transitions", json={"event": "send_alone"})  # at night, alone (Art 9)
    assert r.status_code == 200, r.text
    sent = time.monotonic()
    row = page.locator("#emergencies [data-evx-emergency]").first
    row.wait_for(state="visible", timeout=5_000)  # fails after 5 s: the aim itself
    seen = time.monotonic() - sent
    assert "VTK-EM-1" not in page.url  # no navigation: the same page, updated in place
    assert "RS" in row.inner_text() and "ME" in row.inner_text()
    alert = page.locator("#emergency-alert")
    alert.wait_for(state="visible", timeout=2_000)
    assert "VTK-EM-1" in alert.inner_text() or "emergency" in alert.inner_text().lower()
    print(f"emergency on the receiving dashboard {seen:.2f} s after sending")
    context.close()
