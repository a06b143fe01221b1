"""The web application in process (TestClient), on the API test fixture's node: for page tests that
need no browser (the browser tests start real processes: tests/web/conftest.py)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from evidex.core.db import make_engine, make_sessionmaker
from evidex.core.settings import Settings
from evidex.parties.roles import Role
from evidex.parties.service import create_user
from evidex.web.site import create_site
from tests.api.conftest import PASSWORD, UNLIMITED, Clock

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@dataclass
class Site:
    client: TestClient
    sessionmaker: Any
    clock: Clock
    tag: str

    def person(self, party: str, role: Role, suffix: str = "", provider: str | None = None) -> tuple[str, str]:
        """Create a person; returns (username, TOTP secret)."""
        name = f"{self.tag}-{party.lower()}-{role.value}{suffix}"
        with self.sessionmaker() as db:
            u = create_user(db, username=name, display_name=f"Officer {name}", party=party, role=role,
                            now=self.clock.now, password=PASSWORD, provider=provider)
            secret = u.totp_secret
            db.commit()
        return name, secret

    def api_headers(self, party: str, role: Role, suffix: str = "") -> dict[str, str]:
        """A Bearer token of a person of its own (signed in through the API), to arrange data as the API would."""
        return self.api_headers_of(*self.person(party, role, f"{suffix}-api"))

    def api_headers_of(self, name: str, secret: str) -> dict[str, str]:
        r = self.client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD,
                                                          "totp_code": pyotp.TOTP(secret).at(self.clock.now)})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    def csrf(self, path: str = "/sign-in") -> str:
        r = self.client.get(path)
        m = CSRF.search(r.text)
        assert m, f"no CSRF token on {path}: {r.status_code}"
        return m.group(1)

    def sign_in(self, party: str, role: Role, suffix: str = "") -> str:
        name, secret = self.person(party, role, suffix,
                                   provider="Zgled Mail d.o.o." if role is Role.service_provider else None)
        return self.sign_in_as(name, secret)

    def sign_in_as(self, name: str, secret: str) -> str:
        r = self.client.post("/sign-in", data={"csrf_token": self.csrf(), "username": name, "password": PASSWORD,
                                               "totp_code": pyotp.TOTP(secret).at(self.clock.now), "next": "/"},
                             follow_redirects=False)
        assert r.status_code == 303, r.text
        return name


def make_site(database_url: str, tmp_path: Any, **settings: Any) -> Iterator[Site]:
    engine = make_engine(database_url)
    clock = Clock()
    app = create_site(Settings(database_url=database_url, environment="test", evidence_dir=tmp_path / "evidence",
                               spool_dir=tmp_path / "spool", login_limit_per_account=UNLIMITED,
                               login_limit_per_address=UNLIMITED, **settings), engine=engine, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Site(client, make_sessionmaker(engine), clock, uuid.uuid4().hex[:8])
    engine.dispose()


@pytest.fixture
def site(database_url: str, tmp_path: Any) -> Iterator[Site]:
    yield from make_site(database_url, tmp_path)


@pytest.fixture
def own_site(own_database_url: str, tmp_path: Any) -> Iterator[Site]:
    """The web application on a database of this test alone (for pages that list everything visible)."""
    yield from make_site(own_database_url, tmp_path)
