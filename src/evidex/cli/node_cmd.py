"""`evidex node`, `evidex peers`, `evidex outbox`: this node's identity, its trust list, its outbox."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from evidex.cli.common import emit_json, fail, load_settings
from evidex.core.settings import Settings
from evidex.node import build_node
from evidex.parties.roles import Principal, Role

node_app = typer.Typer(help="This node's federation identity (keys, certificate).", no_args_is_help=True)
peers_app = typer.Typer(help="The trust list: other Parties' nodes.", no_args_is_help=True)
outbox_app = typer.Typer(help="Messages waiting to go to other nodes.", no_args_is_help=True)


def _passphrase(confirm: bool = False) -> bytes:
    s = load_settings()
    if s.node_key_passphrase is not None:
        return s.node_key_passphrase.get_secret_value().encode()
    answer: str = typer.prompt("Key passphrase (12 characters or more)", hide_input=True,
                               confirmation_prompt=confirm)
    return answer.encode()


@node_app.command("init")
def node_init(
    url: Annotated[str, typer.Option(help="The URL other nodes reach this node at, e.g. https://evidex.mpravde.rs")],
    party: Annotated[str | None, typer.Option(help="Party code; default EVIDEX_NODE_PARTY.")] = None,
    valid_days: Annotated[int, typer.Option(help="Validity of the keys announced to peers.", min=1, max=3650)] = 730,
) -> None:
    """Create the node's Ed25519 signing key, X25519 encryption key (encrypted at rest) and TLS certificate."""
    from evidex.exchange import keys

    s = load_settings()
    code = (party or s.node_party).upper()
    if not url.startswith(("https://", "http://")):
        raise fail("--url must start with https:// (or http:// for a test on loopback)")
    public = keys.save(keys.generate(code, url), s.node_dir, _passphrase(confirm=True), valid_days=valid_days)
    typer.echo(f"node identity for {code} written to {s.node_dir} (private keys encrypted)")
    typer.echo(f"give peers this file: {s.node_dir / keys.PUBLIC_FILE}")
    typer.echo(f"signing key {public['keys'][0]['kid']}, encryption key {public['keys'][1]['kid']}")


@node_app.command("show")
def node_show() -> None:
    """Print the node's public document (what peers import with `evidex peers add`)."""
    from evidex.exchange import keys

    s = load_settings()
    path = s.node_dir / keys.PUBLIC_FILE
    if not path.exists():
        raise fail(f"no node identity in {s.node_dir}: run `evidex node init`")
    typer.echo(path.read_text(encoding="utf-8"))


def _db() -> tuple[Settings, Engine, sessionmaker[Session]]:
    s = load_settings()
    node = build_node(s)
    return s, node.engine, node.sessions


@peers_app.command("add")
def peers_add(file: Annotated[Path, typer.Argument(help="The peer's node.json (from `evidex node show`).")]) -> None:
    """Trust another Party's node: its URL, certificate and public keys (new keys are added: rotation)."""
    from evidex.exchange import service as exchange

    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise fail(f"{file}: not a readable node document ({e})") from e
    s, engine, sessions = _db()
    with sessions() as db:
        peer = exchange.add_peer(db, document=document if isinstance(document, dict) else {},
                                 now=dt.datetime.now(dt.UTC), actor=Principal.system(s.node_party))
        typer.echo(f"peer {peer.party} at {peer.url} trusted")
    engine.dispose()


@peers_app.command("list")
def peers_list(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The trust list."""
    from evidex.exchange import service as exchange

    s, engine, sessions = _db()
    operator = Principal(user_id=None, username="cli", party=s.node_party, role=Role.administrator)
    with sessions() as db:
        rows = []
        for v in exchange.list_peers(db, actor=operator, node_party=s.node_party):
            p = v.peer
            rows.append({"party": p.party, "url": p.url, "removed_at": p.removed_at.isoformat() if p.removed_at else None,
                         "keys": [{"kid": k.kid, "use": k.use, "valid_until": k.valid_until.isoformat(),
                                   "revoked": k.revoked_at is not None} for k in v.keys]})
    engine.dispose()
    if json_out:
        emit_json(rows)
        return
    for r in rows:
        state = "removed" if r["removed_at"] else "trusted"
        n = r["keys"]
        typer.echo(f"{r['party']}  {r['url']:<40} {state}, {len(n) if isinstance(n, list) else 0} key(s)")


@peers_app.command("remove")
def peers_remove(party: str) -> None:
    """Stop trusting a peer: its keys are revoked from now on."""
    from evidex.exchange import service as exchange

    s, engine, sessions = _db()
    with sessions() as db:
        exchange.remove_peer(db, party=party.upper(), now=dt.datetime.now(dt.UTC), actor=Principal.system(s.node_party))
    engine.dispose()
    typer.echo(f"peer {party.upper()} removed; its keys are revoked")


@outbox_app.command("status")
def outbox_status(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """What waits where: messages per peer and status (pending, delivered, dead)."""
    from evidex.exchange import service as exchange

    _, engine, sessions = _db()
    with sessions() as db:
        rows = exchange.outbox_status(db)
    engine.dispose()
    if json_out:
        emit_json(rows)
        return
    if not rows:
        typer.echo("the outbox is empty")
    for r in rows:
        typer.echo(f"{r['recipient']}  {r['status']:<10} {r['count']:>6}  oldest {r['oldest']}")


@outbox_app.command("send")
def outbox_send(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between passes.", min=0.1)] = 2.0,
) -> None:
    """Deliver waiting messages (the server does this in-process; this runs it on its own)."""
    import time

    from evidex.core.faults import installed
    from evidex.exchange import keys
    from evidex.exchange import service as exchange

    s, engine, sessions = _db()
    if s.node_key_passphrase is None:
        raise fail("EVIDEX_NODE_KEY_PASSPHRASE is needed to sign and seal messages")
    node = keys.load(s.node_dir, s.node_key_passphrase.get_secret_value().encode())
    while True:
        r = exchange.deliver_once(sessions, node, dt.datetime.now(dt.UTC), faults=installed())
        typer.echo(f"outbox: {r.delivered} delivered, {r.retried} retrying, {r.dead} dead")
        if once:
            break
        time.sleep(interval)
    engine.dispose()
