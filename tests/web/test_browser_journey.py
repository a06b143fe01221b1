"""The whole journey of a mutual assistance request (ETS185 Art 31) in a real browser, across two real
node processes (RS and ME, HTTPS, as in the federation tests), through the pages only: an investigator
at RS drafts it and sees the missing elements, with their articles, leave the live verdict as she
types; she cannot approve her own draft (four eyes), a colleague does; RS's central authority sends
it; ME's central authority sees it arrive and proposes a condition; RS accepts it and ME sees it
binding; ME uploads the data with the resumable upload (its progress bar) and sends them to RS in a
package; the file arrives at RS, and its custody verifies link by link on both sides.

Users and trust are arranged as the emergency test does (CLI, the node's database); every step the
journey names is done in the browser."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path
from typing import Any

import pyotp
import pytest

from evidex.demo.federation import PASSWORD, introduce
from evidex.parties.roles import Role
from tests.e2e.test_federation import Node, pair
from tests.web.conftest import axe_check
from tests.web.uploading import upload, watch_progress

__all__ = ["pair"]
pytestmark = pytest.mark.slow

REFERENCE = "VTK-MLA-7/2026"
WAIT_MS = 20_000  # one page's own answer (a verdict, a form): generous on a loaded machine
ARRIVAL_S = 60.0  # something that crosses to the other node (its worker passes once a second)
OPEN: list[Any] = []  # the browser contexts of the test, closed at its end


def sign_in(browser: Any, node: Node, name: str) -> Any:
    """A browser context of the person's own (cookies), signed in on `node`; its page."""
    context = browser.new_context(ignore_https_errors=True, locale="en-GB")  # each node's own certificate
    OPEN.append(context)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{node.url}/sign-in")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.fill("#totp_code", pyotp.TOTP(node.totp[name]).now())
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{node.url}/")
    return page


def shown_after_reloads(page: Any, selector: str, what: str, seconds: float = ARRIVAL_S) -> Any:
    """The page reloaded until `selector` shows: for what another node does (these pages do not
    refresh themselves). Each look waits on the locator; no fixed sleep."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.monotonic() + seconds
    while True:
        target = page.locator(selector).first
        try:
            target.wait_for(state="visible", timeout=1_500)
            return target
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not shown within {seconds:.0f} s on {page.url}")
            page.reload()


def act(page: Any, label: str) -> None:
    """Press the action button `label` on a request page (opening its form first if it asks for
    something) and wait for the page that says it is done."""
    form = page.locator("#actions ~ details", has=page.locator("summary", has_text=label))
    if form.count() and form.first.get_attribute("open") is None:
        form.first.locator("summary").click()
    page.locator(f"form[action$='/transitions'] button:has-text('{label}')").click()
    page.locator(".govuk-notification-banner--success", has_text=f"Done: {label}.").wait_for()  # the next page


def state_of(page: Any) -> str:
    return str(page.locator("dt:has-text('State') + dd strong").first.inner_text())


def links_of_custody(page: Any) -> list[tuple[str, str]]:
    """(event, verification tag) for each link of the custody page's timeline."""
    items = page.locator("ol.evx-timeline > li")
    return [(items.nth(i).locator("h3").inner_text(), items.nth(i).locator(".govuk-tag").first.inner_text())
            for i in range(items.count())]


@pytest.mark.parametrize("pair", ["sqlite"], indirect=True)  # the web's part; the federation tests run both
def test_a_mutual_assistance_request_from_draft_to_verified_evidence(pair: Any, browser: Any, tmp_path: Path) -> None:
    try:
        journey(*pair, browser, tmp_path)
    finally:
        while OPEN:
            OPEN.pop().close()


