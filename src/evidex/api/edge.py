"""The node's edge: bounded request bodies read before a request slot is taken, and the security
headers of every answer. Plain ASGI middlewares (no BaseHTTPMiddleware task and memory streams).

A body is read here, outside AdmissionLimit, so a client trickling its body holds a connection but
never a request slot: 16 slow clients cannot stop `/health` or a signed-in GET. Each route has a
size limit, answered 413 from Content-Length before a byte is read, or as soon as a chunked body
crosses it; a body that has not arrived by its deadline is answered 408 and the connection closed.
The body is handed on in one message: the routes' `request.stream()` joins nothing more (no copy)."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evidex.api.errors import problem
from evidex.core.jsontext import unstorable_text

MIB = 1024 * 1024
# Bodies larger than this are read under a small pool of their own (LargeReads), so many large
# bodies arriving at once cannot hold more than LARGE_READS x their limit in memory.
LARGE_BODY = 2 * MIB
LARGE_READS = 4
# A file posted whole by the evidence page's plain form (a browser without its upload script, web/):
# small files only; a larger one goes through the resumable chunk API, 1 MiB at a time.
FORM_UPLOAD_BYTES = 16_000_000  # 16 MB, as the page says it
NUL_MARKERS = (b"\\u0000", b"\x00")
_SURROGATE_ESCAPES = (b"\\ud", b"\\uD")


@dataclass(frozen=True)
class RouteLimit:
    method: str
    path: re.Pattern[str]
    max_bytes: int


def route_limits() -> tuple[RouteLimit, ...]:
    """Routes whose bodies are not JSON of the API (the default limit covers those)."""
    from evidex.core.crypto import CHUNK_SIZE, TAG
    from evidex.documents.seal import MAX_PDF_BYTES
    from evidex.exchange.envelope import MAX_ENVELOPE_BYTES

    framing = 64 * 1024  # multipart or proxy framing a client may wrap around a chunk
    return (
        RouteLimit("PUT", re.compile(r"^/api/v1/evidence/[^/]+/chunks/[^/]+$"), CHUNK_SIZE + framing),
        RouteLimit("PUT", re.compile(r"^/federation/v1/packages/[^/]+/files/[^/]+/chunks/[^/]+$"),
                   CHUNK_SIZE + TAG + framing),
        RouteLimit("POST", re.compile(r"^/federation/v1/(batch|messages)$"), MAX_ENVELOPE_BYTES),
        RouteLimit("POST", re.compile(r"^/requests/[^/]+/evidence$"), FORM_UPLOAD_BYTES + framing),
        # an official document to verify: through the API, and on the public page's form (web/)
        RouteLimit("POST", re.compile(r"^/api/v1/verify$"), MAX_PDF_BYTES + framing),
        RouteLimit("POST", re.compile(r"^/verify$"), MAX_PDF_BYTES + framing),
    )


class BodyLimit:
    """Reads and bounds the request body before the rest of the app (and its request slot) sees it;
    refuses NUL characters, lone surrogates and invalid UTF-8 in JSON bodies (PostgreSQL text cannot
    hold NUL; a lone surrogate stored once breaks every later read of the row)."""

    def __init__(self, app: ASGIApp, *, default_max_bytes: int, timeout: float, min_rate: int,
                 limits: tuple[RouteLimit, ...] = ()) -> None:
        self.app, self.default_max_bytes, self.timeout, self.min_rate = app, default_max_bytes, timeout, min_rate
        self.limits = limits
        self._large: asyncio.Semaphore | None = None  # made in the serving event loop

    def max_bytes(self, method: str, path: str) -> int:
        for limit in self.limits:
            if limit.method == method and limit.path.match(path):
                return limit.max_bytes
        return self.default_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if b"%00" in scope["query_string"] or "\x00" in path or "%00" in path:
            await _refuse_nul(scope, receive, send)
            return
        declared: bytes | None = None
        chunked = json_body = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"content-type":
                json_body = b"json" in value
        if declared is None and not chunked:  # no body (GET, DELETE, …): nothing to read
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes(scope["method"], path)
        expected = int(declared) if declared is not None and declared.isdigit() else limit
        if expected > limit:
            await _send(scope, receive, send, _too_large(limit), close=True)  # from the headers: not a byte read
            return
        if expected <= LARGE_BODY:
            got = await self._read(receive, limit, expected)
        else:  # a large body (declared so, or chunked on a route that allows one): under the pool
            if self._large is None:
                self._large = asyncio.Semaphore(LARGE_READS)
            async with self._large:
                got = await self._read(receive, limit, expected)
        if isinstance(got, bytes):
            refusal = json_refusal(got) if json_body else None
            if refusal is None:
                message: Message = {"type": "http.request", "body": got, "more_body": False}
                await self.app(scope, _replay([message], receive), send)
                return
            got = refusal
        if isinstance(got, Response):
            await _send(scope, receive, send, got, close=got.status_code in (408, 413))
            return
        await self.app(scope, _replay([got], receive), send)  # the client went away: let the app see it

    async def _read(self, receive: Receive, limit: int, expected: int) -> bytes | Message | Response:
        """The whole body; or the message that ended it early (a disconnect); or the answer refusing it."""
        chunks: list[bytes] = []
        size = 0
        deadline = asyncio.get_running_loop().time() + self.timeout + expected / self.min_rate
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return message
                    part = message.get("body", b"")
                    size += len(part)
                    if size > limit:
                        return _too_large(limit)
                    chunks.append(part)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            return problem(408, "body_timeout", "the request body did not arrive in time")
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)  # one copy at most


def json_refusal(body: bytes) -> Response | None:
    """The 422 answer for a JSON body no field of evidex may hold, or None (the usual case: a few
    byte scans; a body is decoded here only when it holds non-ASCII bytes or a surrogate escape)."""
    if any(m in body for m in NUL_MARKERS):
        return problem(422, "invalid_input", "NUL characters are not allowed")
    if not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as e:
            return problem(422, "invalid_input", f"the body is not valid UTF-8 (byte {e.start})",
                           errors=[{"field": "body", "message": "invalid UTF-8", "type": "utf8_invalid"}])
    if any(m in body for m in _SURROGATE_ESCAPES):
        try:
            doc = json.loads(body)
        except ValueError:
            return None  # not JSON: the route's own validation names the error
        bad = unstorable_text(doc)
        if bad is not None:
            field = bad[0] or "body"
            return problem(422, "invalid_input", f"{field}: {bad[1]}",
                           errors=[{"field": field, "message": bad[1], "type": "string_unicode"}])
    return None


def _too_large(limit: int) -> Response:
    return problem(413, "too_large", f"the request body exceeds {limit} bytes")


async def _refuse_nul(scope: Scope, receive: Receive, send: Send) -> None:
    await _send(scope, receive, send, problem(422, "invalid_input", "NUL characters are not allowed"))


async def _send(scope: Scope, receive: Receive, send: Send, response: Response, *, close: bool = False) -> None:
    """Answer at the edge; `close` ends the connection afterwards (the rest of the body is never read)."""
    if close:
        response.headers["Connection"] = "close"
    await response(scope, receive, send)


def _replay(pending: list[Message], receive: Receive) -> Receive:
    """A receive() that gives the messages already read (the whole body, or the one that ended it),
    then the real one."""

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI and ReDoc from the node's own files (api/docs.py); both set inline styles, no inline script.
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'none'")
# The web application's pages (web/): the node's own scripts, styles and images only; forms post
# only to the node; no inline script or style anywhere.
WEB_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
           "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
MACHINE_PREFIXES = ("/api/", "/federation/", "/openapi.json")  # answered to programs: nothing may run there
HSTS = "max-age=31536000"


class SecurityHeaders:
    """Headers on every answer: no sniffing, no framing, no referrer, no caching (answers carry
    secrets, personal data and evidence), a strict CSP, and HSTS when the node is served over HTTPS."""

    def __init__(self, app: ASGIApp, *, https: bool, docs_prefixes: tuple[str, ...] = ("/docs", "/redoc")) -> None:
        self.app, self.docs_prefixes = app, docs_prefixes
        common = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                  (b"x-frame-options", b"DENY"), (b"cross-origin-resource-policy", b"same-origin")]
        if https:
            common.append((b"strict-transport-security", HSTS.encode()))
        self.api = [*common, (b"content-security-policy", API_CSP.encode())]
        self.docs = [*common, (b"content-security-policy", DOCS_CSP.encode())]
        self.web = [*common, (b"content-security-policy", WEB_CSP.encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        extra = (self.docs if path.startswith(self.docs_prefixes) else
                 self.api if path.startswith(MACHINE_PREFIXES) else self.web)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                headers.extend(extra)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
