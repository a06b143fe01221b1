"""The audit log read by the data-protection officer and administrators (CETS224 Art 14(8))."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from evidex.api.deps import NowDep, SessionDep, require
from evidex.api.schemas import AuditEntryRead, Page
from evidex.parties.roles import Principal, Role
from evidex.privacy import audit_log

router = APIRouter(tags=["audit"])
Reader = Annotated[Principal, Depends(require(Role.data_protection_officer, Role.administrator))]


@router.get("/audit", response_model=Page[AuditEntryRead])
def list_audit(
    db: SessionDep, now: NowDep, principal: Reader,
    actor: Annotated[str | None, Query(max_length=80, description="A username, or a user id of your Party")] = None,
    action: Annotated[str | None, Query(max_length=60, description="e.g. request.read, user.deactivate")] = None,
    object_type: Annotated[str | None, Query(max_length=40, description="e.g. request, user, evidence")] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[AwareDatetime | None, Query(description="From this time (inclusive)")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Up to this time (exclusive)")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[AuditEntryRead]:
    """Your Party's audit entries, newest first. Reading them is recorded in the log too
    (`audit.read`, with the filter): who looked at what is itself reviewable."""
    where = audit_log.EntryFilter(actor=actor, action=action, object_type=object_type, object_id=object_id,
                              since=since, until=until)
    rows, total = audit_log.list_entries(db, actor=principal, where=where, now=now, limit=limit, offset=offset)
    return Page[AuditEntryRead](items=[AuditEntryRead.model_validate(r) for r in rows], total=total, limit=limit,
                                offset=offset)
