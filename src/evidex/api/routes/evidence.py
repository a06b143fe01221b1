"""Evidence: resumable chunked upload, sealing against the declared hash, verified reading, custody."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Path, Request, status
from fastapi.responses import StreamingResponse

from evidex.api.deps import CurrentPrincipal, NowDep, SessionDep
from evidex.api.schemas import Custody, CustodyEventRead, DisposeIn, EvidenceRead, EvidenceStart
from evidex.core.errors import Invalid
from evidex.evidence import service as evidence
from evidex.evidence.models import CustodyEvent

router = APIRouter(tags=["evidence"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such evidence here"}}


def _read(db: SessionDep, ev: Any) -> EvidenceRead:
    out = EvidenceRead.model_validate(ev)
    out.conditions = evidence.binding_conditions(db, ev.request_id)
    return out


def _vault(request: Request) -> evidence.Vault:
    vault: evidence.Vault = request.app.state.vault
    return vault


@router.post("/requests/{request_id}/evidence", status_code=status.HTTP_201_CREATED, response_model=EvidenceRead)
def start(request_id: uuid.UUID, body: EvidenceStart, request: Request, db: SessionDep, now: NowDep,
          principal: CurrentPrincipal) -> EvidenceRead:
    """Announce a file: its name, size and SHA-256. Then PUT its chunks in order, then complete."""
    ev = evidence.start_upload(db, actor=principal, vault=_vault(request), request_id=request_id, name=body.name,
                               media_type=body.media_type, size=body.size, sha256=body.sha256, now=now)
    out = _read(db, ev)
    db.commit()
    return out


@router.get("/evidence/{evidence_id}", response_model=EvidenceRead, responses=NOT_FOUND)
def read(evidence_id: uuid.UUID, db: SessionDep, principal: CurrentPrincipal) -> EvidenceRead:
    """State of a file; `chunks_received` is the next chunk to send when resuming."""
    return _read(db, evidence.get(db, actor=principal, evidence_id=evidence_id))


@router.put("/evidence/{evidence_id}/chunks/{index}", response_model=EvidenceRead, responses=NOT_FOUND,
            openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}}})
async def put_chunk(evidence_id: uuid.UUID, index: Annotated[int, Path(ge=0, le=10_000_000)], request: Request,
                    db: SessionDep, now: NowDep, principal: CurrentPrincipal) -> EvidenceRead:
    """One chunk (1 MiB, the last may be shorter), streamed; a dropped connection loses only this chunk."""
    data = bytearray()
    async for part in request.stream():
        data += part
        if len(data) > (1 << 20):
            raise Invalid("a chunk holds at most 1 MiB")
    ev = evidence.put_chunk(db, actor=principal, vault=_vault(request), evidence_id=evidence_id, index=index,
                            data=bytes(data), now=now)
    out = _read(db, ev)
    db.commit()
    return out


@router.post("/evidence/{evidence_id}/complete", response_model=EvidenceRead, responses=NOT_FOUND)
def complete(evidence_id: uuid.UUID, request: Request, db: SessionDep, now: NowDep,
             principal: CurrentPrincipal) -> EvidenceRead:
    """Seal: the hash of what was stored must equal the declared one, or the file is rejected (422)."""
    ev = evidence.complete(db, actor=principal, vault=_vault(request), evidence_id=evidence_id, now=now)
    out = _read(db, ev)
    db.commit()
    return out


@router.get("/evidence/{evidence_id}/content", responses={**NOT_FOUND, 200: {"content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
def content(evidence_id: uuid.UUID, request: Request, db: SessionDep, now: NowDep,
            principal: CurrentPrincipal) -> StreamingResponse:
    """The file, verified against its hash before a byte is sent (409 names the damaged chunk)."""
    ev, stream = evidence.open_content(db, actor=principal, vault=_vault(request), evidence_id=evidence_id, now=now)
    conditions = evidence.binding_conditions(db, ev.request_id)
    db.commit()
    return StreamingResponse(stream, media_type="application/octet-stream",
                             headers={"X-Evidex-SHA256": ev.sha256 or "",
                                      # JSON with \u escapes: header values are ASCII
                                      "X-Evidex-Conditions": json.dumps(conditions),
                                      "Content-Disposition": f'attachment; filename="{ev.id}"'})


@router.get("/evidence/{evidence_id}/custody", response_model=Custody, responses=NOT_FOUND)
def custody(evidence_id: uuid.UUID, request: Request, db: SessionDep, principal: CurrentPrincipal) -> Custody:
    """The chain of custody, checked link by link."""
    evidence.get(db, actor=principal, evidence_id=evidence_id)
    rows = db.execute(sa.select(CustodyEvent).where(CustodyEvent.evidence_id == evidence_id)
                      .order_by(CustodyEvent.seq)).scalars()
    problems = evidence.verify_custody(db, evidence_id, signer=_vault(request).signer)
    return Custody(intact=not problems, problems=problems, events=[CustodyEventRead.model_validate(r) for r in rows])


@router.post("/evidence/{evidence_id}/dispose", response_model=EvidenceRead, responses=NOT_FOUND)
def dispose(evidence_id: uuid.UUID, body: DisposeIn, request: Request, db: SessionDep, now: NowDep,
            principal: CurrentPrincipal) -> EvidenceRead:
    """Dispose of a file (CETS224 Art 14(5)): cryptographic erasure; the manifest and custody chain remain."""
    ev = evidence.dispose(db, actor=principal, vault=_vault(request), evidence_id=evidence_id, reason=body.reason,
                          now=now)
    out = _read(db, ev)
    db.commit()
    return out
