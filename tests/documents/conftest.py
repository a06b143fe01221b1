"""Official documents: the law once per process, the PDF read back as its readers read it (poppler's
pdftotext and pdffonts, installed beside WeasyPrint's fonts by scripts/_browser.sh; pikepdf), and the node
of RS whose identity seals and verifies them."""

from __future__ import annotations

import datetime as dt
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from evidex.audit.models import AuditEntry
from evidex.cases.service import Law
from evidex.core.db import make_engine, make_sessionmaker
from evidex.core.settings import Settings
from evidex.web.site import create_site
from tests.api.conftest import UNLIMITED, Clock
from tests.documents.pdfs import RS
from tests.web.site import Site

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


VERIFY_LIMIT = 4


@pytest.fixture
def node(own_database_url: str, tmp_path: Path) -> Iterator[Site]:
    """The node of RS (the API with its pages) whose identity seals and verifies documents, on a database
    of this test alone: the public page's rate-limit counts and the trust list are its own."""
    engine = make_engine(own_database_url)
    clock = Clock()
    app = create_site(Settings(database_url=own_database_url, environment="test", node_party="RS",
                               evidence_dir=tmp_path / "evidence", spool_dir=tmp_path / "spool",
                               node_dir=tmp_path / "node", login_limit_per_account=UNLIMITED,
                               login_limit_per_address=UNLIMITED, verify_limit_per_address=VERIFY_LIMIT),
                      engine=engine, clock=clock, identity=RS)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Site(client, make_sessionmaker(engine), clock, uuid.uuid4().hex[:8])
    engine.dispose()


def verifications(site: Site) -> list[dict[str, Any]]:
    """The audit log's record of each verification: who, when, and the answer."""
    with site.sessionmaker() as db:
        rows = db.execute(sa.select(AuditEntry).where(AuditEntry.action == "document.verify")
                          .order_by(AuditEntry.seq)).scalars()
        return [{**r.details, "actor": r.actor, "party": r.party, "at": r.at} for r in rows]
