"""The browser test harness: Debian's chromium driven by Playwright (headless), axe-core for WCAG 2.1
AA, and a real `evidex serve` process with the demo data to point it at.

Playwright uses /usr/bin/chromium (installed by scripts/test), never a browser download of its own.
Without it the browser tests are skipped, except under CI (CI set), where they must run."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers import prepare_node, serve, stop

CHROMIUM = Path("/usr/bin/chromium")
# axe-core's tags for WCAG 2.0 and 2.1, levels A and AA.
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium for the tests of a module. Not longer: Playwright's sync API keeps an
    event loop running in the main thread while it is started, and a later test file in the same
    process that calls asyncio.run() would fail."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is absent: scripts/test installs Debian's chromium for the browser tests")
        pytest.skip(f"{CHROMIUM} is absent (scripts/test installs it; under CI these tests must run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield b
        b.close()


@pytest.fixture
def locale() -> str:
    """The browser's language; a test can parametrise it (`@pytest.mark.parametrize("locale", [...])`)."""
    return "en-GB"


@pytest.fixture
def page(browser: Any, locale: str) -> Iterator[Any]:
    """A page in a browser context of its own (cookies, storage): no test sees another's session."""
    context = browser.new_context(locale=locale)
    p = context.new_page()
    yield p
    context.close()


def axe_check(page: Any) -> None:
    """Run axe-core on the page as it is now; fail listing every serious or critical WCAG 2.1 A/AA
    violation (rule, impact, what to fix, and where)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA},
                                       "resultTypes": ["violations"]})
    blocking = [v for v in results.response["violations"] if v["impact"] in BLOCKING]
    if blocking:
        lines = [f"{len(blocking)} serious or critical WCAG 2.1 AA violation(s) on {page.url[:80]}:"]
        for v in blocking:
            lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
            lines += [f"    at {' '.join(map(str, n['target']))}" for n in v["nodes"][:5]]
        pytest.fail("\n".join(lines))


@dataclass(frozen=True)
class LiveNode:
    url: str  # http://127.0.0.1:PORT
    env: dict[str, str]  # its database, node folder, passphrase: for `run_cli(..., env=)` and direct reads


def _node_env(folder: Path) -> dict[str, str]:
    return {"EVIDEX_DATABASE_URL": f"sqlite:///{folder / 'evidex.db'}", "EVIDEX_NODE_PARTY": "RS",
            "EVIDEX_NODE_DIR": str(folder / "node"), "EVIDEX_NODE_KEY_PASSPHRASE": "node passphrase of the test",
            "EVIDEX_EVIDENCE_DIR": str(folder / "ev"), "EVIDEX_SPOOL_DIR": str(folder / "spool"),
            "EVIDEX_ENVIRONMENT": "test"}


@pytest.fixture(scope="session")
def _demo_node_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A node's folder made once per test process by the real commands: a migrated SQLite database with
    the demo data, and a node identity (so the demo includes an evidence package that arrived from a
    partner node, as `scripts/run` has it). Each module serves a copy of its own."""
    folder = tmp_path_factory.mktemp("demo-node")
    prepare_node(_node_env(folder), identity=True)
    return folder


@pytest.fixture(scope="module")
def live_node_process(_demo_node_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNode]:
    """A real `evidex serve` process for the tests of one module, on a copy of the demo node's folder
    (what one module changes, the next does not see); stopped after the module."""
    folder = tmp_path_factory.mktemp("live-node") / "node-folder"
    shutil.copytree(_demo_node_folder, folder)
    env = _node_env(folder)
    proc, api = serve(env)
    try:
        yield LiveNode(url=api.removesuffix("/api/v1"), env=env)
    finally:
        stop(proc, 10)


@pytest.fixture(scope="module")
def live_node(live_node_process: LiveNode) -> str:
    """The base URL (http://127.0.0.1:PORT) of the module's real node."""
    return live_node_process.url
