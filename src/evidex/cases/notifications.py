"""Notifications (reminders, overdue deadlines, proposed next steps) read and marked read. They are
the Party's, not one user's: marked read once, they are read for every colleague who sees them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from evidex.audit import service as audit
from evidex.cases.service import visible_to
from evidex.core.db import command
from evidex.core.errors import Invalid, NotFound
from evidex.parties.roles import Principal
from evidex.requests.models import Notification, Request

MAX_IDS = 200  # ids marked read in one call (a page of the list)


def list_notifications(db: Session, *, actor: Principal, unread: bool = False, limit: int = 50,
                       offset: int = 0) -> tuple[list[Notification], int]:
    """The notifications of the requests `actor` sees, newest first, and how many there are."""
    q = sa.select(Notification).join(Request, Request.id == Notification.request_id).where(visible_to(actor))
    if unread:
        q = q.where(Notification.read_at.is_(None))
    total = db.execute(sa.select(sa.func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(Notification.created_at.desc(), Notification.id).limit(limit).offset(offset))
    return list(rows.scalars()), total


@command
def mark_read(db: Session, *, actor: Principal, notification_id: uuid.UUID, now: dt.datetime) -> Notification:
    """Mark one notification read (once: marking it again changes nothing); 404 for one not visible."""
    row = db.execute(sa.select(Notification).join(Request, Request.id == Notification.request_id)
                     .where(Notification.id == notification_id, visible_to(actor))
                     .with_for_update(of=Notification)).scalar_one_or_none()
    if row is None:
        raise NotFound("notification not found")
    if row.read_at is None:
        row.read_at = now
        audit.record(db, actor=actor, action="notification.read", object_type="notification",
                     object_id=str(row.id), at=now, details={"request_id": str(row.request_id)})
    return row


@command
def mark_all_read(db: Session, *, actor: Principal, now: dt.datetime, before: dt.datetime | None = None,
                  ids: Sequence[uuid.UUID] | None = None) -> int:
    """Mark read every unread notification `actor` sees that was created up to `before` (default now),
    or only those of `ids` (ids not visible are left alone, as if absent). Returns how many changed."""
    if ids is not None and len(ids) > MAX_IDS:
        raise Invalid(f"at most {MAX_IDS} ids at once")
    until = min(before, now) if before is not None else now
    visible_requests = sa.select(Request.id).where(visible_to(actor))
    q = (sa.update(Notification)
         .where(Notification.read_at.is_(None), Notification.created_at <= until,
                Notification.request_id.in_(visible_requests))
         .values(read_at=now).execution_options(synchronize_session=False))
    if ids is not None:
        q = q.where(Notification.id.in_(list(ids)))
    count = cast("sa.CursorResult[Any]", db.execute(q)).rowcount or 0
    if count:
        audit.record(db, actor=actor, action="notification.read_all", object_type="notification", object_id=None,
                     at=now, details={"before": until.isoformat(), "ids": len(ids) if ids is not None else None,
                                      "count": count})
    return count
