"""create_app(settings): the API, built explicitly (no globals at import)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from evidex import __version__
from evidex.api import docs, edge, errors
from evidex.api.admission import AdmissionLimit
from evidex.api.routes import audit_log, auth, cases, evidence, federation, misc, notifications, requests, tokens
from evidex.api.routes import users as user_admin
from evidex.api.routes import verify as document_verification
from evidex.api.schemas import Problem
from evidex.core.faults import Faults, installed
from evidex.core.migrate import current_revision, require_migrated
from evidex.core.secretbox import totp_box
from evidex.core.settings import Settings
from evidex.evidence import packages
from evidex.evidence.throttle import PeerBuckets
from evidex.exchange import flows
from evidex.exchange.keys import NodeIdentity
from evidex.node import FROM_SETTINGS, FromSettings, Node, build_node
from evidex.parties import service as users

API_PREFIX = "/api/v1"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_app(settings: Settings, *, node: Node | None = None, engine: Engine | None = None,
               identity: NodeIdentity | FromSettings | None = FROM_SETTINGS,
               clock: Callable[[], dt.datetime] = utcnow, worker_interval: float | None = None,
               faults: Faults | None = None) -> FastAPI:
    """Build the API of `node` (by default the node of `settings`, with `engine` and `identity` if
    given: node.py). Refuses to start on a database that is not migrated (NotMigrated), or with an
    identity on disk that cannot be opened (never unsigned records)."""
    if node is None:
        node = build_node(settings, engine=engine, identity=identity, threads=settings.api_threads)
    else:
        require_migrated(node.engine)
    faults = faults or installed()  # a no-op outside tests (core/faults.py)
    identity, law, vault, spool = node.identity, node.announcing_law, node.vault, node.spool
    worker = node.worker(clock, worker_interval, faults) if worker_interval else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        if worker is not None:
            worker.start()  # the deadline worker runs in this process unless started separately
        yield
        if worker is not None:
            worker.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="evidex",
        version=__version__,
        description="Cross-border co-operation on cybercrime and electronic evidence (ETS185, CETS224). "
                    "Every route except /health needs a Bearer token; another Party's objects answer 404.",
        openapi_url=None,  # /openapi.json, /docs and /redoc: api/docs.py (offline assets, signed in in production)
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = node.engine
    app.state.sessionmaker = node.sessions
    app.state.law = law
    app.state.clock = clock
    app.state.schema_revision = current_revision(node.engine) or ""
    app.state.node = identity
    app.state.vault = vault
    app.state.worker = worker  # started by the lifespan; `evidex serve --workers N` runs it in the parent instead
    app.state.spool = spool
    app.state.totp_box = totp_box(settings)  # TOTP secrets sealed under a key derived from the node secret
    users.warm_up(settings.password_hash_profile)  # the dummy password hash, made once: unknown users cost what known ones do
    app.state.faults = faults
    app.state.package_throttle = PeerBuckets(settings.package_chunk_rate, settings.package_chunk_burst)
    app.state.applier = (flows.applier(identity, law, packages.message_handler(identity, vault))
                         if identity is not None else None)
    errors.install(app)
    docs.install(app, settings)
    # Outermost last: security headers on every answer; then the body, read and bounded before a
    # request slot is taken (a slow client holds a connection, never a slot); then the slot, before
    # any dependency runs.
    app.add_middleware(AdmissionLimit, limit=settings.api_threads)
    app.add_middleware(edge.BodyLimit, default_max_bytes=settings.max_body_bytes,
                       timeout=settings.body_timeout_seconds, min_rate=settings.body_min_bytes_per_second,
                       limits=edge.route_limits())
    app.add_middleware(edge.SecurityHeaders, https=settings.https)
    common: dict[int | str, dict[str, Any]] = {
        401: {"model": Problem, "description": "Not authenticated"},
        403: {"model": Problem, "description": "The role may not do this"},
        404: {"model": Problem, "description": "Not found (another Party's objects are never visible)"},
        409: {"model": Problem, "description": "Not allowed now (allowed events listed) or changed meanwhile"},
        422: {"model": Problem, "description": "Invalid input: field errors (`errors`), or a rule the command breaks"},
        503: {"model": Problem, "description": "The database is unavailable"},
    }
    app.include_router(misc.health_router, prefix=API_PREFIX)
    app.include_router(federation.router)
    for router in (auth.router, cases.router, requests.router, evidence.router, misc.router, tokens.router,
                   notifications.router, audit_log.router, user_admin.router,
                   document_verification.router):
        app.include_router(router, prefix=API_PREFIX, responses=common)
    return app

