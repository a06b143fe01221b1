from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, status
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from evidex.api.deps import CurrentPrincipal, LawDep, NowDep, SessionDep, require
from evidex.api.disposition import content_disposition
from evidex.api.idempotency import run_command
from evidex.api.schemas import (
    ConditionRead,
    DeadlineRead,
    DecisionRead,
    DocumentUpdate,
    EventRead,
    LetterRead,
    Page,
    ReceiptRead,
    RequestCreate,
    RequestListItem,
    RequestRead,
    RequestSummary,
    ReviewIn,
    TransitionIn,
)
from evidex.cases import service
from evidex.documents import service as documents
from evidex.exchange import service as exchange
from evidex.parties.roles import Principal, Role
from evidex.requests.models import Request as RequestRow
from evidex.rules.verdict import Verdict

router = APIRouter(prefix="/requests", tags=["requests"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such request here"}}
Writer = Annotated[Principal, Depends(require(Role.competent_authority, Role.central_authority, Role.contact_24_7))]


def _read(db: Session, req: RequestRow, principal: Principal, law: service.Law, now: dt.datetime) -> RequestRead:
    out = RequestRead.model_validate(req)
    out.allowed_events = service.allowed_events(db, req, actor=principal, law=law, now=now)
    return out


@router.get("", response_model=Page[RequestListItem])
def list_requests(
    db: SessionDep, principal: CurrentPrincipal,
    status_: Annotated[str | None, Query(alias="status", max_length=30)] = None,
    request_type: Annotated[str | None, Query(alias="type", max_length=40)] = None,
    direction: Annotated[Literal["outgoing", "incoming"] | None, Query()] = None,
    case_id: uuid.UUID | None = None,
    party: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$",
                                       description="The requesting or the requested Party (ISO 3166 code)")] = None,
    due_before: Annotated[dt.date | None, Query(description="The next open deadline falls before this day")] = None,
    search: Annotated[str | None, Query(max_length=120, description="Part of a reference, any case: the case's, "
                                        "the document's case_reference, the conversation id, or the request id")] = None,
    sort: Annotated[Literal["due", "-due", "urgency", "created", "-created"] | None,
                    Query(description="due date (earliest first; none last), urgency (urgent first, then due), "
                                      "created; `-` reverses. Default: last changed first")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[RequestListItem]:
    """A desk's list: each request with its case reference, Parties, state, urgency and next due deadline."""
    rows, total = service.list_requests(db, actor=principal, status=status_, request_type=request_type,
                                        direction=direction, case_id=case_id, party=party,
                                        due_before=due_before, search=search, sort=sort, limit=limit, offset=offset)
    return Page[RequestListItem](items=[RequestListItem(
        **RequestSummary.model_validate(x.request).model_dump(), case_reference=x.case_reference,
        next_due_on=x.next_due_on, next_due_name=x.next_due_name) for x in rows], total=total, limit=limit,
        offset=offset)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=RequestRead)
def create_request(body: RequestCreate, request: Request, db: SessionDep, now: NowDep, law: LawDep,
                   principal: Writer) -> JSONResponse:
    """Draft an outgoing request (or register an incoming one); the rules engine checks it at once."""
    return run_command(db, request, principal, body, now, 201, lambda: _read(db, service.create_request(
        db, actor=principal, law=law, case_id=body.case_id, document=body.document, now=now,
        direction=body.direction), principal, law, now))


@router.get("/{request_id}", response_model=RequestRead, responses=NOT_FOUND)
def get_request(request_id: uuid.UUID, db: SessionDep, now: NowDep, law: LawDep,
                principal: CurrentPrincipal) -> RequestRead:
    req = service.get_request(db, actor=principal, request_id=request_id, now=now, law=law)  # audited read
    return _read(db, req, principal, law, now)


@router.put("/{request_id}/document", response_model=RequestRead, responses=NOT_FOUND)
def update_document(request_id: uuid.UUID, body: DocumentUpdate, db: SessionDep, now: NowDep, law: LawDep,
                    principal: Writer) -> RequestRead:
    req = service.update_document(db, actor=principal, law=law, request_id=request_id,
                                  document=body.document, now=now)
    return _read(db, req, principal, law, now)


@router.post("/{request_id}/check", response_model=Verdict, responses=NOT_FOUND)
def check_request(request_id: uuid.UUID, request: Request, db: SessionDep, now: NowDep, law: LawDep,
                  principal: CurrentPrincipal) -> JSONResponse:
    """Run the rules engine now; returns the verdict (as `evidex check --format json`)."""
    return run_command(db, request, principal, None, now, 200, lambda: service.check_request(
        db, actor=principal, law=law, request_id=request_id, now=now).to_json_dict())


@router.post("/{request_id}/transitions", response_model=RequestRead,
             responses={**NOT_FOUND,
                        409: {"description": "Not allowed now; the allowed events are listed (e.g. send to a Party "
                                             "whose node evidex does not trust: send_outside instead)"},
                        422: {"description": "A guard refused what was given: no reasons, no ground, an "
                                             "inadmissible request, a means the route does not allow ..."}})
def transition(request_id: uuid.UUID, body: TransitionIn, request: Request, db: SessionDep, now: NowDep,
               law: LawDep, principal: CurrentPrincipal) -> JSONResponse:
    """Move the request through its lifecycle (see GET /lifecycle for the table).

    Sending: `send` delivers the request through evidex to the requested Party's node, when this node
    trusts one at that moment. When it does not (no node, or its node removed from the trust list),
    evidex cannot deliver: `send` is refused (409) and `send_outside` records that you sent the official
    document yourself, by `means` (one the route allows: the verdict's `route.outside_evidex`) with an
    optional `dispatch_reference`; nothing goes to the outbox. `send_outside` to a Party whose node evidex
    trusts is refused (409): evidex delivers it. `allowed_events` of the request lists the one that applies."""
    data: dict[str, Any] = {"preserved_on": body.preserved_on.isoformat()} if body.preserved_on else {}
    if body.means is not None:
        data[service.MEANS] = body.means
    if body.dispatch_reference is not None:
        data[service.DISPATCH_REFERENCE] = body.dispatch_reference
    cmd = service.Command(reasons=body.reasons, grounds=list(body.grounds),
                          conditions=[c.model_dump() for c in body.conditions], data=data)
    return run_command(db, request, principal, body, now, 200, lambda: _read(db, service.transition(
        db, actor=principal, law=law, request_id=request_id, event=body.event, now=now, command=cmd,
        expected_version=body.expected_version), principal, law, now))


@router.post("/{request_id}/review", response_model=RequestRead,
             responses={**NOT_FOUND, 409: {"description": "No review is due on this request"}})
def review(request_id: uuid.UUID, request: Request, db: SessionDep, now: NowDep, law: LawDep,
           principal: CurrentPrincipal, body: Annotated[ReviewIn | None, Body()] = None) -> JSONResponse:
    """The second person's review of a request a 24/7 contact sent alone in an emergency (four eyes,
    afterwards): closes its review deadline. Not by the person who sent it. The body is optional."""
    reasons = body.reasons if body is not None else None
    return run_command(db, request, principal, body, now, 200, lambda: _read(db, service.review_send(
        db, actor=principal, law=law, request_id=request_id, now=now, reasons=reasons), principal, law, now))


@router.get("/{request_id}/history", response_model=list[EventRead], responses=NOT_FOUND)
def history(request_id: uuid.UUID, db: SessionDep, now: NowDep, principal: CurrentPrincipal) -> list[EventRead]:
    # The read is logged (CETS224 Art 14(8)): the reasons given for a step may hold personal data.
    return [EventRead.model_validate(e) for e in service.history(db, actor=principal, request_id=request_id, now=now)]


@router.get("/{request_id}/decisions", response_model=list[DecisionRead], responses=NOT_FOUND)
def decisions(request_id: uuid.UUID, db: SessionDep, now: NowDep, principal: CurrentPrincipal) -> list[DecisionRead]:
    return [DecisionRead.model_validate(r)  # the read is logged
            for r in service.decisions_of(db, actor=principal, request_id=request_id, now=now)]


@router.get("/{request_id}/conditions", response_model=list[ConditionRead], responses=NOT_FOUND)
def conditions(request_id: uuid.UUID, db: SessionDep, principal: CurrentPrincipal) -> list[ConditionRead]:
    return [ConditionRead.model_validate(r) for r in service.conditions_of(db, actor=principal, request_id=request_id)]


@router.get("/{request_id}/deadlines", response_model=list[DeadlineRead], responses=NOT_FOUND)
def deadlines(request_id: uuid.UUID, db: SessionDep, principal: CurrentPrincipal) -> list[DeadlineRead]:
    return [DeadlineRead.model_validate(r) for r in service.deadlines_of(db, actor=principal, request_id=request_id)]


@router.get("/{request_id}/receipts", response_model=list[ReceiptRead], responses=NOT_FOUND)
def receipts(request_id: uuid.UUID, db: SessionDep, principal: CurrentPrincipal) -> list[ReceiptRead]:
    """Signed evidence of the messages of this request: submission, delivery, retrieval (or negative)."""
    return [ReceiptRead.model_validate(r)
            for r in exchange.receipts_of_request(db, actor=principal, request_id=request_id)]


def _pdf_responses(what: str, unprocessable: str) -> dict[int | str, dict[str, Any]]:
    """The answers of a route that gives an official document (a request's, a letter's)."""
    return {**NOT_FOUND, 422: {"description": unprocessable},
            503: {"description": "This node cannot produce official documents (fonts missing)"},
            200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                  "description": what}}


