"""`evidex db` and `evidex audit`: schema migrations and the audit chain."""

from __future__ import annotations

import typer

from evidex.cli.common import load_settings
from evidex.core.db import make_engine, make_sessionmaker

db_app = typer.Typer(help="Database: migrate and inspect.", no_args_is_help=True)
audit_app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)


_settings = load_settings


@db_app.command("upgrade")
def upgrade() -> None:
    """Create or migrate the database named by EVIDEX_DATABASE_URL to the latest schema."""
    from evidex.core.migrate import upgrade as do_upgrade

    engine = make_engine(_settings().database_url)
    try:
        before, after = do_upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        typer.echo(f"database already at the latest schema ({after})")
    else:
        typer.echo(f"database migrated from {before or 'empty'} to {after}")


@db_app.command("status")
def status() -> None:
    """Say whether the database is at the latest schema (exit 1 if not)."""
    from evidex.core.migrate import current_revision, head_revision

    engine = make_engine(_settings().database_url)
    try:
        current, head = current_revision(engine), head_revision()
    finally:
        engine.dispose()
    typer.echo(f"current: {current or 'empty'}; latest: {head}")
    raise typer.Exit(0 if current == head else 1)


@audit_app.command("verify")
def verify() -> None:
    """Check every audit entry's hash and link; name any entry changed, removed or reordered."""
    from evidex.audit.service import verify as do_verify
    from evidex.core.migrate import require_migrated

    engine = make_engine(_settings().database_url)
    try:
        require_migrated(engine)
        with make_sessionmaker(engine)() as db:
            count, problems = do_verify(db)
    finally:
        engine.dispose()
    if problems:
        for p in problems:
            typer.echo(f"TAMPERED {p}", err=True)
        typer.echo(f"audit chain BROKEN: {len(problems)} problem(s) in {count} entries", err=True)
        raise typer.Exit(1)
    typer.echo(f"audit chain intact: {count} entries")
