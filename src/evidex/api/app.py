"""create_app(settings): the API, built explicitly (no globals at import)."""

from __future__ import annotations

import dataclasses
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
from evidex.api.routes import auth, cases, evidence, federation, misc, requests, tokens
from evidex.api.schemas import Problem
from evidex.audit import heads
from evidex.core.db import make_engine, make_sessionmaker
from evidex.core.faults import Faults, installed
from evidex.core.memory import retain_freed_memory
from evidex.core.migrate import current_revision, require_migrated
from evidex.core.secretbox import totp_box
from evidex.core.settings import Settings
from evidex.evidence.service import build_vault
from evidex.evidence.throttle import PeerBuckets
from evidex.exchange import flows, keys
from evidex.exchange.keys import NodeIdentity
from evidex.exchange.spool import Spool
from evidex.parties import service as users
from evidex.requests.service import Domain
from evidex.rules import load_parties
from evidex.workers.deadlines import DeadlineWatcher

API_PREFIX = "/api/v1"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_app(settings: Settings, *, engine: Engine | None = None, domain: Domain | None = None,
               clock: Callable[[], dt.datetime] = utcnow, worker_interval: float | None = None,
               node: NodeIdentity | None = None, faults: Faults | None = None) -> FastAPI:
    """Build the API. Refuses to start on a database that is not migrated (NotMigrated)."""
    if engine is None:
        # PostgreSQL: a connection for each request thread, and some for the workers beside them.
        pool = {"pool_size": 2 * settings.api_threads + 4, "max_overflow": 8} \
            if settings.database_url.startswith("postgres") else {}
        engine = make_engine(settings.database_url, pool_pre_ping=True, **pool)
    require_migrated(engine)
    faults = faults or installed()  # a no-op outside tests (core/faults.py)
    if domain is None:
        domain = Domain(parties=load_parties(settings.parties_file)) if settings.parties_file else Domain()
    if node is None:  # an identity on disk that cannot be opened stops the start (never unsigned records)
        node = keys.load_configured(settings)
    if node is not None:
        domain = dataclasses.replace(domain, announce=flows.announcer(node))
    sessions = make_sessionmaker(engine)
    vault = build_vault(settings, node, domain.retention_days())
    spool = Spool.of_node(settings)  # received payloads sealed at rest; per-peer quota
    watcher = (DeadlineWatcher(sessions, clock, domain.party_timezones(), worker_interval, node=node, vault=vault,
                               spool=spool, faults=faults, party=settings.node_party,
                               audit_key=heads.signing_key(node, settings.secret_key.get_secret_value()),
                               audit_sign_every=dt.timedelta(minutes=settings.audit_sign_minutes))
               if worker_interval else None)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        if watcher is not None:
            watcher.start()  # the deadline worker runs in this process unless started separately
        yield
        if watcher is not None:
            watcher.stop()

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
    app.state.engine = engine
    app.state.sessionmaker = sessions
    app.state.domain = domain
    app.state.clock = clock
    app.state.schema_revision = current_revision(engine) or ""
    app.state.node = node
    app.state.vault = vault
    app.state.watcher = watcher  # started by the lifespan; `evidex serve --workers N` runs it in the parent instead
    app.state.spool = spool
    app.state.totp_box = totp_box(settings)  # TOTP secrets sealed under a key derived from the node secret
    users.warm_up(settings.password_hash_profile)  # the dummy password hash, made once: unknown users cost what known ones do
    app.state.faults = faults
    app.state.package_throttle = PeerBuckets(settings.package_chunk_rate, settings.package_chunk_burst)
    app.state.applier = flows.applier(node, domain, vault) if node is not None else None
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
    for router in (auth.router, cases.router, requests.router, evidence.router, misc.router, tokens.router):
        app.include_router(router, prefix=API_PREFIX, responses=common)
    return app


def create_worker_app() -> FastAPI:
    """The app of one of several API worker processes (`evidex serve --workers N`): settings from the
    environment the parent validated; no deadline/outbox worker here (the parent runs the one)."""
    retain_freed_memory()
    return create_app(Settings())
