"""The evidence page's resumable upload (web/static/upload.js) driven in a real browser: the file chosen,
Upload pressed, and the progress bar watched as the script moves it. The script leaves the page as soon
as the node has sealed the file, so the sealing call is held until the bar has been read at 100 %."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COMPLETE = "**/api/v1/evidence/*/complete"
# Kept by the page: each value the script gives the bar, with the line it writes under it, and each
# thing it announces (role=status).
PROGRESS_PROBE = """
window.__evxProgress = [];
window.__evxSaid = [];
document.addEventListener("DOMContentLoaded", () => {
  const bar = document.querySelector("#upload-progress");
  const line = document.querySelector("[data-evx-upload-text]");
  const announce = document.querySelector("[data-evx-upload-announce]");
  if (!bar) { return; }
  new MutationObserver(() => window.__evxProgress.push([bar.value, line.textContent]))
    .observe(bar, { attributes: true, attributeFilter: ["value"] });
  new MutationObserver(() => window.__evxSaid.push(announce.textContent))
    .observe(announce, { childList: true, characterData: true, subtree: true });
});
"""


def watch_progress(context: Any) -> None:
    """Every page of `context` keeps what its upload bar showed (call before opening the page)."""
    context.add_init_script(PROGRESS_PROBE)


def upload(page: Any, file: Path, timeout_ms: float = 90_000) -> tuple[list[int], list[str]]:
    """Upload `file` through the page's form with its script (the page's context watched: see
    `watch_progress`); returns the bar's values while the pieces went (not while the file was hashed),
    read once it stood at 100 with the sealing call held, and what the script announced. The page is
    then the evidence page again, after the sealing."""
    held: list[Any] = []

    def hold(route: Any) -> None:
        held.append(route)

    page.route(COMPLETE, hold)
    try:
        page.set_input_files("input[type=file][name=file]", str(file))
        with page.expect_request(COMPLETE, timeout=timeout_ms):
            page.click("[data-evx-upload-submit]")
        bar = page.locator("progress#upload-progress")
        assert bar.is_visible() and bar.evaluate("bar => bar.value") == 100
        assert page.locator("[data-evx-upload-text]").inner_text().startswith("100%")
        steps = [int(v) for v, line in page.evaluate("window.__evxProgress") if "uploaded" in line]
        said = [str(t) for t in page.evaluate("window.__evxSaid")]
        while not held:  # the request is seen; its route handler comes next
            page.wait_for_timeout(20)
        held[0].continue_()
        page.wait_for_url("**notice=uploaded**", timeout=timeout_ms)
    finally:
        page.unroute(COMPLETE)
    return steps, said