def _pdf(doc: documents.OfficialDocument, fallback: str, digest_header: str) -> Response:
    """An official document as the answer: its file name, its languages, the SHA-256 of what it shows."""
    return Response(doc.pdf, media_type="application/pdf", headers={
        "Content-Disposition": content_disposition(doc.filename, fallback=fallback),
        "Content-Language": ", ".join(x for x in (doc.lang, doc.translation_lang) if x),
        digest_header: doc.digest})


@router.get("/{request_id}/document.pdf", response_class=Response,
            responses=_pdf_responses("The official document: PDF/A-3b, tagged", "An unknown language"))
def official_document(
    request_id: uuid.UUID, request: Request, db: SessionDep, now: NowDep, law: LawDep, principal: CurrentPrincipal,
    lang: Annotated[str | None, Query(max_length=10, description="Language of the labels and fixed text: en, "
                                      "sr-Cyrl, sr-Latn, cnr, sl, fr. Default: one the receiving side accepts "
                                      "(CETS224 Art 4), the request's own when it is one")] = None,
    translation_lang: Annotated[str | None, Query(max_length=10, description="A second language: a bilingual "
                                                  "document. Default: the request's translation_language; "
                                                  "`none`: one language only")] = None,
) -> Response:
    """The request as an official document, for whoever may read the request (another Party's: 404). Producing
    it is an audited read of the request (`request.document`, with the languages and the request's SHA-256)."""
    doc = documents.official_document(db, actor=principal, law=law, request_id=request_id, now=now, lang=lang,
                                      translation_lang=translation_lang, identity=request.app.state.node)
    return _pdf(doc, f"request-{request_id}.pdf", "X-Evidex-Request-SHA256")


