"""Typed errors mapped once to problem responses; never a stack trace, never a 200 on failure."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from evidex.core.crypto import IntegrityError as EvidenceDamaged
from evidex.core.errors import (
    Conflict,
    EvidexError,
    Forbidden,
    Invalid,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unavailable,
)
from evidex.core.migrate import NotMigrated
from evidex.parties.service import AuthError, SecondFactorEnrolmentDue
from evidex.requests.lifecycle import TransitionNotAllowed

log = logging.getLogger("evidex.api")


PROBLEM_TYPE = "urn:evidex:problem:"  # + code: a stable identifier of the problem type (RFC 9457 §3.1.1)


class ProblemResponse(JSONResponse):
    media_type = "application/problem+json"


def problem(status: int, code: str, detail: str, **extra: object) -> JSONResponse:
    """An RFC 9457 problem document; `code` (ours, kept for clients) names the problem type, and
    `errors` lists field errors as {field, message, type}."""
    body = {"type": PROBLEM_TYPE + code, "title": _title(status), "status": status, "detail": detail, "code": code,
            **{k: v for k, v in extra.items() if v is not None}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return ProblemResponse(status_code=status, content=body, headers=headers)


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


MAX_MESSAGE = 200  # a field error's message is cut here: it must never carry the input back


def field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic/FastAPI errors as {field, message, type}: the dotted path within the body (query.x,
    path.x, header.x outside it), never the input nor its context."""
    out = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ())]
        if loc[:1] == ["body"]:
            loc = loc[1:]
        if e.get("type") == "json_invalid":  # the position is not a field
            loc = []
        message = str(e.get("msg", "invalid"))
        if e.get("type") == "json_invalid" and isinstance(e.get("ctx"), dict):
            message = f"{message}: {e['ctx'].get('error', '')}"
        out.append({"field": ".".join(loc) or "body", "message": message[:MAX_MESSAGE],
                    "type": str(e.get("type", "invalid"))})
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _fields(_: Request, e: RequestValidationError) -> JSONResponse:
        errors = field_errors(e.errors())
        names = ", ".join(dict.fromkeys(err["field"] for err in errors))
        return problem(422, "invalid_input", f"invalid input: {names}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, e: StarletteHTTPException) -> JSONResponse:
        response = problem(e.status_code, _title(e.status_code).lower().replace(" ", "_"), str(e.detail))
        for name, value in (e.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(AuthError)
    async def _auth(_: Request, e: AuthError) -> JSONResponse:
        if isinstance(e, SecondFactorEnrolmentDue):
            return problem(401, "second_factor_enrolment_due", str(e))
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
        if isinstance(e, Unavailable):  # e.g. the fonts of the official documents are missing: the node's, not the input's
            return problem(503, "unavailable", str(e))
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
