"""The node-to-node endpoint. No Bearer token: every message is authenticated by its signature
against the trust list, and answered with a signed receipt or a signed error."""

from __future__ import annotations

import binascii
import datetime as dt
import json
import math
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from evidex.api.deps import NowDep, SessionDep
from evidex.api.errors import problem
from evidex.core import crypto
from evidex.evidence import packages
from evidex.exchange import framing
from evidex.exchange import service as exchange
from evidex.exchange.envelope import MAX_ENVELOPE_BYTES
from evidex.exchange.keys import NodeIdentity

router = APIRouter(prefix="/federation/v1", tags=["federation"])


async def _node_and_body(request: Request) -> tuple[NodeIdentity, bytes] | Response:
    """This node's identity and the request body, or the answer refusing the request."""
    node: NodeIdentity | None = request.app.state.node
    if node is None:
        return PlainTextResponse("this node does not federate (no node identity)", status_code=404)
    too_large = PlainTextResponse("envelope too large", status_code=413)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ENVELOPE_BYTES:
        return too_large  # refused before reading it
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():  # read up to the limit, never further
        parts.append(part)
        size += len(part)
        if size > MAX_ENVELOPE_BYTES:
            return too_large
    return node, b"".join(parts)  # one copy (a growing buffer copies again and again)


@router.post("/messages", response_class=PlainTextResponse,
             responses={200: {"description": "Signed delivery receipt (JWS)", "content": {"text/plain": {}}},
                        400: {"description": "Signed error (JWS)"}, 403: {"description": "Signed error (JWS)"},
                        409: {"description": "Signed error (JWS)"}, 413: {"description": "Too large"},
                        503: {"description": "Cannot store now, nothing kept: send again later"},
                        404: {"description": "This node does not federate (no node identity)"}})
async def receive_message(request: Request, db: SessionDep, now: NowDep) -> Response:
    got = await _node_and_body(request)
    if isinstance(got, Response):
        return got
    node, body = got
    try:
        status, text = await run_in_threadpool(exchange.receive, db, node=node, envelope=body, now=now,
                                               apply=request.app.state.applier, spool=request.app.state.spool,
                                               faults=request.app.state.faults, source=_source(request))
    except exchange.StoreUnavailable as e:
        return _store_unavailable(e)
    return PlainTextResponse(text, status_code=status, media_type="application/jose" if status == 200 else "text/plain")


PACKAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "The package MAC does not verify"}, 404: {"description": "No such package is awaited"},
    429: {"description": "Too many chunks from this peer: send again after Retry-After seconds"},
    409: {"description": "Out of order (the chunk expected next is named) or already settled"},
    422: {"description": "The chunk failed verification"}}


def _rejected(e: packages.PackageRejected) -> JSONResponse:
    return problem(e.status, "package_rejected", str(e))


@router.get("/packages/{package_id}", responses=PACKAGE_RESPONSES)
def package_progress(package_id: uuid.UUID, request: Request, db: SessionDep) -> Response:
    """Which chunks of each file this node holds (the sending node resumes from there)."""
    try:
        return JSONResponse(packages.progress(db, package_id=package_id,
                                              given_mac=request.headers.get(packages.MAC_HEADER)))
    except packages.PackageRejected as e:
        return _rejected(e)


@router.put("/packages/{package_id}/files/{position}/chunks/{index}", responses=PACKAGE_RESPONSES,
            openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}}})
