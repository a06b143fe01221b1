"""The `evidex` command line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from evidex import __version__
from evidex.cli import audit_cmd, db_cmd, node_cmd, parties_cmd, rules_cmd, server_cmd, tokens_cmd, users_cmd
from evidex.cli.check import check_command
from evidex.cli.common import emit_json, fail
from evidex.core.errors import EvidexError

app = typer.Typer(
    name="evidex",
    help="evidex — cross-border co-operation on cybercrime and electronic evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # never print locals (secrets) in a traceback
    add_completion=False,
)
app.command("check")(check_command)
app.add_typer(rules_cmd.app, name="rules")
app.add_typer(parties_cmd.app, name="parties")
app.add_typer(db_cmd.db_app, name="db")
app.add_typer(db_cmd.audit_app, name="audit")
audit_cmd.register(db_cmd.audit_app)
app.command("serve")(server_cmd.serve)
app.command("worker")(server_cmd.worker)
app.command("demo")(server_cmd.demo)
app.add_typer(server_cmd.users_app, name="users")
users_cmd.register(server_cmd.users_app)
app.add_typer(server_cmd.requests_app, name="requests")
app.add_typer(server_cmd.evidence_app, name="evidence")
app.add_typer(tokens_cmd.tokens_app, name="tokens")
app.add_typer(node_cmd.node_app, name="node")
app.add_typer(node_cmd.peers_app, name="peers")
app.add_typer(node_cmd.outbox_app, name="outbox")
schema_app = typer.Typer(help="JSON Schemas for integrators.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")


@schema_app.command("request")
def schema_request() -> None:
    """The JSON Schema of the request document (input of `evidex check`)."""
    from evidex.rules import RequestDocument

    emit_json(RequestDocument.model_json_schema())


@schema_app.command("verdict")
def schema_verdict() -> None:
    """The JSON Schema of the verdict (`evidex check --format json`)."""
    from evidex.rules.verdict import verdict_json_schema

    emit_json(verdict_json_schema())


@schema_app.command("message")
def schema_message(type: Annotated[str | None, typer.Argument(
        help="A federation message type; without one, the types are listed.", show_default=False)] = None) -> None:
    """The JSON Schema of a federation message's payload (exchange/protocol.py)."""
    from evidex.exchange import protocol

    if type not in protocol.MESSAGE_TYPES:
        told = "name a message type" if type is None else f"unknown message type {type!r}"
        raise fail(f"{told}; one of: {', '.join(protocol.MESSAGE_TYPES)}")
    emit_json(protocol.json_schema(type))


@app.callback(invoke_without_command=True)
def _root(version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False) -> None:
    if version:
        typer.echo(f"evidex {__version__}")
        raise typer.Exit(0)


def main() -> None:
    try:
        app()
    except EvidexError as e:
        print(f"evidex: error: {e}", file=sys.stderr)
        sys.exit(2)
    except SQLAlchemyError as e:  # the database is unreachable or refused the operation
        detail = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        print(f"evidex: error: database: {detail}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # last resort: one line, never a traceback to a user
        print(f"evidex: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(3)
