"""Notifications: reminders, overdue deadlines and proposed next steps; listed and marked read."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from evidex.api.deps import CurrentPrincipal, NowDep, SessionDep
from evidex.api.schemas import NotificationRead, NotificationsMarked, NotificationsMarkRead, Page, Problem
from evidex.cases import notifications

router = APIRouter(prefix="/notifications", tags=["deadlines"])


@router.get("", response_model=Page[NotificationRead])
def list_notifications(
    db: SessionDep, principal: CurrentPrincipal,
    unread: Annotated[bool, Query(description="Only those not yet marked read")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[NotificationRead]:
    """Reminders, overdue deadlines and proposed next steps for this principal's requests, newest first."""
    rows, total = notifications.list_notifications(db, actor=principal, unread=unread, limit=limit, offset=offset)
    return Page[NotificationRead](items=[NotificationRead.model_validate(r) for r in rows], total=total,
                                  limit=limit, offset=offset)


@router.post("/read", response_model=NotificationsMarked)
def mark_all_read(body: NotificationsMarkRead, db: SessionDep, now: NowDep,
                  principal: CurrentPrincipal) -> NotificationsMarked:
    """Mark read every unread notification you see created up to `before` (default now), or only
    those of `ids`. Read for the whole Party: notifications are the Party's, not one user's."""
    marked = notifications.mark_all_read(db, actor=principal, now=now, before=body.before, ids=body.ids)
    return NotificationsMarked(marked=marked)


@router.post("/{notification_id}/read", response_model=NotificationRead,
             responses={404: {"model": Problem, "description": "No such notification here"}})
def mark_read(notification_id: uuid.UUID, db: SessionDep, now: NowDep, principal: CurrentPrincipal) -> NotificationRead:
    """Mark one notification read; marking it again changes nothing (its `read_at` stays)."""
    return NotificationRead.model_validate(
        notifications.mark_read(db, actor=principal, notification_id=notification_id, now=now))
