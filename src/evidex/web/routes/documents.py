"""A request's official document (PDF), as GET /api/v1/requests/{id}/document.pdf: the same service, the
same scoping (another Party's request: not found) and the same audited read; chosen on the request page.
Likewise the letters of its lifecycle (GET /api/v1/requests/{id}/letters/{event_id}.pdf), linked from its
timeline."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from starlette.responses import Response

from evidex.api.deps import LawDep, NowDep, SessionDep
from evidex.api.disposition import content_disposition
from evidex.documents import service as documents
from evidex.web.page import ALL_PEOPLE, SignedIn, require_role

router = APIRouter(include_in_schema=False)


@router.get("/requests/{request_id:uuid}/document.pdf")
def official_document(request_id: uuid.UUID, request: Request, viewer: SignedIn, db: SessionDep, now: NowDep,
                      law: LawDep,
                      lang: str = "", translation_lang: str = "") -> Response:
    # The form's "language the other side accepts" is an empty choice: the service's default.
    actor = require_role(viewer, *ALL_PEOPLE)
    doc = documents.official_document(db, actor=actor, law=law, request_id=request_id, now=now, lang=lang or None,
                                      translation_lang=translation_lang or None, identity=request.app.state.node)
    return Response(doc.pdf, media_type="application/pdf", headers={
        "Content-Disposition": content_disposition(doc.filename, fallback=f"request-{request_id}.pdf"),
        "Content-Language": ", ".join(x for x in (doc.lang, doc.translation_lang) if x)})


@router.get("/requests/{request_id:uuid}/letters/{event_id:int}.pdf")
def official_letter(request_id: uuid.UUID, event_id: int, request: Request, viewer: SignedIn, db: SessionDep,
                    now: NowDep, law: LawDep, lang: str = "", translation_lang: str = "") -> Response:
    """The letter an event of the request's timeline gives (GET /api/v1/requests/{id}/letters/{event_id}.pdf)."""
    actor = require_role(viewer, *ALL_PEOPLE)
    doc = documents.official_letter(db, actor=actor, law=law, request_id=request_id, event_id=event_id, now=now,
                                    lang=lang or None, translation_lang=translation_lang or None,
                                    identity=request.app.state.node)
    return Response(doc.pdf, media_type="application/pdf", headers={
        "Content-Disposition": content_disposition(doc.filename, fallback=f"letter-{request_id}-{event_id}.pdf"),
        "Content-Language": ", ".join(x for x in (doc.lang, doc.translation_lang) if x)})
