from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse

from evidex.api.deps import CurrentPrincipal, NowDep, SessionDep, require
from evidex.api.idempotency import run_command
from evidex.api.schemas import CaseCreate, CaseListItem, CaseRead, Page
from evidex.cases import service
from evidex.parties.roles import Principal, Role

router = APIRouter(prefix="/cases", tags=["cases"])
Drafter = Annotated[Principal, Depends(require(Role.competent_authority, Role.central_authority, Role.contact_24_7))]


@router.get("", response_model=Page[CaseListItem])
def list_cases(db: SessionDep, principal: CurrentPrincipal, limit: Annotated[int, Query(ge=1, le=200)] = 50,
               offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> Page[CaseListItem]:
    """Cases, newest first, each with its number of requests and the next due date among them."""
    rows, total = service.list_cases(db, actor=principal, limit=limit, offset=offset)
    return Page[CaseListItem](items=[CaseListItem(
        **CaseRead.model_validate(x.case).model_dump(), request_count=x.request_count, next_due_on=x.next_due_on)
        for x in rows], total=total, limit=limit, offset=offset)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CaseRead)
def create_case(body: CaseCreate, request: Request, db: SessionDep, now: NowDep, principal: Drafter) -> JSONResponse:
    return run_command(db, request, principal, body, now, 201, lambda: CaseRead.model_validate(
        service.create_case(db, actor=principal, reference=body.reference, title=body.title, now=now)))


@router.get("/{case_id}", response_model=CaseRead, responses={404: {"description": "No such case here"}})
def get_case(case_id: uuid.UUID, db: SessionDep, principal: CurrentPrincipal) -> CaseRead:
    return CaseRead.model_validate(service.get_case(db, actor=principal, case_id=case_id))
