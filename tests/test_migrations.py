"""`evidex db upgrade` on a new database of each kind; an unmigrated database is refused."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from evidex.core.db import make_engine
from evidex.core.migrate import NotMigrated, head_revision, require_migrated
from tests.conftest import run_cli
from tests.dbfixtures import POSTGRES_ADMIN_URL, SKIP_POSTGRES


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'new' / 'evidex.db'}"
        return
    if SKIP_POSTGRES:
        pytest.skip("EVIDEX_TEST_SKIP_POSTGRES=1")
    admin = make_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"evidex_mig_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_status_and_refusal(empty_url):
    env = {"EVIDEX_DATABASE_URL": empty_url}
    engine = make_engine(empty_url)
    with pytest.raises(NotMigrated, match="evidex db upgrade"):
        require_migrated(engine)
    r = run_cli("audit", "verify", env=env)
    assert r.returncode == 2 and "evidex db upgrade" in r.stderr and "Traceback" not in r.stderr
    assert run_cli("db", "status", env=env).returncode == 1
    r = run_cli("db", "upgrade", env=env)
    assert r.returncode == 0 and f"to {head_revision()}" in r.stdout
    assert "already at the latest" in run_cli("db", "upgrade", env=env).stdout
    assert run_cli("db", "status", env=env).returncode == 0
    require_migrated(engine)
    engine.dispose()


def test_bad_database_url_is_one_line():
    for url, msg in [("nosuchdb://x", "unsupported database"), ("::not a url::", "not a database URL"),
                     ("postgresql://nobody@127.0.0.1:1/none", "database:")]:
        r = run_cli("db", "upgrade", env={"EVIDEX_DATABASE_URL": url})
        assert r.returncode == 2 and msg in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
