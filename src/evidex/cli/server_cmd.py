"""`evidex serve`, `evidex worker`, `evidex demo`, `evidex users`, `evidex requests`."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from enum import StrEnum
from typing import Annotated, Any

import typer

from evidex.cli import users_cmd
from evidex.cli.common import fail, load_settings
from evidex.core.settings import Settings
from evidex.node import Node, build_node
from evidex.parties.roles import PEOPLE_ROLES, Principal, Role

users_app = typer.Typer(help="Users of this node.", no_args_is_help=True)
requests_app = typer.Typer(help="Requests held by this node.", no_args_is_help=True)


_settings = load_settings


def _node(settings: Settings | None = None, *, migrated: bool = True) -> Node:
    """The node of the environment's settings (node.py). Its identity, when used, is refused if it cannot
    be opened (passphrase unset or wrong): a one-line error, exit 2; nothing runs that would sign less
    than the server does."""
    return build_node(settings or _settings(), migrated=migrated)


def _warn_if_environment_unset(settings: Any, what: str) -> None:
    """A node started without EVIDEX_ENVIRONMENT runs with development defaults (the default secret among
    them): say so loudly, on standard error, every time."""
    if settings.environment_unset:
        bar = "!" * 78
        typer.echo(f"{bar}\nWARNING: EVIDEX_ENVIRONMENT is not set: {what} runs as DEVELOPMENT, with development "
                   "defaults\n(the default EVIDEX_SECRET_KEY is accepted). Set EVIDEX_ENVIRONMENT=production (and a "
                   f"secret of 32 bytes or more)\nfor a real node.\n{bar}", err=True)


def _now(value: str | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC)
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError as e:
        raise fail(f"--now: {value!r} is not an ISO date-time") from e
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    worker_interval: Annotated[float, typer.Option(help="Seconds between deadline passes (0: no in-process worker).", min=0)] = 60.0,
    tls: Annotated[bool, typer.Option("--tls", help="Serve HTTPS with the node's certificate (`evidex node init`).")] = False,
    mtls: Annotated[bool, typer.Option("--mtls", help="Mutual TLS: accept only clients presenting the TLS certificate "
                                                      "of a peer in the trust list (for the federation endpoint; "
                                                      "restart after `evidex peers add`).")] = False,
    workers: Annotated[int, typer.Option(help="API worker processes (one per core; the deadline and outbox worker "
                                               "runs once, in the parent).", min=1, max=64)] = 1,
) -> None:
    """Start the node: the web application at /, the API at /api/v1 (with the deadline worker in the
    same process by default)."""
    import uvicorn

    from evidex.core.memory import retain_freed_memory
    from evidex.web.site import create_site

    retain_freed_memory()  # payloads of megabytes: reuse freed buffers (core/memory.py)
    settings = _settings()
    _warn_if_environment_unset(settings, "evidex serve")
    if tls:  # HSTS on every answer; worker processes (--workers) read it from the environment
        import os

        os.environ["EVIDEX_HTTPS"] = "true"
        settings = settings.model_copy(update={"https": True})
    # An identity that cannot be opened is refused while the app is built; `--workers` children check again.
    app = create_site(settings, node=build_node(settings, threads=settings.api_threads),
                      worker_interval=worker_interval or None)
    typer.echo(f"evidex node {settings.node_party} on {'https' if tls else 'http'}://{host}:{port}  "
               "(web application /, API /api/v1, OpenAPI /openapi.json)")
    ssl_certfile = ssl_keyfile = None
    if tls:
        from evidex.exchange import keys

        cert, key = settings.node_dir / keys.TLS_CERT_FILE, settings.node_dir / keys.TLS_KEY_FILE
        if not cert.exists():
            raise fail(f"no TLS certificate in {settings.node_dir}: run `evidex node init`")
        ssl_certfile, ssl_keyfile = str(cert), str(key)
    tls_extra: dict[str, Any] = {}
    if mtls:
        import ssl

        if not tls:
            raise fail("--mtls needs --tls")
        bundle = _peer_bundle(settings, app.state.sessionmaker)
        tls_extra = {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": str(bundle)}
        typer.echo(f"mutual TLS: only the peers' certificates in {bundle} are accepted")
    # A bounded graceful shutdown: requests in flight get 5 s, idle keep-alive connections do not hold it up.
    # The edge: httptools with a header size limit and a header deadline (api/protocol.py), a bounded
    # number of connections (503 beyond), a bounded listen backlog; bodies are bounded by api/edge.py.
    options: dict[str, Any] = {"host": host, "port": port, "log_level": "info", "access_log": False,
                               "timeout_keep_alive": 30, "timeout_graceful_shutdown": 5,
                               "http": "evidex.api.protocol:EdgeHttpToolsProtocol",
                               "limit_concurrency": settings.max_connections, "backlog": 1024,
                               "server_header": False,
                               "ssl_certfile": ssl_certfile, "ssl_keyfile": ssl_keyfile, **tls_extra}
    if workers == 1:
        uvicorn.run(app, **options)
        return
    # Several processes share the port (the interpreter lock bounds one process to one core); each
    # builds its own app from the environment. The worker loop (deadlines, outbox, packages,
    # retention) must run once per node: here, in the parent, not in each child.
    typer.echo(f"{workers} API worker processes")
    node_worker = app.state.worker
    if node_worker is not None:
        node_worker.start()
    try:
        uvicorn.run("evidex.web.site:create_worker_site", factory=True, workers=workers, **options)
    finally:
        if node_worker is not None:
            node_worker.stop()
        app.state.engine.dispose()


def _peer_bundle(settings: Any, sessions: Any) -> Any:
    """The TLS certificates of the active peers, as the trust anchors for client certificates."""
    import sqlalchemy as sa

    from evidex.exchange.models import Peer

    with sessions() as db:
        certs = [p.tls_certificate for p in db.execute(sa.select(Peer).where(Peer.removed_at.is_(None))).scalars()
                 if p.tls_certificate]
    if not certs:
        raise fail("--mtls: no peer in the trust list has a TLS certificate (`evidex peers add`)")
    bundle = settings.node_dir / "peers-tls.pem"
    bundle.write_text("".join(c if c.endswith("\n") else c + "\n" for c in certs), encoding="ascii")
    return bundle


def worker(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between deadline passes (the outbox goes out every 2 s).",
                                            min=1)] = 60.0,
    now: Annotated[str | None, typer.Option(help="Act as if at this UTC time (ISO); for drills and tests.")] = None,
) -> None:
    """Run the node's worker as its own process: deadlines, retention and — with a node identity — the
    outbox to other nodes and evidence packages (production runs it beside `serve --worker-interval 0`)."""
    import logging
    import signal

    from evidex.core.faults import installed
    from evidex.core.memory import retain_freed_memory
    from evidex.workers.audit_heads import records_pass
    from evidex.workers.deadlines import run_once
    from evidex.workers.outbox import outbox_pass
    from evidex.workers.retention import retention_pass
    from evidex.workers.short_lived import sweep_short_lived
    from evidex.workers.spool import spool_pass
    from evidex.workers.uploads import sweep_uploads

    retain_freed_memory()  # the outbox sends payloads of megabytes (core/memory.py)
    settings = _settings()
    _warn_if_environment_unset(settings, "evidex worker")
    built = _node(settings)
    node = built.identity  # first: a worker that cannot sign as its server does never starts
    engine, sessions, tz, vault = built.engine, built.sessions, built.law.party_timezones(), built.vault
    audit_key = built.audit_key  # audit/heads.py
    if not once:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        node_worker = built.worker(lambda: _now(now), interval, installed())
        signal.signal(signal.SIGTERM, lambda *_: node_worker.stop_soon())
        typer.echo(f"worker for node {settings.node_party}: deadlines every {interval:g} s"
                   + (", outbox and evidence packages every 2 s" if node is not None else
                      " (no node identity: no outbox delivery)"))
        with contextlib.suppress(KeyboardInterrupt):
            node_worker.run()
        engine.dispose()
        return
    r = run_once(sessions, _now(now), tz, faults=installed())
    typer.echo(f"deadlines: {r.reminders} reminder(s), {r.overdue} overdue, {r.next_steps} next step(s)")
    sweep_short_lived(sessions, _now(now))  # idempotency answers after 24 h, old login rate-limit windows
    kept = retention_pass(sessions, vault, _now(now))
    typer.echo(f"retention: {kept.warned} review warning(s), {kept.disposed} disposed")
    records_pass(sessions, _now(now), audit_key=audit_key, party=settings.node_party, sign_every=None)
    typer.echo(f"uploads: {sweep_uploads(sessions, vault, _now(now))} abandoned upload(s) erased")
    if node is not None:
        d = outbox_pass(sessions, node, _now(now), installed())
        typer.echo(f"outbox: {d.delivered} delivered, {d.retried} retrying, {d.dead} dead")
        typer.echo(f"spool: {spool_pass(sessions, built.spool, _now(now))} orphan file(s) removed")
    engine.dispose()


def demo(
    federation: Annotated[bool, typer.Option("--federation", help="Two nodes (RS, ME) on loopback exchanging requests.")] = False,
) -> None:
    """Load demo users of every role and requests in every state (running it twice changes nothing)."""
    if federation:
        from evidex.demo.federation import run

        raise typer.Exit(run(typer.echo))
    from evidex.demo.data import DEMO_PASSWORD, load_demo

    settings = _settings()
    built = _node(settings)
    engine = built.engine
    now = dt.datetime.now(dt.UTC)
    with built.sessions() as db:
        created, logins = load_demo(db, law=built.law, party=settings.node_party, now=now)
    node = built.identity
    try:
        if node is None:
            typer.echo("no node identity (EVIDEX_NODE_KEY_PASSPHRASE and `evidex node init`): the demo of an arrived "
                       "evidence package is left out")
        else:
            from evidex.demo import evidence as evidence_demo

            created |= evidence_demo.load(node=built, now=now, echo=typer.echo)
    finally:
        engine.dispose()
    typer.echo("demo data loaded" if created else "demo data already present; nothing changed")
    typer.echo(f"Demo logins for node {settings.node_party} (password for all: {DEMO_PASSWORD}; second factor: TOTP, "
               "add the secret to an authenticator app, or print a code with `evidex users totp USERNAME`):")
    from evidex.core.secretbox import totp_box

    box = totp_box(settings)  # secrets are sealed at rest once used: shown here in clear, as demo logins
    for login in logins:
        secret = box.open(login.totp_secret) if login.totp_secret else None
        typer.echo(f"  {login.username:<34} {login.role:<24} TOTP secret {secret}")


class RoleChoice(StrEnum):
    competent_authority = "competent_authority"
    central_authority = "central_authority"
    contact_24_7 = "contact_24_7"
    service_provider = "service_provider"
    notified_authority = "notified_authority"
    data_protection_officer = "data_protection_officer"
    administrator = "administrator"


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[RoleChoice, typer.Option(help="The user's role.")],
    display_name: Annotated[str | None, typer.Option(help="Full name.")] = None,
    provider: Annotated[str | None, typer.Option(help="Service provider organisation (role service_provider).")] = None,
    system: Annotated[bool, typer.Option("--system", help="An integrating system: API token, no password.")] = False,
) -> None:
    """Create a user of this node's Party; people choose a password and get a TOTP secret."""
    from evidex.core.secretbox import totp_box
    from evidex.parties.service import add_user_as_operator

    settings = _settings()
    password = None
    if not system:
        password = typer.prompt("Password (12 characters or more)", hide_input=True, confirmation_prompt=True)
    now = dt.datetime.now(dt.UTC)
    with _node(settings) as node, node.sessions() as db:
        new = add_user_as_operator(db, party=settings.node_party, username=username,
                                   display_name=display_name or username, role=Role(role.value), now=now,
                                   totp_box=totp_box(settings), password=password, provider=provider,
                                   is_system=system, token_expires_at=now + dt.timedelta(days=settings.api_token_days))
    typer.echo(f"created {username} ({role.value}, {settings.node_party})")
    if new.api_token:
        typer.echo(f"API token (shown once; expires in {settings.api_token_days} days): {new.api_token}")
    elif new.totp_secret:
        typer.echo(f"TOTP secret (shown once; add it to an authenticator app): {new.totp_secret}")


