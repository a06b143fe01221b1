"""Official documents: the law once per process, and the PDF read back as its readers read it (poppler's
pdftotext and pdffonts, installed beside WeasyPrint's fonts by scripts/_browser.sh; pikepdf)."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest

from evidex.cases.service import Law

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
AS_OF = dt.date(2026, 11, 23)


@pytest.fixture(scope="session")
def law() -> Law:
    return Law()


def _poppler(tool: str, pdf: bytes, tmp_path: Path, *args: str) -> str:
    path = tmp_path / f"{tool}.pdf"
    path.write_bytes(pdf)
    return subprocess.run([tool, *args, str(path), *(["-"] if tool == "pdftotext" else [])], capture_output=True,
                          text=True, check=True, timeout=60).stdout


def pdftext(pdf: bytes, tmp_path: Path) -> str:
    """The text layer in drawing order (-raw: a table cell's lines stay together), whitespace collapsed."""
    return " ".join(_poppler("pdftotext", pdf, tmp_path, "-raw", "-enc", "UTF-8").split())


def pdffonts(pdf: bytes, tmp_path: Path) -> list[list[str]]:
    """pdffonts' table: one row of columns per font (name, type, encoding, emb, sub, uni, object, generation)."""
    lines = _poppler("pdffonts", pdf, tmp_path).splitlines()[2:]
    return [line.split() for line in lines if line.strip()]
