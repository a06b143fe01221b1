"""Evidence: resumable chunked upload, sealing against the declared hash, verified reading, custody."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import StreamingResponse

from evidex.api.deps import CurrentPrincipal, LawDep, NowDep, SessionDep, Uploader
from evidex.api.disposition import content_disposition
from evidex.api.schemas import (
    Custody,
    CustodyEventRead,
    DisposeIn,
    EvidenceRead,
    EvidenceStart,
    OnwardAuthorisationIn,
    OnwardAuthorisationRead,
    OnwardTransferIn,
    PackageFileRead,
    PackageIn,
    PackageRead,
    RequestCustody,
    RetentionIn,
    TimelineEvent,
)
from evidex.core.errors import Invalid
from evidex.evidence import packages
from evidex.evidence import service as evidence
from evidex.privacy import service as privacy

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
          principal: Uploader) -> EvidenceRead:
    """Announce a file: its name, size and SHA-256. Then PUT its chunks in order, then complete."""
    ev = evidence.start_upload(db, actor=principal, vault=_vault(request), request_id=request_id, name=body.name,
                               media_type=body.media_type, size=body.size, sha256=body.sha256, now=now)
    return _read(db, ev)


@router.get("/evidence/{evidence_id}", response_model=EvidenceRead, responses=NOT_FOUND)
def read(evidence_id: uuid.UUID, db: SessionDep, principal: Uploader) -> EvidenceRead:
    """State of a file; `chunks_received` is the next chunk to send when resuming."""
    return _read(db, evidence.get(db, actor=principal, evidence_id=evidence_id))


@router.put("/evidence/{evidence_id}/chunks/{index}", response_model=EvidenceRead, responses=NOT_FOUND,
            openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}}})
async def put_chunk(evidence_id: uuid.UUID, index: Annotated[int, Path(ge=0, le=10_000_000)], request: Request,
                    db: SessionDep, now: NowDep, principal: Uploader) -> EvidenceRead:
    """One chunk (1 MiB, the last may be shorter), streamed; a dropped connection loses only this chunk."""
    data = bytearray()
    async for part in request.stream():
        data += part
        if len(data) > (1 << 20):
            raise Invalid("a chunk holds at most 1 MiB")
    ev = evidence.put_chunk(db, actor=principal, vault=_vault(request), evidence_id=evidence_id, index=index,
                            data=bytes(data), now=now)
    return _read(db, ev)


@router.post("/evidence/{evidence_id}/complete", response_model=EvidenceRead, responses=NOT_FOUND)
def complete(evidence_id: uuid.UUID, request: Request, db: SessionDep, now: NowDep,
             principal: Uploader) -> EvidenceRead:
    """Seal: the hash of what was stored must equal the declared one, or the file is rejected (422)."""
    ev = evidence.complete(db, actor=principal, vault=_vault(request), evidence_id=evidence_id, now=now)
    return _read(db, ev)


@router.get("/evidence/{evidence_id}/content", responses={**NOT_FOUND, 200: {"content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
def content(evidence_id: uuid.UUID, request: Request, db: SessionDep, now: NowDep,
            principal: CurrentPrincipal) -> StreamingResponse:
    """The file, verified against its hash before a byte is sent (409 names the damaged chunk), under
    its original name (`Content-Disposition` per RFC 6266 and RFC 8187, the name made safe)."""
    ev, stream = evidence.open_content(db, actor=principal, vault=_vault(request), evidence_id=evidence_id, now=now)
    conditions = evidence.binding_conditions(db, ev.request_id)
    return StreamingResponse(stream, media_type="application/octet-stream",
                             headers={"X-Evidex-SHA256": ev.sha256 or "",
                                      # JSON with \u escapes: header values are ASCII
                                      "X-Evidex-Conditions": json.dumps(conditions),
                                      "Content-Disposition": content_disposition(ev.name, fallback=str(ev.id))})


@router.get("/evidence/{evidence_id}/custody", response_model=Custody, responses=NOT_FOUND)
def custody(evidence_id: uuid.UUID, request: Request, db: SessionDep, principal: CurrentPrincipal) -> Custody:
    """The chain of custody, checked link by link."""
    report = evidence.custody_chain(db, actor=principal, evidence_id=evidence_id, signer=_vault(request).signer)
    return Custody(intact=not report.problems, problems=report.problems,
                   events=[CustodyEventRead.model_validate(r) for r in report.events])


@router.get("/requests/{request_id}/custody", response_model=RequestCustody, responses=NOT_FOUND)
def request_custody(request_id: uuid.UUID, request: Request, db: SessionDep,
                    principal: CurrentPrincipal) -> RequestCustody:
    """The chain of custody of every file of the request as one timeline, each chain checked."""
    report = evidence.request_custody(db, actor=principal, request_id=request_id, signer=_vault(request).signer)
    return RequestCustody(intact=not report.problems, problems=report.problems,
                          events=[TimelineEvent.model_validate({**CustodyEventRead.model_validate(r).model_dump(),
                                                               "evidence_id": r.evidence_id,
                                                               "file_name": report.names[r.evidence_id]})
                                  for r in report.events])


@router.post("/evidence/{evidence_id}/dispose", response_model=EvidenceRead, responses=NOT_FOUND)
def dispose(evidence_id: uuid.UUID, body: DisposeIn, request: Request, db: SessionDep, now: NowDep,
            principal: CurrentPrincipal) -> EvidenceRead:
    """Dispose of a file (CETS224 Art 14(5)): cryptographic erasure; the manifest and custody chain remain."""
    ev = evidence.dispose(db, actor=principal, vault=_vault(request), evidence_id=evidence_id, reason=body.reason,
                          now=now)
    return _read(db, ev)


@router.post("/evidence/{evidence_id}/retention", response_model=EvidenceRead, responses=NOT_FOUND)
def extend_retention(evidence_id: uuid.UUID, body: RetentionIn, db: SessionDep, now: NowDep,
                     principal: CurrentPrincipal) -> EvidenceRead:
    """Periodic review (CETS224 Art 14(5)): keep a file longer, with the reason it is still needed."""
    ev = privacy.extend_retention(db, actor=principal, evidence_id=evidence_id, until=body.retain_until,
                                   reason=body.reason, now=now)
    return _read(db, ev)


# --------------------------------------------------------------------------- packages between nodes
def _package(db: SessionDep, pkg: Any) -> PackageRead:
    return PackageRead(id=pkg.id, direction=pkg.direction, peer=pkg.peer, request_id=pkg.request_id,
                       status=pkg.status, manifest_sha256=pkg.manifest_sha256, signature=pkg.signature,
                       conditions=list(pkg.manifest.get("conditions") or []), problems=list(pkg.problems or []),
                       files=[PackageFileRead.model_validate(f) for f in packages.files_of(db, pkg)],
                       receipts=[{"issuer": r.issuer, "positive": r.positive, "at": r.at.isoformat(),
                                  "token": r.token} for r in packages.receipts_of(db, pkg)],
                       last_error=pkg.last_error, created_at=pkg.created_at, settled_at=pkg.settled_at)


@router.post("/requests/{request_id}/evidence-packages", status_code=status.HTTP_201_CREATED,
             response_model=PackageRead, responses=NOT_FOUND)
def send_package(request_id: uuid.UUID, body: PackageIn, request: Request, db: SessionDep, now: NowDep,
                 principal: CurrentPrincipal, law: LawDep) -> PackageRead:
    """Send sealed files of a received request to the requesting Party's node: a manifest signed by
    this node goes first, the files follow in verified chunks; the other node answers with a signed receipt.
    409 in a state whose data may not go yet or any more (lifecycle data_sending), saying why."""
    pkg = packages.create(db, actor=principal, vault=_vault(request), node=request.app.state.node, request_id=request_id,
                          evidence_ids=body.evidence_ids, now=now, lifecycle=law.lifecycle)
    return _package(db, pkg)


@router.get("/requests/{request_id}/evidence-packages", response_model=list[PackageRead], responses=NOT_FOUND)
def list_packages(request_id: uuid.UUID, db: SessionDep, principal: CurrentPrincipal) -> list[PackageRead]:
    """Packages sent or received for the request, with their progress and receipts."""
    return [_package(db, p) for p in packages.for_request(db, actor=principal, request_id=request_id)]


@router.get("/evidence-packages/{package_id}", response_model=PackageRead, responses=NOT_FOUND)
def read_package(package_id: uuid.UUID, db: SessionDep, principal: CurrentPrincipal) -> PackageRead:
    return _package(db, packages.get(db, actor=principal, package_id=package_id))


# --------------------------------------------------------------------------- onward transfer
@router.post("/requests/{request_id}/onward-authorisations", status_code=status.HTTP_201_CREATED,
             response_model=OnwardAuthorisationRead, responses=NOT_FOUND)
def record_authorisation(request_id: uuid.UUID, body: OnwardAuthorisationIn, db: SessionDep, now: NowDep,
                         principal: CurrentPrincipal) -> OnwardAuthorisationRead:
    """Record the requested Party's authorisation to pass the data it supplied on to a third State or
    international organisation (CETS224 Art 14(10))."""
    row = privacy.record_onward_authorisation(db, actor=principal, request_id=request_id, recipient=body.recipient,
                                               purpose=body.purpose, reference=body.reference, now=now)
    return OnwardAuthorisationRead.model_validate(row)


@router.get("/requests/{request_id}/onward-authorisations", response_model=list[OnwardAuthorisationRead],
            responses=NOT_FOUND)
def list_authorisations(request_id: uuid.UUID, db: SessionDep,
                        principal: CurrentPrincipal) -> list[OnwardAuthorisationRead]:
    return [OnwardAuthorisationRead.model_validate(r)
            for r in privacy.onward_authorisations(db, actor=principal, request_id=request_id)]


@router.post("/evidence/{evidence_id}/onward-transfers", responses={**NOT_FOUND, 200: {"content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
def onward_transfer(evidence_id: uuid.UUID, body: OnwardTransferIn, request: Request, db: SessionDep, now: NowDep,
                    principal: CurrentPrincipal) -> StreamingResponse:
    """A verified copy for a third State or organisation; refused (403) without the supplying Party's
    recorded authorisation (CETS224 Art 14(10)). The copy is a custody event ('copied')."""
    ev, auth, stream = privacy.onward_transfer(db, actor=principal, vault=_vault(request), evidence_id=evidence_id,
                                                recipient=body.recipient, purpose=body.purpose, now=now)
    conditions = evidence.binding_conditions(db, ev.request_id)
    return StreamingResponse(stream, media_type="application/octet-stream",
                             headers={"X-Evidex-SHA256": ev.sha256 or "",
                                      "X-Evidex-Conditions": json.dumps(conditions),
                                      "X-Evidex-Authorisation": json.dumps(auth.reference if auth else None),
                                      "Content-Disposition": content_disposition(ev.name, fallback=str(ev.id))})
