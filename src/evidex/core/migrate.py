"""Database migrations (Alembic, shipped inside the package) for `evidex db upgrade`."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from evidex.core.errors import EvidexError

# Alembic (with Mako and Pygments, ~0.25 s of CPU) is imported when a function here runs: every
# `evidex` command imports this module, and most never touch the schema (`check`, `rules`, `--help`).
if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Engine


class NotMigrated(EvidexError):
    """The database is not at the latest schema: run `evidex db upgrade`."""


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("evidex") / "migrations"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Migrate to the latest schema; returns (before, after)."""
    from alembic import command

    before = current_revision(engine)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return before, head_revision()


def require_migrated(engine: Engine) -> None:
    current, head = current_revision(engine), head_revision()
    if current != head:
        state = "is empty (never migrated)" if current is None else f"is at revision {current}, not {head}"
        raise NotMigrated(f"the database {state}: run `evidex db upgrade` first")
