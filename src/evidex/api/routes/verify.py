"""POST /verify: check an official document (issue 15 item 4) against its seal and this node's trust list."""

from __future__ import annotations

import functools
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from evidex.api.deps import CurrentCredential, NowDep, SessionDep
from evidex.api.schemas import Problem, VerificationRead
from evidex.core.errors import InvalidInput
from evidex.documents import verification
from evidex.documents.seal import MAX_PDF_BYTES
from evidex.parties.roles import Principal
from evidex.parties.service import principal_of

router = APIRouter(tags=["documents"])

PDF_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}}}}}


async def verifier(cred: CurrentCredential) -> Principal:
    """Every role may verify, with a read-only API token too: a verification reads nothing the node
    holds and changes nothing but the audit log (documents/verification.py says why it is not scoped
    by Party)."""
    return principal_of(cred.user)


async def pdf_of(request: Request, limit: int = MAX_PDF_BYTES) -> bytes:
    """The PDF of a request: its body (application/pdf, or application/octet-stream), or the `file`
    field of a form (multipart/form-data). The edge has bounded the body already."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=4)
        except HTTPException as e:  # Starlette's 400 for a malformed form: the API answers input errors with 422
            raise InvalidInput(f"the form cannot be read: {e.detail}") from e
        chosen = form.get("file")
        if not isinstance(chosen, UploadFile):
            raise InvalidInput("send the PDF in the form field `file`")
        data = await chosen.read(limit + 1)
    elif kind in ("application/pdf", "application/octet-stream", ""):
        data = await request.body()
    else:
        raise InvalidInput(f"send the PDF as application/pdf, or in the field `file` of multipart/form-data, not {kind}")
    if not data:
        raise InvalidInput("the PDF is empty")
    if len(data) > limit:
        raise InvalidInput(f"the PDF is larger than {limit // 1_000_000} MB")
    return data


@router.post("/verify", response_model=VerificationRead, openapi_extra=PDF_BODY,
             responses={413: {"model": Problem, "description": "Larger than 16 MB"},
                        422: {"model": Problem, "description": "Not a PDF evidex can read (damaged, encrypted, empty)"}})
async def verify(request: Request, db: SessionDep, now: NowDep,
                 principal: Annotated[Principal, Depends(verifier)]) -> VerificationRead:
    """Verify an official document: its seal against this node's trust list (and the node's own key),
    the request it carries and each page against what was sealed. `valid`, `altered` (with what
    differs: a request field, or a page's line and the element it belongs to), `unknown_signer`
    (with the Party and authority the seal claims) or `not_sealed`. Recorded in the audit log."""
    pdf = await pdf_of(request)
    check = functools.partial(verification.verify_document, db, pdf=pdf, actor=principal, now=now,
                              node=request.app.state.node, channel="api",
                              client=request.client.host if request.client else None)
    result = await anyio.to_thread.run_sync(check)  # reading a PDF is CPU work: not on the event loop
    return VerificationRead.model_validate(result.as_json())
