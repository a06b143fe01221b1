from __future__ import annotations

import copy
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from evidex.parties.service import use_password_profile
from evidex.rules import Parties, default_parties
from tests.dbfixtures import (  # noqa: F401
    _postgres_databases_dropped,
    database_url,
    db,
    engine,
    own_database_url,
    postgres_url,
    sqlite_template,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "requests"
AS_OF = dt.date(2026, 11, 23)


def load_example(name: str) -> dict[str, Any]:
    for suffix in (".yaml", ".json"):
        p = EXAMPLES / f"{name}{suffix}"
        if p.exists():
            return copy.deepcopy(yaml.safe_load(p.read_text(encoding="utf-8")))
    raise FileNotFoundError(name)


COMPLETE = [
    "preservation", "mutual_assistance", "realtime_traffic", "interception", "spontaneous_information",
    "domain_registration", "subscriber_order", "give_effect_order", "emergency_disclosure",
    "emergency_mutual_assistance",
]


# Files of long-running tests go first: scripts/test hands whole files to two processes (xdist
# --dist loadfile), and a long file handed out last leaves one process working alone at the end.
# Long: marked `slow` (pytestmark) or using these fixtures (a browser, a served node).
LONG_FIXTURES = frozenset({"browser", "live_node_process"})


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False  # xdist's own order (most tests first) puts the long files last


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    long_files = {item.path for item in items
                  if item.get_closest_marker("slow") is not None or not LONG_FIXTURES.isdisjoint(item.fixturenames)}
    items.sort(key=lambda item: item.path not in long_files)  # stable: each file stays whole and in order


@pytest.fixture(scope="session")
def parties() -> Parties:
    return default_parties()


def run_cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess, as a user runs it."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "evidex", *args],
        input=stdin, capture_output=True, text=True, timeout=60, env=env, cwd=ROOT,
    )


def remove(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """Remove element `name` (top-level, dotted or in `elements`) from a copy of `doc`."""
    d = copy.deepcopy(doc)
    if name == "issuing_authority.contact":
        (d.get("issuing_authority") or {}).pop("contact", None)
    elif name.startswith("addressee."):
        (d.get("addressee") or {}).pop(name.split(".", 1)[1], None)
    elif name in ("issuing_authority", "issued_on", "case_reference", "data_category", "language"):
        d.pop(name, None)
    else:
        d["elements"].pop(name, None)
    return d


@pytest.fixture(autouse=True, scope="session")
def _not_the_users_data_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests (and the CLI they run) never use the user's evidex folder: after `scripts/run` it holds a node
    identity, which `evidex worker` and `serve` refuse to run without its passphrase."""
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("xdg-data"))


@pytest.fixture(autouse=True, scope="session")
def _cheapest_password_hashes() -> None:
    """argon2 at its cheapest in the tests and in the CLI and servers they start (Settings.password_hash_profile,
    refused in production): at production cost one hash is about 0.2 s of CPU, and the suite makes thousands.
    Verification follows each hash's own parameters. Tests of what the cost buys use `production_hashing`."""
    os.environ["EVIDEX_PASSWORD_HASH_PROFILE"] = "cheapest"
    use_password_profile("cheapest")


@pytest.fixture
def production_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Passwords hashed at production cost in this test (the default profile, as production runs)."""
    monkeypatch.delenv("EVIDEX_PASSWORD_HASH_PROFILE")
    use_password_profile("rfc9106_low_memory")
    yield
    use_password_profile("cheapest")
