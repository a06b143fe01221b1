"""Typed errors mapped once to problem responses; never a stack trace, never a 200 on failure."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evidex.core.errors import Conflict, EvidexError, Forbidden, Invalid, InvalidInput, NotFound, TooManyRequests
from evidex.core.migrate import NotMigrated
from evidex.evidence.crypto import IntegrityError as EvidenceDamaged
from evidex.parties.service import AuthError
from evidex.requests.lifecycle import TransitionNotAllowed

log = logging.getLogger("evidex.api")


def problem(status: int, code: str, detail: str, **extra: object) -> JSONResponse:
    body = {"detail": detail, "code": code, **{k: v for k, v in extra.items() if v is not None}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(status_code=status, content=body, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(AuthError)
    async def _auth(_: Request, e: AuthError) -> JSONResponse:
        return problem(401, "unauthenticated", str(e))

    @app.exception_handler(EvidexError)
    async def _domain(_: Request, e: EvidexError) -> JSONResponse:
        if isinstance(e, NotFound):
            return problem(404, "not_found", str(e))
        if isinstance(e, Forbidden):
            return problem(403, "forbidden", str(e))
        if isinstance(e, TransitionNotAllowed):
            return problem(409, "transition_not_allowed", str(e), allowed=e.allowed)
        if isinstance(e, Conflict):
            return problem(409, "conflict", str(e))
        if isinstance(e, Invalid):
            return problem(422, "invalid", str(e), problems=e.problems or None)
        if isinstance(e, InvalidInput):
            return problem(422, "invalid_input", str(e))
        if isinstance(e, EvidenceDamaged):
            return problem(409, "integrity", str(e))
        if isinstance(e, NotMigrated):
            return problem(503, "not_migrated", str(e))
        if isinstance(e, TooManyRequests):
            limited = problem(429, "too_many_requests", str(e))
            limited.headers["Retry-After"] = str(e.retry_after)
            return limited
        return problem(422, "error", str(e))

    @app.exception_handler(StaleDataError)
    async def _stale(_: Request, e: StaleDataError) -> JSONResponse:
        return problem(409, "conflict", "the object changed meanwhile; read it again")

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, e: IntegrityError) -> JSONResponse:
        return problem(409, "conflict", "the change conflicts with existing data")

    @app.exception_handler(DataError)
    async def _data(_: Request, e: DataError) -> JSONResponse:
        return problem(422, "invalid_input", "a value cannot be stored (invalid characters or out of range)")

    @app.exception_handler(OperationalError)
    async def _db_down(_: Request, e: OperationalError) -> JSONResponse:
        log.error("database error: %s", type(e).__name__)
        return problem(503, "unavailable", "the database is unavailable; try again")

    @app.exception_handler(PoolTimeout)
    async def _busy(_: Request, e: PoolTimeout) -> JSONResponse:
        log.error("no database connection free in time")
        response = problem(503, "busy", "the server is busy; try again shortly")
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, e: Exception) -> JSONResponse:  # last resort: logged, never shown
        log.exception("unexpected error")
        return problem(500, "internal_error", "internal error; it has been logged")


NUL_MARKERS = (b"\\u0000", b"\x00")


def install_input_guard(app: FastAPI) -> None:
    """NUL characters are never valid in evidex's JSON data (PostgreSQL text cannot hold them): refuse
    them at the boundary, in the query string or a JSON body, before any handler runs. Binary
    bodies (evidence chunks, federation batches) are not text and pass untouched."""
    app.add_middleware(InputGuard)


class InputGuard:
    """A plain ASGI middleware (not BaseHTTPMiddleware, which runs every request through an extra
    task and memory streams): only a JSON body is read here, then handed on as it came."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if b"%00" in scope.get("query_string", b"") or "\x00" in path or "%00" in path:
            await _refuse_nul(scope, receive, send)
            return
        content_type = next((v for k, v in scope.get("headers", []) if k == b"content-type"), b"")
        if scope.get("method") not in ("POST", "PUT", "PATCH") or b"json" not in content_type:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if any(m in body for m in NUL_MARKERS):
            await _refuse_nul(scope, receive, send)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)


async def _refuse_nul(scope: Scope, receive: Receive, send: Send) -> None:
    await problem(422, "invalid_input", "NUL characters are not allowed")(scope, receive, send)


def _replay(pending: list[Message], receive: Receive) -> Receive:
    """A receive() that gives the messages already read (the whole body, or the one that ended it),
    then the real one."""

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
