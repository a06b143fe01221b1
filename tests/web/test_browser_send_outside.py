"""Sending outside evidex in a real browser on a real node with the demo data (it trusts no other node):
the approved demo request offers 'Send outside evidex' with its warning and the means in words; the page
passes axe-core; sending records the means and the page says evidex did not deliver the request."""

from __future__ import annotations

from typing import Any

import pytest

from evidex.parties.roles import Role
from tests.web.conftest import LiveNode, axe_check
from tests.web.test_browser_pages import first_request, person, sign_in

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("locale", ["sr-Cyrl", "en"])
def test_an_approved_request_is_sent_outside_evidex_in_the_browser(browser: Any, live_node_process: LiveNode,
                                                                    locale: str) -> None:
    url = live_node_process.url
    context = browser.new_context(locale=locale)
    page = context.new_page()
    try:
        sign_in(page, url, person(live_node_process, Role.central_authority, f"outside-{locale}"))
        rid = first_request(page, url, "state=approved&type=mutual_assistance")
        page.goto(f"{url}{rid}")
        form = page.locator("form:has(input[name=event][value=send_outside])")
        assert form.count() == 1 and page.locator("input[name=event][value=send]").count() == 0
        assert form.locator(f"a[href='{rid}/document.pdf']").count() == 1
        axe_check(page)
        if locale == "sr-Cyrl":
            assert "evidex неће доставити овај захтев" in form.inner_text()
            assert form.get_by_label("Пошта", exact=True).count() == 1
            return
        form.get_by_label("Post", exact=True).check()
        form.get_by_label("Reference of the dispatch (optional)").fill("RR123456789RS")
        form.get_by_role("button", name="Send outside evidex").click()
        page.wait_for_url(f"{url}{rid}?notice=outside")
        banner = page.locator(".govuk-notification-banner").inner_text()
        assert "you sent this request outside evidex (Post). evidex did not deliver it" in banner
        assert "Sent outside evidex (Post): evidex did not deliver this request." in page.locator("main").inner_text()
        axe_check(page)
    finally:
        context.close()
