"""`evidex tokens list|revoke`: the node operator's view of every API token, and revocation."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer

from evidex.cli.common import load_settings, parse_id
from evidex.node import build_node
from evidex.parties.roles import Principal, Role

tokens_app = typer.Typer(help="API tokens of this node's users.", no_args_is_help=True)


def _operator(party: str) -> Principal:
    """The command line acts for the node's operator: an administrator of its Party, audited as the CLI."""
    return Principal(user_id=None, username="cli", party=party, role=Role.administrator)


@tokens_app.command("list")
def tokens_list(
    user: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
    include_revoked: Annotated[bool, typer.Option("--all", help="Also revoked tokens.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list.")] = False,
) -> None:
    """List API tokens (never their secrets): owner, scope, expiry, last use."""
    from evidex.parties.service import list_tokens

    settings = load_settings()
    with build_node(settings) as node, node.sessions() as db:
        rows = [(t, name) for t, name in list_tokens(db, actor=_operator(settings.node_party),
                                                     include_revoked=include_revoked)
                if user is None or name == user]
    items = [{"id": str(t.id), "user": name, "name": t.name, "scope": t.scope, "created_at": t.created_at.isoformat(),
              "expires_at": t.expires_at.isoformat(),
              "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
              "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None} for t, name in rows]
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    for i in items:
        state = f"revoked {i['revoked_at']}" if i["revoked_at"] else f"expires {i['expires_at']}"
        typer.echo(f"{i['id']}  {i['user']:<30} {i['name']:<20} {i['scope']:<5}  {state}  "
                   f"last used {i['last_used_at'] or 'never'}")
    typer.echo(f"{len(items)} token(s)")


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[str, typer.Argument(help="The token's id (from `evidex tokens list`).")]) -> None:
    """Revoke a token at once: it never works again. Audited."""
    from evidex.parties.service import revoke_token

    tid = parse_id(token_id, "a token")
    settings = load_settings()
    with build_node(settings) as node, node.sessions() as db:
        row = revoke_token(db, actor=_operator(settings.node_party), token_id=tid, now=dt.datetime.now(dt.UTC))
    typer.echo(f"revoked {row.id} ({row.name})")
