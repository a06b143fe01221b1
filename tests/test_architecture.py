"""Dependencies point one way: the rules engine is pure (no CLI, web, database or network)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "evidex"
FORBIDDEN_IN_RULES = ("typer", "fastapi", "sqlalchemy", "jinja2", "requests", "httpx", "socket", "evidex.cli")


def imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_rules_never_import_io_frameworks():
    for f in (SRC / "rules").rglob("*.py"):
        for name in imports(f):
            assert not name.startswith(FORBIDDEN_IN_RULES), f"{f.name} imports {name}"


def test_engine_reads_no_clock():
    text = (SRC / "rules" / "engine.py").read_text(encoding="utf-8")
    assert "date.today" not in text and "datetime.now" not in text
