"""The node-to-node endpoint. No Bearer token: every message is authenticated by its signature
against the trust list, and answered with a signed receipt or a signed error."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from evidex.api.deps import NowDep, SessionDep
from evidex.exchange import service as exchange
from evidex.exchange.envelope import MAX_ENVELOPE_BYTES

router = APIRouter(prefix="/federation/v1", tags=["federation"])


@router.post("/messages", response_class=PlainTextResponse,
             responses={200: {"description": "Signed delivery receipt (JWS)", "content": {"text/plain": {}}},
                        400: {"description": "Signed error (JWS)"}, 403: {"description": "Signed error (JWS)"},
                        409: {"description": "Signed error (JWS)"}, 413: {"description": "Too large"},
                        404: {"description": "This node does not federate (no node identity)"}})
async def receive_message(request: Request, db: SessionDep, now: NowDep) -> Response:
    node = request.app.state.node
    if node is None:
        return PlainTextResponse("this node does not federate (no node identity)", status_code=404)
    body = await request.body()
    if len(body) > MAX_ENVELOPE_BYTES:
        return PlainTextResponse("envelope too large", status_code=413)
    status, text = exchange.receive(db, node=node, envelope=body, now=now, apply=request.app.state.applier)
    return PlainTextResponse(text, status_code=status, media_type="application/jose" if status == 200 else "text/plain")
