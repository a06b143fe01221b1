"""Shared by the sign-in and token tests: apps on a database of their own (rate-limit windows and
concurrent commits must not meet other tests' rows), audit reads, second-factor codes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyotp
import sqlalchemy as sa
from fastapi.testclient import TestClient

from evidex.api.app import create_app
from evidex.audit.models import AuditEntry
from evidex.core.db import make_engine, make_sessionmaker
from evidex.core.settings import Settings
from evidex.parties.models import User
from evidex.parties.roles import Role
from evidex.parties.service import create_user
from tests.api.conftest import PASSWORD, Clock


@contextmanager
def node_app(url: str, tmp_path: Any, clock: Clock, **settings: Any) -> Iterator[tuple[TestClient, Any]]:
    """One server process of a node (several may share `url`): its client and its sessionmaker."""
    engine = make_engine(url)
    app = create_app(Settings(database_url=url, environment="test", evidence_dir=tmp_path / "evidence",
                              spool_dir=tmp_path / "spool", **settings), engine=engine, clock=clock)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, make_sessionmaker(engine)
    finally:
        engine.dispose()


def person(sessions: Any, name: str, now: dt.datetime, role: Role = Role.central_authority) -> str:
    """A person (password and TOTP, created as the demo does: secret sealed at first use); its secret."""
    with sessions() as db:
        u = create_user(db, username=name, display_name=name, party="RS", role=role, now=now, password=PASSWORD)
        db.commit()
        assert u.totp_secret
        return u.totp_secret


def login(client: TestClient, name: str, secret: str, at: dt.datetime, password: str = PASSWORD) -> Any:
    return client.post("/api/v1/auth/login", json={"username": name, "password": password,
                                                   "totp_code": pyotp.TOTP(secret).at(at)})


def audit_rows(sessions: Any, *actions: str) -> list[AuditEntry]:
    with sessions() as db:
        return list(db.execute(sa.select(AuditEntry).where(AuditEntry.action.in_(actions))
                               .order_by(AuditEntry.seq)).scalars())


def stored_user(sessions: Any, name: str) -> User:
    with sessions() as db:
        return db.execute(sa.select(User).where(User.username == name)).scalar_one()