@router.get("/{request_id}/letters", response_model=list[LetterRead], responses={
    **NOT_FOUND, 422: {"description": "An unknown language"}})
def letters(
    request_id: uuid.UUID, db: SessionDep, law: LawDep, principal: CurrentPrincipal,
    lang: Annotated[str, Query(max_length=10, description="Language of the titles: en, sr-Cyrl, sr-Latn, cnr, "
                                                          "sl, fr")] = "en",
) -> list[LetterRead]:
    """The letters this request's history gives the requesting Party (a request this node received: its
    acknowledgement, refusal, postponement, conditions, preservation), oldest first; none for a request this
    node's Party sent (the other Party writes those)."""
    return [LetterRead.model_validate(x)
            for x in documents.letters_of(db, actor=principal, law=law, request_id=request_id, lang=lang)]


@router.get("/{request_id}/letters/{event_id}.pdf", response_class=Response, responses=_pdf_responses(
    "The letter: PDF/A-3b, tagged, sealed by this node (the letter embedded as letter.json)",
    "An unknown language, or an event that gives no letter"))
def official_letter(
    request_id: uuid.UUID, event_id: int, request: Request, db: SessionDep, now: NowDep, law: LawDep,
    principal: CurrentPrincipal,
    lang: Annotated[str | None, Query(max_length=10, description="Language of the letter: en, sr-Cyrl, sr-Latn, "
                                      "cnr, sl, fr. Default: one the requesting Party accepts (its profile), the "
                                      "request's own when it is one")] = None,
    translation_lang: Annotated[str | None, Query(max_length=10, description="A second language: a bilingual "
                                                  "letter. Default: the request's translation_language; `none`: "
                                                  "one language only")] = None,
) -> Response:
    """The letter event `event_id` of the history gives (GET .../letters lists them), for whoever may read
    the request (another Party's: 404); an event that gives no letter: 422, naming those that do. Producing
    it is an audited read of the request (`request.letter`)."""
    doc = documents.official_letter(db, actor=principal, law=law, request_id=request_id, event_id=event_id,
                                    now=now, lang=lang, translation_lang=translation_lang,
                                    identity=request.app.state.node)
    return _pdf(doc, f"letter-{request_id}-{event_id}.pdf", "X-Evidex-Letter-SHA256")
