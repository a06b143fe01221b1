"""The law lives in the rule data (issue 13 item 2): no period, lead time, next step or list of
final states written in Python, and no treaty article cited by the engine's code rather than its
data. An AST walk over src/evidex, so a constant that comes back under any module fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "evidex"
REFERENCE = re.compile(r"\b(?:ETS185|CETS224|UNCC) Art \d+(?:\([0-9a-z]+\))*")
# Constants that held the law in code until the values moved into rules/data and the lifecycle data.
GONE = {"PRESERVATION_DAYS", "PRESERVATION_WARNING_DAYS", "NEXT_STEPS", "FINAL_LIKE", "CONDITION_KINDS",
        "CONDITION_ARTICLES"}
# Treaty articles still written in node code outside the rules engine, each for a reason; nothing
# may be added here without moving it to the data first if it can be.
STILL_IN_CODE = {
    # evidence/service.py (privacy/): personal-data safeguards applied to every record, not a request type.
    "CETS224 Art 14(5)", "CETS224 Art 14(10)",
}


def modules() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py"))
            if "migrations" not in p.parts and "demo" not in p.parts and p.stem != "demo"]


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def _descriptions(tree: ast.AST) -> set[int]:
    """`Field(description=...)` texts: documentation of the document format (JSON Schema)."""
    return {id(k.value) for node in ast.walk(tree) if isinstance(node, ast.Call)
            for k in node.keywords if k.arg == "description" and isinstance(k.value, ast.Constant)}


def cited(path: Path) -> set[str]:
    """Canonical references in the string literals of a module's code (not its docstrings)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree) | _descriptions(tree)
    return {m.group(0) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
            for m in REFERENCE.finditer(node.value)}


def test_no_module_defines_the_constants_that_held_the_law():
    found = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
                if isinstance(node, ast.AnnAssign) else []
            found += [f"{path.relative_to(SRC)}: {t.id}" for t in targets if isinstance(t, ast.Name) and t.id in GONE]
    assert not found, f"the law belongs in src/evidex/rules/data (periods.yaml, request_types.yaml): {found}"


def test_no_module_outside_the_rules_defines_a_number_of_days():
    """A module-level `..._DAYS = <number>` outside the rules package is a period written in code."""
    found = []
    for path in modules():
        if "rules" in path.relative_to(SRC).parts:
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant) \
                    and isinstance(node.value.value, int):
                names = [t.id for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                         if isinstance(t, ast.Name)]
                found += [f"{path.relative_to(SRC)}: {n}" for n in names if n.endswith("_DAYS")]
    assert not found, f"name the period in src/evidex/rules/data/periods.yaml and read it by id: {found}"


def test_the_engine_cites_only_its_data():
    """The rules engine (src/evidex/rules/*.py) writes no article of its own: every article in a
    verdict comes from the data files."""
    found = {str(p.relative_to(SRC)): refs for p in modules()
             if p.parent.name == "rules" and p.name != "refs.py"  # refs.py: the syntax, with examples
             and (refs := cited(p))}
    assert not found, found


def test_node_code_cites_only_the_articles_known_to_remain():
    found = {str(p.relative_to(SRC)): cited(p) - STILL_IN_CODE for p in modules() if p.parent.name != "rules"}
    assert not {k: v for k, v in found.items() if v}, found


def test_the_check_sees_a_constant_that_comes_back(tmp_path):
    """The walk itself: a module with the old constant and an article in code is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text('"""Docstring citing ETS185 Art 29(7) is fine."""\nPRESERVATION_DAYS = 60\n'
                   'ARTICLE = "ETS185 Art 29(7)"\n', encoding="utf-8")
    assert cited(bad) == {"ETS185 Art 29(7)"}
    assert any(isinstance(n, ast.Assign) and n.targets[0].id in GONE  # type: ignore[attr-defined]
               for n in ast.parse(bad.read_text()).body)
