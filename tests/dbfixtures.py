"""Database fixtures: every database test runs on SQLite and on real PostgreSQL.

PostgreSQL: one database per test session (migrated once), each test inside a transaction that
is rolled back. SQLite: a migrated template file, copied for each test. A test with a database of
its own gets a copy of a migrated template database (CREATE DATABASE ... TEMPLATE: 0.1 s, where
migrating takes 1.7 s), dropped in the background (a drop waits for a checkpoint: 1.5 s).
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from evidex.core.db import make_engine
from evidex.core.migrate import upgrade

POSTGRES_ADMIN_URL = os.environ.get("EVIDEX_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SKIP_POSTGRES = os.environ.get("EVIDEX_TEST_SKIP_POSTGRES") == "1"
# Each xdist worker (scripts/test runs two) makes its own databases and its own template on the one
# server: the worker's name in theirs tells whose a database left behind by a killed run was.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


class _PostgresDatabases:
    """The migrated template (made at first need, by the real migrations) and the drops of databases
    no longer used, done by a background thread: the session waits for them at its end."""

    def __init__(self) -> None:
        self.admin: Engine | None = None
        self.template: str | None = None
        self.lock = threading.Lock()
        self.drops: queue.Queue[str | None] = queue.Queue()
        self.dropper: threading.Thread | None = None

    def _admin(self) -> Engine:
        if self.admin is None:
            self.admin = make_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        return self.admin

    def create(self, name: str, migrated: bool) -> None:
        with self.lock:
            template = self._template() if migrated else None
            with self._admin().connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))

    def _template(self) -> str:
        if self.template is None:
            name = f"evidex_template_{WORKER}_{uuid.uuid4().hex[:10]}"
            with self._admin().connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            engine = make_engine(url_of(name))
            upgrade(engine)
            engine.dispose()  # a template may have no open connection when it is copied
            self.template = name
        return self.template

    def drop_later(self, name: str) -> None:
        if self.dropper is None:
            self.dropper = threading.Thread(target=self._drop_queued, name="drop-test-databases", daemon=True)
            self.dropper.start()
        self.drops.put(name)

    def _drop_queued(self) -> None:
        while (name := self.drops.get()) is not None:
            with self._admin().connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def finish(self) -> None:
        if self.dropper is not None:
            self.drops.put(None)
            self.dropper.join()
            self.dropper = None
        if self.template is not None:
            with self._admin().connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)'))
            self.template = None
        if self.admin is not None:
            self.admin.dispose()
            self.admin = None


_databases = _PostgresDatabases()


def url_of(name: str) -> str:
    return sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def new_postgres_database(prefix: str, migrate: bool = True) -> str:
    """A new PostgreSQL database (a copy of the migrated template unless told otherwise): its name.
    Give it back with drop_postgres_database."""
    if SKIP_POSTGRES:
        pytest.skip("EVIDEX_TEST_SKIP_POSTGRES=1")
    name = f"{prefix}_{WORKER}_{uuid.uuid4().hex[:10]}"
    try:
        _databases.create(name, migrated=migrate)
    except sa.exc.OperationalError as e:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} (scripts/test starts it): {e}")
    return name


def drop_postgres_database(name: str) -> None:
    _databases.drop_later(name)


@pytest.fixture(autouse=True, scope="session")
def _postgres_databases_dropped() -> Iterator[None]:
    """At the end of the session: the queued drops done, the template dropped."""
    yield
    _databases.finish()


@contextmanager
def postgres_database(prefix: str, migrate: bool = True) -> Iterator[str]:
    """A new PostgreSQL database (migrated unless told otherwise), dropped afterwards: its URL."""
    name = new_postgres_database(prefix, migrate)
    try:
        yield url_of(name)
    finally:
        drop_postgres_database(name)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_database("evidex_test") as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated database of each kind; SQLite files are fresh per test."""
    if request.param == "sqlite":
        path = tmp_path / "evidex.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    e = make_engine(database_url)
    yield e
    e.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test (commits become savepoints)."""
    conn = engine.connect()
    outer = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        if outer.is_active:
            outer.rollback()
        conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def own_database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A migrated database of each kind for this test alone, for tests that commit from several
    connections at once (the shared PostgreSQL database is for tests that roll back)."""
    if request.param == "sqlite":
        path = tmp_path / "own.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    with postgres_database("evidex_own") as url:
        yield url
