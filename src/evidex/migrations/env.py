"""Alembic environment: the URL comes from the caller (evidex db upgrade) or from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from alembic import context

from evidex.core.db import Base, make_engine
from evidex.models import import_all_models

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

import_all_models()
config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from evidex.core.settings import Settings

        url = Settings().database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    # SQLite's driver opens a transaction only before a data change, so DDL ran outside any: a run
    # that failed half-way (a downgrade refusing) kept the schema changes of its earlier steps while
    # the version row rolled back. An explicit BEGIN makes the whole run one transaction there too.
    conn = cast("Connection", connection)
    raw = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite" and raw is not None and not getattr(raw, "in_transaction", True):
        conn.exec_driver_sql("BEGIN")
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `evidex db upgrade`")
run_migrations_online()
