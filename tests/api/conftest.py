from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from evidex.api.app import create_app
from evidex.core.db import make_engine, make_sessionmaker
from evidex.core.settings import Settings
from evidex.parties.roles import Role
from evidex.parties.service import create_user
from tests.factories import NOW

PASSWORD = "correct horse battery staple"
UNLIMITED = 1_000_000


@dataclass
class Clock:
    now: dt.datetime = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Api:
    client: TestClient
    sessionmaker: Any
    clock: Clock
    tag: str
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def user(self, party: str, role: Role, suffix: str = "", provider: str | None = None) -> tuple[str, str]:
        """Create a person and log in through the API (password + TOTP). Returns (username, token)."""
        name = f"{self.tag}-{party.lower()}-{role.value}{suffix}"
        with self.sessionmaker() as db:
            u = create_user(db, username=name, display_name=name, party=party, role=role, now=self.clock.now,
                            password=PASSWORD, provider=provider)
            secret = u.totp_secret
            db.commit()
        code = pyotp.TOTP(secret).at(self.clock.now)
        r = self.client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD, "totp_code": code})
        assert r.status_code == 200, r.text
        return name, r.json()["token"]

    def totp_secret(self, username: str) -> str:
        """A user's TOTP secret in clear: sealed at rest (by the app's key) once it has been used."""
        import sqlalchemy as sa

        from evidex.parties.models import User

        with self.sessionmaker() as db:
            sealed = db.execute(sa.select(User.totp_secret).where(User.username == username)).scalar_one()
        opened: str = self.client.app.state.totp_box.open(sealed)  # type: ignore[attr-defined]
        return opened

    def token(self, party: str, role: Role, suffix: str = "") -> str:
        key = (party, role.value + suffix)
        if key not in self.tokens:
            self.tokens[key] = self.user(party, role, suffix,
                                         provider="Zgled Mail d.o.o." if role is Role.service_provider else None)[1]
        return self.tokens[key]

    def as_(self, party: str, role: Role, suffix: str = "") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(party, role, suffix)}"}


@pytest.fixture
def api(database_url: str, tmp_path):
    engine = make_engine(database_url)
    clock = Clock()
    # Hundreds of logins from the TestClient's one address under a frozen clock: the login rate limits
    # are raised here (tests/security/test_signin.py tests them with low values).
    app = create_app(Settings(database_url=database_url, environment="test", evidence_dir=tmp_path / "evidence", spool_dir=tmp_path / "spool",
                              login_limit_per_account=UNLIMITED, login_limit_per_address=UNLIMITED),
                     engine=engine, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client=client, sessionmaker=make_sessionmaker(engine), clock=clock, tag=uuid.uuid4().hex[:8])
    engine.dispose()


@pytest.fixture
def own_api(own_database_url: str, tmp_path):
    """An API node on a database of its own, for tests that count what the whole node holds (audit
    entries, notifications marked read all at once, a Party's last administrator): the shared
    PostgreSQL database holds other tests' rows."""
    engine = make_engine(own_database_url)
    clock = Clock()
    app = create_app(Settings(database_url=own_database_url, environment="test", evidence_dir=tmp_path / "evidence",
                              spool_dir=tmp_path / "spool", login_limit_per_account=UNLIMITED,
                              login_limit_per_address=UNLIMITED), engine=engine, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client=client, sessionmaker=make_sessionmaker(engine), clock=clock, tag=uuid.uuid4().hex[:8])
    engine.dispose()
