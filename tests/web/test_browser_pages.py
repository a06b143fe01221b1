"""The pages in a real browser (Debian chromium) on a real node with the demo data: every page in
every language passes axe-core (no serious or critical WCAG 2.1 AA violation); the drafting page's
verdict follows the officer's typing without a reload; and the screenshots of README are taken here
(docs/screenshots/)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyotp
import pytest

from evidex.core.settings import Settings
from evidex.node import build_node
from evidex.parties.roles import Role
from evidex.parties.service import create_user
from evidex.web import i18n
from tests.web.conftest import LiveNode, axe_check

pytestmark = pytest.mark.slow
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "browser test password 2026"


def person(node: LiveNode, role: Role, name: str) -> tuple[str, str]:
    with build_node(Settings(database_url=node.env["EVIDEX_DATABASE_URL"], node_party="RS")) as n, n.sessions() as db:
        u = create_user(db, username=name, display_name=f"Officer {name}", party="RS", role=role,
                        now=dt.datetime.now(dt.UTC), password=PASSWORD)
        secret = u.totp_secret or ""
        db.commit()
    return name, secret


def sign_in(page: Any, url: str, who: tuple[str, str]) -> None:
    page.goto(f"{url}/sign-in")
    page.fill("#username", who[0])
    page.fill("#password", PASSWORD)
    page.fill("#totp_code", pyotp.TOTP(who[1]).now())
    page.click("button:has-text('Sign in'), form[action='/sign-in'] button[type=submit]")
    page.wait_for_url(f"{url}/")


def first_request(page: Any, url: str, query: str = "sort=created") -> str:
    page.goto(f"{url}/requests?{query}")
    href = page.locator("main a[href^='/requests/']").evaluate_all(
        "els => els.map(e => e.getAttribute('href')).filter(h => /^\\/requests\\/[0-9a-f-]{36}$/.test(h))")[0]
    return str(href)


def verify_public_page(page: Any, node: LiveNode) -> None:
    """The public verification page, signed out: its form, then its answer about a document this node
    sealed and someone altered (the tag, the signer, what differs)."""
    from evidex.exchange import keys
    from tests.documents import pdfs

    page.goto(f"{node.url}/verify")
    axe_check(page)
    identity = keys.load(Path(node.env["EVIDEX_NODE_DIR"]), node.env["EVIDEX_NODE_KEY_PASSPHRASE"].encode())
    doc = pdfs.example()
    forged = pdfs.with_seal_of(pdfs.render({**doc, "elements": {**doc["elements"], "offence": "Theft"}}),
                               pdfs.sealed(doc, identity=identity, signed_at=dt.datetime.now(dt.UTC)))
    page.set_input_files("#file", files=[{"name": "document.pdf", "mimeType": "application/pdf", "buffer": forged}])
    page.click("form[action='/verify'] button[type=submit]")
    page.wait_for_selector("[data-evx-verification='altered']")
    axe_check(page)


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_page_passes_axe_in_every_language(browser: Any, live_node_process: LiveNode, locale: str) -> None:
    url = live_node_process.url
    context = browser.new_context(locale=locale)
    page = context.new_page()
    pages = {Role.central_authority: ["/", "/requests", "/requests/new", "/requests/new?example=mutual_assistance",
                                      "/parties", "/parties/SI", "/law", "/law/subscriber_order", "/account"],
             Role.administrator: ["/audit", "/admin/users", "/admin/users/new", "/admin/outbox", "/admin/peers"]}
    try:
        page.goto(f"{url}/sign-in")
        assert page.locator("html").get_attribute("lang") == locale  # from Accept-Language
        axe_check(page)
        page.goto(f"{url}/second-factor")  # before sign-in too: enrolling a new authenticator
        axe_check(page)
        verify_public_page(page, live_node_process)
        for role, paths in pages.items():
            context.clear_cookies()
            sign_in(page, url, person(live_node_process, role, f"axe-{role.value}-{locale}"))
            if role is Role.central_authority:
                rid = first_request(page, url)
                paths = [*paths, rid, f"{rid}/evidence"]
            for path in paths:
                page.goto(f"{url}{path}")
                assert page.locator("html").get_attribute("lang") == locale, path
                axe_check(page)
        page.set_viewport_size({"width": 320, "height": 800})  # usable at 320 px: no page-wide scroll
        page.goto(f"{url}/")
        assert page.evaluate("document.documentElement.scrollWidth") <= 320 + 1
    finally:
        context.close()


def test_the_verdict_follows_the_typing_and_the_screenshots(browser: Any, live_node_process: LiveNode) -> None:
    url = live_node_process.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, url, person(live_node_process, Role.contact_24_7, "shots-247"))
        page.goto(f"{url}/")
        page.locator("#emergencies [data-evx-emergency]").first.wait_for()
        page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
        context.clear_cookies()
        sign_in(page, url, person(live_node_process, Role.competent_authority, "shots-investigator"))
        page.goto(f"{url}/requests/new?example=mutual_assistance")
        missing = page.locator("#verdict")
        assert page.locator("#verdict-missing").count() == 0  # the example is complete
        page.fill("#el-offence", "")  # the officer deletes an element the treaty requires...
        page.locator("#verdict-missing").wait_for(timeout=10_000)  # ...and the verdict says so, without a reload
        text = missing.inner_text()
        assert "ETS185 Art 27" in text or "Art 25" in text, text
        page.locator("#el-offence").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "drafting.png"))  # the field and the verdict beside it
        page.fill("#el-offence", "Computer-related fraud (Criminal Code, Art 301)")
        page.locator("#verdict-missing").wait_for(state="detached", timeout=10_000)
        rid = first_request(page, url, "state=data_transmitted&direction=outgoing")  # a long story: its timeline
        page.goto(f"{url}{rid}")
        page.locator("h2:has-text('Timeline')").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "request.png"))
    finally:
        context.close()
