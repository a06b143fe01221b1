"""The resumable upload in a real browser (Debian chromium) on a real node with the demo data: a chunk
whose connection drops is sent again once the script has asked the node how far it got, nothing already
stored is sent twice, the bar reaches 100 % and the file sealed is, bit for bit, the file chosen."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import pytest

from evidex.parties.roles import Role
from tests.web.conftest import LiveNode
from tests.web.test_browser_pages import first_request, person, sign_in
from tests.web.uploading import upload, watch_progress

pytestmark = pytest.mark.slow
CHUNK = re.compile(r"/api/v1/evidence/[0-9a-f-]{36}/chunks/(\d+)$")


def test_an_upload_resumes_after_a_dropped_connection(browser: Any, live_node_process: LiveNode,
                                                      tmp_path: Path) -> None:
    url = live_node_process.url
    data = os.urandom(3 * 1024 * 1024 + 4321)  # four chunks
    chosen = tmp_path / "mailbox.mbox"
    chosen.write_bytes(data)
    context = browser.new_context(locale="en-GB")
    watch_progress(context)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        sign_in(page, url, person(live_node_process, Role.central_authority, "upload-resume"))
        rid = first_request(page, url, "direction=outgoing")
        page.goto(f"{url}{rid}/evidence")
        sent: list[int] = []  # each chunk PUT that reached the node
        dropped: list[int] = []

        def drop_chunk_1_once(route: Any) -> None:
            index = int(CHUNK.search(route.request.url).group(1))  # type: ignore[union-attr]
            if index == 1 and not dropped:
                dropped.append(index)
                route.abort("connectionreset")  # the connection drops while the chunk is on its way
            else:
                sent.append(index)
                route.continue_()

        page.route(CHUNK, drop_chunk_1_once)
        steps, said = upload(page, chosen)  # no button pressed again: the script resumes by itself
        assert dropped == [1] and sent == [0, 1, 2, 3], (dropped, sent)  # chunk 0 never sent again
        lost = [t for t in said if t.startswith("The connection was lost at")]
        assert lost and "at 33%" in lost[0], said  # where it stopped: one chunk of four, stored
        assert any(t.startswith("Resuming the upload of mailbox.mbox from 33%") for t in said), said
        assert steps == sorted(steps) and steps[0] == 33 and steps[-1] == 100, steps
        banner = page.locator(".govuk-notification-banner--success").inner_text()
        sha = hashlib.sha256(data).hexdigest()
        assert "The file was uploaded and sealed." in banner and sha in banner
        # The stored file, read back through the page's download: the very bytes chosen.
        card = page.locator(".govuk-summary-card", has_text="mailbox.mbox").first
        download = page.request.get(url + str(card.locator("a:has-text('Download')").get_attribute("href")))
        assert download.ok and download.headers["x-evidex-sha256"] == sha
        assert hashlib.sha256(download.body()).hexdigest() == sha
    finally:
        context.close()
