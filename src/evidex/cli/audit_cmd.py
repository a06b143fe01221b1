"""`evidex audit list`: the operator reads the audit log with the filters of GET /api/v1/audit (the
reading is recorded too, as the command line's)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer

from evidex.cli.common import fail, load_settings
from evidex.node import build_node
from evidex.parties.roles import Principal, Role


def _time(value: str | None, option: str) -> dt.datetime | None:
    """An ISO date-time; without an offset it is UTC."""
    if value is None:
        return None
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError as e:
        raise fail(f"{option}: {value!r} is not an ISO date-time") from e
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def register(app: typer.Typer) -> None:
    """Add `list` to `evidex audit`."""

    @app.command("list")
    def audit_list(
        actor: Annotated[str | None, typer.Option(help="A username, or a user id.")] = None,
        action: Annotated[str | None, typer.Option(help="e.g. request.read, user.deactivate.")] = None,
        object_type: Annotated[str | None, typer.Option(help="e.g. request, user, evidence.")] = None,
        object_id: Annotated[str | None, typer.Option()] = None,
        since: Annotated[str | None, typer.Option(help="From this ISO date-time (inclusive; UTC unless given).")] = None,
        until: Annotated[str | None, typer.Option(help="Up to this ISO date-time (exclusive).")] = None,
        limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
        offset: Annotated[int, typer.Option(min=0)] = 0,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON list.")] = False,
    ) -> None:
        """This node's Party's audit entries, newest first."""
        from evidex.privacy.audit_log import EntryFilter, list_entries

        where = EntryFilter(actor=actor, action=action, object_type=object_type, object_id=object_id,
                            since=_time(since, "--since"), until=_time(until, "--until"))
        settings = load_settings()
        operator = Principal(user_id=None, username="cli", party=settings.node_party, role=Role.administrator)
        with build_node(settings) as node, node.sessions() as db:
            rows, total = list_entries(db, actor=operator, where=where, now=dt.datetime.now(dt.UTC), limit=limit,
                                       offset=offset)
        items = [{"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                  "object_type": e.object_type, "object_id": e.object_id, "personal_data": e.personal_data,
                  "details": e.details} for e in rows]
        if as_json:
            typer.echo(json.dumps(items, indent=2, ensure_ascii=False))
            return
        for i in items:
            typer.echo(f"{i['seq']:>8}  {i['at']}  {i['actor']:<30} {i['action']:<32} {i['object_type']} "
                       f"{i['object_id'] or ''}".rstrip())
        typer.echo(f"{len(items)} of {total} entr{'y' if total == 1 else 'ies'}")
