from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from evidex.audit.models import AuditEntry
from evidex.core.db import make_engine, make_sessionmaker
from evidex.core.settings import Settings
from evidex.web.site import create_site
from tests.api.conftest import UNLIMITED, Clock
from tests.documents.pdfs import RS
from tests.web.site import Site

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
