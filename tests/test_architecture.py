"""What the layering contracts (`lint-imports`, [tool.importlinter] in pyproject.toml) cannot say:
the rules engine reads no clock (the date is always given, `as_of`)."""

from __future__ import annotations

from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "evidex"


def test_engine_reads_no_clock():
    for f in (SRC / "rules").rglob("*.py"):
        text = f.read_text(encoding="utf-8")
        assert "date.today" not in text and "datetime.now" not in text, f.name
