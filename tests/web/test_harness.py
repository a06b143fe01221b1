"""The browser harness itself (tests/web/conftest.py): chromium reaches a real node, axe-core finds
what it should, a test's locale reaches the page."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.conftest import run_cli
from tests.web.conftest import LiveNode, axe_check

ACCESSIBLE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Preservation request</title></head>
<body><main><h1>Preservation request</h1>
<form><label for="ref">Case reference</label><input id="ref" name="ref">
<button type="submit">Save</button></form>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="Seal of the central authority"></main></body></html>"""

# The same page with two WCAG 2.1 A failures axe-core rates critical: an image without a text
# alternative (1.1.1) and a field without a label (1.3.1, 4.1.2).
INACCESSIBLE = (ACCESSIBLE.replace(' alt="Seal of the central authority"', "")
                .replace('<label for="ref">Case reference</label>', ""))


def data_url(html: str) -> str:
    return "data:text/html;charset=utf-8," + quote(html)


def test_the_node_answers_the_browser(page, live_node: str) -> None:
    answer = page.goto(f"{live_node}/api/v1/health")
    assert answer is not None and answer.status == 200
    assert answer.json()["status"] == "ok" and answer.json()["party"] == "RS"
    # What the browser shows is the node's JSON, and the node's security headers reached it.
    assert json.loads(page.locator("pre").first.inner_text())["status"] == "ok"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_the_live_node_has_the_demo_data_and_an_identity(live_node_process: LiveNode) -> None:
    listing = run_cli("requests", "list", "--format", "json", "--limit", "1000", env=live_node_process.env)
    assert listing.returncode == 0, listing.stderr
    assert {r["status"] for r in json.loads(listing.stdout)["items"]} >= {"draft", "sent", "data_transmitted"}
    assert run_cli("node", "show", env=live_node_process.env).returncode == 0


def test_axe_passes_an_accessible_page(page) -> None:
    page.goto(data_url(ACCESSIBLE))
    axe_check(page)


def test_axe_fails_listing_the_serious_violations(page) -> None:
    page.goto(data_url(INACCESSIBLE))
    with pytest.raises(pytest.fail.Exception) as failed:
        axe_check(page)
    message = str(failed.value)
    assert "2 serious or critical WCAG 2.1 AA violation(s)" in message
    assert "- image-alt (critical)" in message and "- label (critical)" in message
    assert "at img" in message and "at #ref" in message


@pytest.mark.parametrize("locale", ["en-GB", "sr-Latn-RS"])
def test_a_test_chooses_the_browser_language(page, locale: str) -> None:
    page.goto(data_url(ACCESSIBLE))
    assert page.evaluate("navigator.language") == locale
