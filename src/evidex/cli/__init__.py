"""The `evidex` command line."""

from __future__ import annotations

import importlib
import sys
from typing import Annotated

import typer

from evidex import __version__
from evidex.cli.common import emit_json, fail
from evidex.core.errors import EvidexError

app = typer.Typer(
    name="evidex",
    help="evidex — cross-border co-operation on cybercrime and electronic evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # never print locals (secrets) in a traceback
    add_completion=False,
)
# Each command (a function) or group of commands (a Typer) and where it is defined. A run imports
# only the module of the command it was given (`evidex check` needs neither the database layer nor
# the server: 0.55 s less of start-up); `--help`, or no known command, imports them all.
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("evidex.cli.check", "check_command"),
    "render": ("evidex.cli.render_cmd", "render_command"),
    "rules": ("evidex.cli.rules_cmd", "app"),
    "parties": ("evidex.cli.parties_cmd", "app"),
    "db": ("evidex.cli.db_cmd", "db_app"),
    "audit": ("evidex.cli.db_cmd", "audit_app"),
    "serve": ("evidex.cli.server_cmd", "serve"),
    "worker": ("evidex.cli.server_cmd", "worker"),
    "demo": ("evidex.cli.server_cmd", "demo"),
    "users": ("evidex.cli.server_cmd", "users_app"),
    "requests": ("evidex.cli.server_cmd", "requests_app"),
    "evidence": ("evidex.cli.server_cmd", "evidence_app"),
    "tokens": ("evidex.cli.tokens_cmd", "tokens_app"),
    "node": ("evidex.cli.node_cmd", "node_app"),
    "peers": ("evidex.cli.node_cmd", "peers_app"),
    "outbox": ("evidex.cli.node_cmd", "outbox_app"),
    "verify": ("evidex.cli.verify_cmd", "verify_command"),
}


def add_commands(args: list[str]) -> None:
    """Register the command named first in `args` (the only word before it can be an option), or all."""
    word = next((a for a in args if not a.startswith("-")), None)
    for name in [word] if word in COMMANDS else [] if word == "schema" else COMMANDS:
        module, attribute = COMMANDS[name]
        command = getattr(importlib.import_module(module), attribute)
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=name)
        else:
            app.command(name)(command)
    app.add_typer(schema_app, name="schema")  # defined below; listed last


schema_app = typer.Typer(help="JSON Schemas for integrators.", no_args_is_help=True)


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
        add_commands(sys.argv[1:])
        app()
    except EvidexError as e:
        print(f"evidex: error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:
        # SQLAlchemy is loaded by the commands that use the database, and only they raise its errors.
        database = sys.modules.get("sqlalchemy.exc")
        if database is not None and isinstance(e, database.SQLAlchemyError):  # unreachable, or refused the operation
            detail = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
            print(f"evidex: error: database: {detail}", file=sys.stderr)
            sys.exit(2)
        # last resort: one line, never a traceback to a user
        print(f"evidex: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(3)
