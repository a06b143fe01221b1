"""The project's example request documents (shipped in the package: src/evidex/examples/requests;
`examples/requests` at the top of the repository points there): a complete document of every type,
and a few typical mistakes (`mistake_*`). Officers start a draft from one; the demo loads them."""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from evidex.core.errors import NotFound

MISTAKE_PREFIX = "mistake_"  # the examples that show what the checker catches, not templates
SUFFIXES = (".yaml", ".json")


@dataclass(frozen=True)
class Example:
    name: str  # the file name without its suffix
    request_type: str
    requesting_party: str
    requested_party: str
    mistake: bool


def _folder() -> Any:
    return resources.files("evidex") / "examples" / "requests"


@functools.cache
def _documents() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for entry in sorted(_folder().iterdir(), key=lambda p: p.name):
        stem, dot, suffix = entry.name.rpartition(".")
        if not dot or f".{suffix}" not in SUFFIXES:
            continue
        text = entry.read_text(encoding="utf-8")
        doc = json.loads(text) if suffix == "json" else yaml.safe_load(text)
        if isinstance(doc, dict):
            out[stem] = doc
    return out


def list_examples(*, mistakes: bool = False) -> list[Example]:
    """The examples, by name; the complete ones only unless `mistakes`."""
    return [Example(name, str(d.get("type")), str(d.get("requesting_party")), str(d.get("requested_party")),
                    name.startswith(MISTAKE_PREFIX))
            for name, d in _documents().items() if mistakes or not name.startswith(MISTAKE_PREFIX)]


def load_example(name: str) -> dict[str, Any]:
    """A copy of the example document `name` (dates as YAML read them: datetime.date)."""
    doc = _documents().get(name)
    if doc is None:
        raise NotFound(f"no example request {name!r}")
    return copy.deepcopy(doc)
