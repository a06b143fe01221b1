"""`evidex db` and `evidex audit`: schema migrations and the audit chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from evidex.cli import audit_cmd
from evidex.cli.common import fail, load_settings
from evidex.node import build_node

db_app = typer.Typer(help="Database: migrate and inspect.", no_args_is_help=True)
audit_app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)


_settings = load_settings


@db_app.command("upgrade")
def upgrade() -> None:
    """Create or migrate the database named by EVIDEX_DATABASE_URL to the latest schema."""
    from evidex.core.migrate import upgrade as do_upgrade

    with build_node(_settings(), migrated=False) as node:
        before, after = do_upgrade(node.engine)
    if before == after:
        typer.echo(f"database already at the latest schema ({after})")
    else:
        typer.echo(f"database migrated from {before or 'empty'} to {after}")


@db_app.command("status")
def status() -> None:
    """Say whether the database is at the latest schema (exit 1 if not)."""
    from evidex.core.migrate import current_revision, head_revision

    with build_node(_settings(), migrated=False) as node:
        current, head = current_revision(node.engine), head_revision()
    typer.echo(f"current: {current or 'empty'}; latest: {head}")
    raise typer.Exit(0 if current == head else 1)


heads_app = typer.Typer(help="Signed heads of the audit chain.", no_args_is_help=True)
audit_app.add_typer(heads_app, name="heads")


def _verification_keys(settings: Any, documents: list[Path]) -> dict[str, Any]:
    """The node's keys (node.py) and those of earlier node documents given with --key."""
    from evidex.node import audit_verification_keys

    docs = []
    for path in documents:
        try:
            docs.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as e:
            raise fail(f"{path}: not a node document ({e})") from e
    return audit_verification_keys(settings, docs)


@audit_app.command("verify")
def verify(
    witness: Annotated[list[Path] | None, typer.Option(
        "--witness", help="Heads exported earlier (`evidex audit heads export`): the chain must still match them, "
                          "and the signatures table still hold them.")] = None,
    key: Annotated[list[Path] | None, typer.Option(
        "--key", help="An earlier public node document (node.json) whose key signed older heads.")] = None,
) -> None:
    """Check every audit entry's hash and link, and the chain against every signed head (stored, and
    exported earlier with --witness); name any entry changed, removed or reordered, even when the
    later hashes were recomputed. When intact, sign the current head."""
    import datetime as dt

    from evidex.audit.heads import read_witness, verify_and_sign

    settings = _settings()
    keys = _verification_keys(settings, key or [])
    heads, problems = [], []
    for path in witness or []:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise fail(f"--witness {path}: cannot be read ({e.strerror or e})") from e
        got, bad = read_witness(text.splitlines(), str(path))
        heads += got
        problems += bad
    with build_node(settings) as node, node.sessions() as db:
        result = verify_and_sign(db, keys=keys, signer=node.audit_key, party=settings.node_party,
                                 now=dt.datetime.now(dt.UTC), witness=heads, problems=problems)
    if result.problems:
        for p in result.problems:
            typer.echo(f"TAMPERED {p}", err=True)
        typer.echo(f"audit chain BROKEN: {len(result.problems)} problem(s) in {result.entries} entries", err=True)
        raise typer.Exit(1)
    kinds = "; ".join(f"{n} by {label}" for label, n in result.checked.items())
    typer.echo(f"audit chain intact: {result.entries} entries; "
               + (f"signed heads checked: {kinds}" if kinds else "no signed head yet (only the hash chain was checked)"))
    if result.signed is not None:
        typer.echo(f"signed the head of entry {result.signed.seq} ({keys.get(result.signed.kid, node.audit_key).label})")


@heads_app.command("export")
def heads_export(
    out: Annotated[Path, typer.Option("--out", help="Where to write the signed heads (JSON lines).")],
) -> None:
    """Write every signed head of the audit chain, one JSON object a line with its JWS: keep the file
    where the database's administrators cannot change it (or give it to a partner as a witness);
    anyone with the node's public node.json can check it."""
    import os

    from evidex.audit.heads import stored_heads

    settings = _settings()
    with build_node(settings) as node, node.sessions() as db:
        heads = stored_heads(db)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        tmp.write_text("".join(h.line(settings.node_party) + "\n" for h in heads), encoding="utf-8")
        os.replace(tmp, out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise fail(f"cannot write {out}: {e.strerror or e}") from e
    typer.echo(f"wrote {out}: {len(heads)} signed head(s)"
               + (f", the last of entry {heads[-1].seq}" if heads else ""))


# `evidex audit list` (cli/audit_cmd.py) joins the group wherever the group is loaded.
audit_cmd.register(audit_app)