def journey(rs: Node, me: Node, browser: Any, tmp_path: Path) -> None:
    started = time.monotonic()
    introduce(rs, me)
    rs.add_users(("rs-investigator", Role.competent_authority), ("rs-colleague", Role.competent_authority),
                 ("rs-central", Role.central_authority))
    me.add_users(("me-central", Role.central_authority))
    for n in (rs, me):
        n.start()

    # 1. The investigator drafts: the verdict lists what is missing, with its articles, as she types.
    inv = sign_in(browser, rs, "rs-investigator")
    inv.goto(f"{rs.url}/requests/new")
    inv.evaluate("window.__sameDocument = true")  # gone if the page reloads or navigates
    inv.check("input[name='type'][value='mutual_assistance']")
    inv.select_option("#requested_party", "ME")
    missing = inv.locator("#verdict .evx-missing li")
    inv.locator("#verdict li[data-element='offence']").wait_for()
    inv.locator("#el-offence").wait_for()  # the form for the type and ME, arrived with the verdict
    listed = {missing.nth(i).get_attribute("data-element"): missing.nth(i).inner_text()
              for i in range(missing.count())}
    assert set(listed) == {"case_reference", "issuing_authority", "offence", "facts_summary", "assistance_sought",
                           "data_description"}, listed
    assert "ETS185 Art 25(1)" in listed["case_reference"]  # the investigation the request is for
    for name in ("issuing_authority", "offence", "facts_summary", "assistance_sought", "data_description"):
        assert "ETS185 Art 25(4)" in listed[name] and "law of ME" in listed[name], listed[name]  # ME's own law
    inv.select_option("#case", "new")
    inv.fill("#case_new_reference", REFERENCE)
    inv.locator("#verdict li[data-element='case_reference']").wait_for(state="detached")
    inv.fill("#case_new_title", "Phishing against bank customers")
    inv.select_option("#sent_by", "central_authority")
    inv.fill("#ia-name", "Special Prosecutor's Office for High-Tech Crime, Belgrade")
    inv.select_option("#ia-kind", "prosecutor")
    inv.fill("#ia-contact-email", "mla@vtk.example.rs")
    inv.locator("#verdict li[data-element='issuing_authority']").wait_for(state="detached")
    inv.fill("#language", "en")
    for name, text in (("offence", "Computer-related fraud (Criminal Code of Serbia, Art 301)"),
                       ("facts_summary", "A phishing campaign against bank customers used a mail relay in Montenegro"),
                       ("assistance_sought", "Disclosure of the relay's stored logs and of the sender's account"),
                       ("data_description", "SMTP logs of 1-15 November 2026 of relay customer 'bnk-notify'")):
        before = missing.count()
        inv.fill(f"#el-{name}", text)
        inv.locator(f"#verdict li[data-element='{name}']").wait_for(state="detached")
        assert missing.count() == before - 1
    inv.fill("#el-offence", "")  # she deletes one again: it is back, with the article that requires it
    assert "ETS185 Art 25(4)" in inv.locator("#verdict li[data-element='offence']").inner_text()
    inv.fill("#el-offence", "Computer-related fraud (Criminal Code of Serbia, Art 301)")
    inv.locator("#verdict-missing").wait_for(state="detached")
    inv.locator("#verdict-status strong:text-is('Admissible')").wait_for()
    assert inv.locator("#verdict").inner_text().count("No element is missing.") == 1
    assert inv.evaluate("window.__sameDocument === true")  # all of it without a reload
    inv.click("button:has-text('Save as draft')")
    inv.wait_for_url(re.compile(r"/requests/[0-9a-f-]{36}\?notice=draft_saved"))
    request_at_rs = inv.url.split("?")[0]
    act(inv, "Check admissibility")
    assert state_of(inv) == "Checked"

    # 2. Four eyes: no approval offered to her, and one she forges is refused; her colleague approves.
    assert inv.locator("form[action$='/transitions'] button:has-text('Approve for sending')").count() == 0
    assert inv.get_by_text("someone else must approve it before it is sent (four eyes)").is_visible()
    forged = inv.request.post(f"{request_at_rs}/transitions", form={
        "csrf_token": inv.locator("meta[name='csrf-token']").get_attribute("content"),
        "event": "approve", "expected_version": inv.locator("input[name='expected_version']").first.get_attribute(
            "value")}, max_redirects=0)
    assert forged.status == 422 and "four eyes" in forged.text(), (forged.status, forged.text()[:300])
    inv.reload()
    assert state_of(inv) == "Checked"
    colleague = sign_in(browser, rs, "rs-colleague")
    colleague.locator("#approval-heading ~ ul a", has_text=REFERENCE).click()  # the dashboard: waiting for approval
    act(colleague, "Approve for sending")
    assert state_of(colleague) == "Approved"

    # 3. RS's central authority sends it.
    central = sign_in(browser, rs, "rs-central")
    central.goto(request_at_rs)
    act(central, "Send to the requested Party")
    assert state_of(central) == "Sent"

    # 4. At ME, the central authority sees it arrive, acknowledges it and proposes a condition.
    receiver = sign_in(browser, me, "me-central")
    watch_progress(receiver.context)
    # Its list of requests received, searched for the requesting Party's reference (the case at ME is
    # named after the conversation: "RS:<id>").
    receiver.goto(f"{me.url}/requests?direction=incoming&search={REFERENCE}")
    shown_after_reloads(receiver, "tbody tr:has-text('Mutual assistance regarding accessing of stored computer data')",
                        "the request at ME").locator("a").click()
    receiver.wait_for_url(re.compile(r"/requests/[0-9a-f-]{36}$"))
    request_at_me = receiver.url
    assert state_of(receiver) == "Received"
    act(receiver, "Acknowledge receipt")
    receiver.locator("details summary:has-text('Propose conditions')").click()
    receiver.select_option("#propose_conditions-condition-1-kind", "use_limitation")
    condition = f"The data may be used only in the proceedings {REFERENCE} and for no other purpose"
    receiver.fill("#propose_conditions-condition-1-text", condition)
    act(receiver, "Propose conditions")
    assert state_of(receiver) == "Conditions proposed"

    # 5. At RS the sender sees the condition proposed and accepts it; ME sees it binding.
    central.reload()
    shown_after_reloads(central, "#conditions-heading ~ ul li:has(.govuk-tag:text-is('Proposed'))",
                        "the proposed condition at RS")
    assert condition in central.locator("#conditions-heading ~ ul").inner_text()
    act(central, "Accept the conditions")
    assert state_of(central) == "Conditions accepted"
    receiver.reload()
    binding = shown_after_reloads(receiver, "#conditions-heading ~ ul li:has(.govuk-tag:text-is('Binding'))",
                                  "the condition binding at ME")
    assert condition in binding.inner_text()
    assert state_of(receiver) == "Conditions accepted"

    # 6. ME uploads the data through the evidence page (resumable, with its progress bar) and sends them.
    data = os.urandom(3 * 1024 * 1024 + 12_345)  # four chunks of the upload script
    sha = hashlib.sha256(data).hexdigest()
    (tmp_path / "relay-logs.tar").write_bytes(data)
    receiver.goto(f"{request_at_me}/evidence")
    assert condition in receiver.locator(".govuk-warning-text").inner_text()  # the binding condition, beside the files
    steps, _said = upload(receiver, tmp_path / "relay-logs.tar")
    assert steps == sorted(steps) and len(set(steps)) >= 4 and steps[-1] == 100, steps  # it advanced, chunk by chunk
    banner = receiver.locator(".govuk-notification-banner--success").inner_text()
    assert "The file was uploaded and sealed." in banner and sha in banner
    send = receiver.locator("form[action$='/evidence-packages']")
    assert send.locator("input[name='evidence_id']").is_checked()  # the file not sent yet, offered ticked
    axe_check(receiver)  # the page with its sending form
    send.locator("button:has-text('Send to RS')").click()
    receiver.wait_for_url(re.compile(r"notice=package_sent"))
    assert "The package is on its way" in receiver.locator(".govuk-notification-banner--success").inner_text()

    # 7. The file arrives at RS, verified against ME's signed manifest; custody verified on both sides.
    central.goto(f"{request_at_rs}/evidence")
    package = shown_after_reloads(central, ".govuk-summary-card:has-text('Received from ME'):has-text('Received and "
                                           "verified')", "the package verified at RS")
    assert "Matches" in package.inner_text() and sha in package.inner_text()
    assert "Signed by the node of ME" in package.inner_text()
    package.locator("a:has-text('Custody record')").click()
    custody = links_of_custody(central)
    assert custody == [("1. Received from the producing Party's node", "Verified"),
                       ("2. Verified against the signed manifest", "Verified")], custody
    assert "All 2 links hold" in central.locator("dt:has-text('Custody chain') + dd").inner_text()
    assert sha in central.locator("dt:has-text('SHA-256') + dd").inner_text()
    assert "it matches its SHA-256" in central.locator("dt:has-text('Stored file') + dd").inner_text()
    receiver.reload()
    shown_after_reloads(receiver, ".govuk-summary-card:has-text('Sent to RS'):has-text('Signed receipt from RS: every "
                                  "file verified')", "RS's signed receipt at ME")
    receiver.locator(".govuk-summary-card:has-text('relay-logs.tar') a:has-text('Custody record')").first.click()
    custody = links_of_custody(receiver)
    assert custody == [("1. Produced (uploaded)", "Verified"), ("2. Sealed", "Verified"),
                       ("3. Sent to the requesting Party's node", "Verified")], custody
    assert "All 3 links hold" in receiver.locator("dt:has-text('Custody chain') + dd").inner_text()

    # RS's request page tells the whole story, with the receipts signed by ME's node.
    central.goto(request_at_rs)
    timeline = [str(t) for t in central.locator("ol.evx-timeline > li h3").all_inner_texts()]
    story = ["Drafted", "Check admissibility", "Approve for sending", "Send to the requested Party",
             "Record that receipt was acknowledged", "Record the conditions proposed", "Accept the conditions"]
    assert [t for t in timeline if t in story] == story, timeline
    assert {"Delivery receipt: the receiving node has the message", "Retrieval receipt: the message was opened",
            "Evidence package receipt: the files arrived as the signed manifest lists them"} <= set(timeline), timeline
    print(f"the journey took {time.monotonic() - started:.1f} s")
