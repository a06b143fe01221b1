"""How long an Idempotency-Key is remembered: a retry comes within minutes or hours, so a day is
enough, and a stored answer must not outlive it (answers may name personal data)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from evidex.requests.models import IdempotencyKey

KEEP = dt.timedelta(hours=24)


def sweep(db: Session, *, now: dt.datetime) -> int:
    """Delete the keys older than KEEP (the worker's pass; lookups ignore them meanwhile)."""
    result = cast("sa.CursorResult[Any]", db.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.created_at < now - KEEP)))
    return result.rowcount or 0
