"""`evidex users unlock|deactivate|reactivate|reset-second-factor`: the node operator administers
the users of its Party (audited as the command line, with the reason)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

import typer

from evidex.cli.common import load_settings
from evidex.node import build_node
from evidex.parties.models import User
from evidex.parties.roles import Principal, Role

Username = Annotated[str, typer.Argument(help="The user's login name.")]
Reason = Annotated[str | None, typer.Option(help="Why (recorded in the audit log).")]
RequiredReason = Annotated[str | None, typer.Option(help="Why (recorded in the audit log); required.")]


def _operator(party: str) -> Principal:
    """The command line acts for the node's operator: an administrator of its Party, audited as the CLI."""
    return Principal(user_id=None, username="cli", party=party, role=Role.administrator)


def _administer(action: Callable[..., User], username: str, reason: str | None) -> User:
    """Run one administration service (it commits); unknown user or bad input: one line, exit 2."""
    settings = load_settings()
    with build_node(settings) as node, node.sessions() as db:
        return action(db, actor=_operator(settings.node_party), user=username, reason=reason,
                      now=dt.datetime.now(dt.UTC))


def register(app: typer.Typer) -> None:
    """Add the commands to `evidex users`."""

    @app.command("unlock")
    def users_unlock(username: Username, reason: Reason = None) -> None:
        """End a lockout after repeated failed sign-ins at once."""
        from evidex.parties.service import unlock_user

        u = _administer(unlock_user, username, reason)
        typer.echo(f"unlocked {u.username}")

    @app.command("deactivate")
    def users_deactivate(username: Username, reason: RequiredReason = None) -> None:
        """No more sign-in; every session and API token of the user is revoked at once."""
        from evidex.parties.service import deactivate_user

        u = _administer(deactivate_user, username, reason)
        typer.echo(f"deactivated {u.username}; its sessions and API tokens are revoked")

    @app.command("reactivate")
    def users_reactivate(username: Username, reason: Reason = None) -> None:
        """Let a deactivated user sign in again (old sessions and tokens stay revoked)."""
        from evidex.parties.service import reactivate_user

        u = _administer(reactivate_user, username, reason)
        typer.echo(f"reactivated {u.username}")

    @app.command("reset-second-factor")
    def users_reset_second_factor(username: Username, reason: RequiredReason = None) -> None:
        """Forget the user's TOTP secret (a lost device): they enrol a new one with their password
        before signing in again."""
        from evidex.parties.service import reset_second_factor

        u = _administer(reset_second_factor, username, reason)
        typer.echo(f"second factor of {u.username} reset; they enrol a new one at their next sign-in")