async def package_chunk(package_id: uuid.UUID, position: Annotated[int, Path(ge=0, le=packages.MAX_FILES)],
                        index: Annotated[int, Path(ge=0, le=100_000_000)], request: Request,
                        db: SessionDep) -> Response:
    """One chunk of a file of the package, sealed with the package key (verified before it is stored).
    A peer over its chunk rate (EVIDEX_PACKAGE_CHUNK_RATE) is answered 429 with Retry-After before
    its body is read; only chunks whose MAC verifies count against it."""
    try:
        peer = packages.chunk_sender(db, package_id=package_id, resource=f"files/{position}/chunks/{index}",
                                     given_mac=request.headers.get(packages.MAC_HEADER))
    except packages.PackageRejected as e:
        return _rejected(e)
    wait = request.app.state.package_throttle.take(peer)
    if wait:
        return JSONResponse({"detail": f"too many chunks from {peer}: send again in {math.ceil(wait)} s"},
                            status_code=429, headers={"Retry-After": str(math.ceil(wait))})
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > crypto.CHUNK_SIZE + crypto.TAG:
            return problem(413, "too_large", "a chunk holds at most 1 MiB")
    try:
        return JSONResponse(packages.receive_chunk(db, vault=request.app.state.vault, package_id=package_id,
                                                   position=position, index=index, blob=bytes(body),
                                                   given_mac=request.headers.get(packages.MAC_HEADER)))
    except packages.PackageRejected as e:
        return _rejected(e)


@router.post("/batch", responses={200: {"description": "One signed answer (receipt or error) per envelope, in order"},
                                  413: {"description": "Too large"}, 422: {"description": "Not a batch"},
                                  503: {"description": "Cannot store now, nothing kept: send again later"},
                                  404: {"description": "This node does not federate (no node identity)"}})
async def receive_batch(request: Request, db: SessionDep, now: NowDep) -> Response:
    """Several envelopes in one POST, received in one transaction: the binary framing of
    `application/vnd.evidex.batch` (what nodes send), or JSON `{"envelopes": [compact JWE, …],
    "attachments": {"<index>": "<base64>"}}`."""
    got = await _node_and_body(request)
    if isinstance(got, Response):
        return got
    node, body = got
    if request.headers.get("content-type", "").split(";")[0].strip() == framing.MEDIA_TYPE:
        try:  # the binary form the delivery worker sends (framing.py)
            items = framing.unpack_batch(body, exchange.MAX_BATCH)
        except ValueError as e:
            return PlainTextResponse(f"not an evidex batch: {e}", status_code=422)
        raw = [envelope for envelope, _ in items]
        views: dict[int, bytes | memoryview] = {i: a for i, (_, a) in enumerate(items) if a is not None}
        return await _receive(request, db, node, now, raw, views)
    try:
        parsed = json.loads(body)
        envelopes, attached = parsed["envelopes"], parsed.get("attachments") or {}
        if not isinstance(envelopes, list) or not 1 <= len(envelopes) <= exchange.MAX_BATCH or \
                not all(isinstance(e, str) for e in envelopes) or not isinstance(attached, dict):
            raise ValueError("envelopes")
        raw = [e.encode("ascii") for e in envelopes]
        attachments: dict[int, bytes | memoryview] = {int(k): binascii.a2b_base64(v)  # each AEAD-checked later
                                                      for k, v in attached.items()}
        if any(not 0 <= k < len(raw) for k in attachments):
            raise ValueError("attachment index")
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error):
        return PlainTextResponse(f'expected {{"envelopes": [1 to {exchange.MAX_BATCH} compact JWE strings], '
                                 '"attachments": {"<index>": "<base64>"}}', status_code=422)
    return await _receive(request, db, node, now, raw, attachments)


async def _receive(request: Request, db: Session, node: NodeIdentity, now: dt.datetime, raw: list[bytes],
                   attachments: dict[int, bytes | memoryview]) -> Response:
    # In a worker thread: while this batch is verified and stored (fsync), the event loop reads the next.
    try:
        results = await run_in_threadpool(exchange.receive_batch, db, node=node, envelopes=raw, now=now,
                                          apply=request.app.state.applier, attachments=attachments,
                                          spool=request.app.state.spool, faults=request.app.state.faults,
                                          source=_source(request))
    except exchange.StoreUnavailable as e:
        return _store_unavailable(e)
    return JSONResponse({"results": [{"status": s, "body": t} for s, t in results]})


def _source(request: Request) -> str:
    """The sender's network address, under which unauthenticated junk is counted."""
    return request.client.host if request.client is not None else "unknown"


def _store_unavailable(e: exchange.StoreUnavailable) -> Response:
    """Nothing was stored: the sender keeps the messages and tries again (its backoff)."""
    return PlainTextResponse(str(e), status_code=503, headers={"Retry-After": "60"})