@users_app.command("totp")
def users_totp(username: str) -> None:
    """Print the current TOTP code of a user (administrators, demos and drills)."""
    import pyotp
    import sqlalchemy as sa

    from evidex.core.secretbox import totp_box
    from evidex.parties.models import User

    settings = _settings()
    with _node(settings) as node, node.sessions() as db:
        sealed = db.execute(sa.select(User.totp_secret).where(User.username == username)).scalar_one_or_none()
    secret = totp_box(settings).open(sealed) if sealed else None
    if not secret:
        raise fail(f"no user {username!r} with a second factor")
    typer.echo(pyotp.TOTP(secret).now())


class Fmt(StrEnum):
    text = "text"
    json = "json"


@requests_app.command("list")
def requests_list(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    request_type: Annotated[str | None, typer.Option("--type", help="Only this request type.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.text,
) -> None:
    """List this node's requests (summaries: no personal data)."""
    from evidex.cases import service

    settings = _settings()
    operator = Principal(user_id=None, username="cli", party=settings.node_party, role=Role.central_authority)
    with _node(settings) as node, node.sessions() as db:
        listed, total = service.list_requests(db, actor=operator, status=status, request_type=request_type,
                                              limit=limit)
        rows = [x.request for x in listed]
    if fmt is Fmt.json:
        typer.echo(json.dumps({"total": total, "items": [
            {"id": str(r.id), "type": r.request_type, "direction": r.direction, "status": r.status,
             "requesting_party": r.requesting_party, "requested_party": r.requested_party,
             "admissible": r.admissible, "updated_at": r.updated_at.isoformat()} for r in rows]}, indent=2))
        return
    for r in rows:
        typer.echo(f"{r.id}  {r.direction:<8} {r.request_type:<28} {r.requesting_party}→{r.requested_party}  {r.status}")
    typer.echo(f"{len(rows)} of {total} request(s)")


assert set(RoleChoice) == {r.value for r in PEOPLE_ROLES}


evidence_app = typer.Typer(help="Evidence held by this node.", no_args_is_help=True)


@evidence_app.command("rewrap")
def rewrap() -> None:
    """Key rotation: re-wrap every evidence data key, and every data key of a payload received from
    another node (inbox and spool), with the key derived from EVIDEX_SECRET_KEY; received payloads still
    stored in clear are sealed. Set the old secret in EVIDEX_PREVIOUS_SECRET_KEYS (JSON list) for this
    run; data is not re-encrypted."""
    from evidex.evidence.service import rewrap_all
    from evidex.exchange.sealed import rewrap_received

    settings = _settings()
    now = dt.datetime.now(dt.UTC)
    with _node(settings) as node, node.sessions() as db:
        report = rewrap_all(db, vault=node.vault_signed_by(None), now=now)  # records no custody event
        received = rewrap_received(db, spool=node.spool, party=settings.node_party, now=now)
    typer.echo(f"{report.rewrapped} data key(s) re-wrapped under the current key")
    typer.echo(f"received payloads: {received.rewrapped} data key(s) re-wrapped, {received.sealed} stored in clear "
               "now sealed")
    if report.unknown_keys or received.unknown_keys:
        raise fail("left as they were, under keys this node does not hold: " + ", ".join(
            [f"{n} file(s) under {k}" for k, n in report.unknown_keys.items()]
            + [f"{n} received payload(s) under {k}" for k, n in received.unknown_keys.items()])
            + " (put the secret they came from in EVIDEX_PREVIOUS_SECRET_KEYS and run again)")
    if received.damaged:
        raise fail(f"{len(received.damaged)} received payload(s) cannot be read: " + "; ".join(received.damaged[:5]))


@evidence_app.command("export-case")
def export_case(
    request_id: Annotated[str, typer.Argument(help="The request whose evidence to export.")],
    out: Annotated[str, typer.Option("--out", help="Where to write the CASE/UCO JSON-LD.")],
) -> None:
    """Export a request's evidence as CASE/UCO JSON-LD (files, hashes, provenance, custody actions)."""
    import os
    from pathlib import Path

    from evidex.cli.common import parse_id
    from evidex.evidence.case_export import export_case

    rid = parse_id(request_id, "a request")
    settings = _settings()
    node = _node(settings)
    target = Path(out)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")

    def write(document: dict[str, Any]) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=2, ensure_ascii=False)

    try:
        with node.sessions() as db:
            doc, n = export_case(db, actor=Principal.system(settings.node_party), vault=node.vault, request_id=rid,
                                 target=str(target.resolve()), now=dt.datetime.now(dt.UTC), write=write)
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise fail(f"cannot write {out}: {e.strerror or e}") from e
    finally:
        node.dispose()
    typer.echo(f"wrote {out}: {len(doc['@graph'])} CASE/UCO objects; {n} file(s) recorded as exported")


# `evidex users unlock|deactivate|reactivate|reset-second-factor` (cli/users_cmd.py) join the group.
users_cmd.register(users_app)
