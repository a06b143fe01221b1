"""What the layering contracts (`lint-imports`, [tool.importlinter] in pyproject.toml) cannot say:
the rules engine reads no clock (the date is always given, `as_of`)."""

from __future__ import annotations

from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "evidex"


def test_engine_reads_no_clock():
    for f in (SRC / "rules").rglob("*.py"):
        text = f.read_text(encoding="utf-8")
        assert "date.today" not in text and "datetime.now" not in text, f.name


def _private_uses(path: Path) -> list[str]:
    """Private names (`_x`) this module takes from another evidex package: `from evidex.p.m import _x`,
    or `m._x` where `m` is an evidex module it imported."""
    import ast

    own = path.relative_to(SRC).parts[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: set[str] = set()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("evidex."):
            other = node.module.split(".")[1] != own.removesuffix(".py")
            for a in node.names:
                if other and a.name.startswith("_") and not a.name.startswith("__"):
                    out.append(f"{node.module}.{a.name}")
                modules.add(a.asname or a.name)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            out.append(f"{node.value.id}.{node.attr}")
    return out


def test_no_module_uses_a_private_name_of_another_package():
    """Routes (and the coming web UI) call a service's public functions, never its helpers (`_visible`)."""
    found = {str(f.relative_to(SRC)): uses for f in SRC.rglob("*.py") if (uses := _private_uses(f))}
    assert found == {}


UNIT_OF_WORK = {"commit", "rollback", "begin", "begin_nested"}  # session methods that end or open a transaction


def _transaction_calls(source: str) -> list[str]:
    """Where `source` commits, rolls back or opens a transaction itself: `x.commit()`, `x.rollback()`, …,
    or the unit of work of core/db.py (`transaction`, `command`) taken into it."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in UNIT_OF_WORK:
            found.append(f"line {node.lineno}: .{node.func.attr}()")
        if isinstance(node, ast.ImportFrom) and node.module == "evidex.core.db":
            found += [f"line {node.lineno}: imports {a.name}" for a in node.names if a.name in ("transaction", "command")]
    return found


def test_the_interfaces_never_commit_nor_roll_back():
    """Services own reads, writes and the transaction (issue 13 item 5): the API's routes, the web
    UI's handlers and the CLI's commands parse, call a service and shape the answer; a command commits
    (or rolls back) in the service that does it, so every interface behaves alike."""
    assert sorted(_transaction_calls("db.commit()\nsession.rollback()\nfrom evidex.core.db import transaction\n")) \
        == ["line 1: .commit()", "line 2: .rollback()", "line 3: imports transaction"]  # the scan finds them
    found = {str(f.relative_to(SRC)): calls for package in ("api", "web", "cli") for f in (SRC / package).rglob("*.py")
             if (calls := _transaction_calls(f.read_text(encoding="utf-8")))}
    assert found == {}
