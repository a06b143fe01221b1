"""An API node on a database of its own (SQLite and PostgreSQL), for tests that count what the whole
node holds (audit entries, notifications marked read all at once, a Party's last administrator):
the shared PostgreSQL database holds other tests' rows."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from evidex.api.app import create_app
from evidex.core.db import make_engine, make_sessionmaker
from evidex.core.settings import Settings
from tests.api.conftest import UNLIMITED, Api, Clock


@pytest.fixture
def own_api(own_database_url: str, tmp_path):
    engine = make_engine(own_database_url)
    clock = Clock()
    app = create_app(Settings(database_url=own_database_url, environment="test", evidence_dir=tmp_path / "evidence",
                              spool_dir=tmp_path / "spool", login_limit_per_account=UNLIMITED,
                              login_limit_per_address=UNLIMITED), engine=engine, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client=client, sessionmaker=make_sessionmaker(engine), clock=clock, tag=uuid.uuid4().hex[:8])
    engine.dispose()
