"""Rate limits kept in the database, so every server process of a node shares them: one row per
key and fixed window, counted by one atomic upsert (INSERT … ON CONFLICT DO UPDATE … RETURNING)
on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from evidex.core.db import Base, UTCDateTime
from evidex.core.errors import TooManyRequests


class RateWindow(Base):
    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)  # e.g. "login:account:alice"
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    hits: Mapped[int] = mapped_column(sa.Integer)


def hit(db: Session, *, key: str, limit: int, window_seconds: int, now: dt.datetime) -> None:
    """Count one event under `key`; raise TooManyRequests (with the seconds until the window ends)
    when it is more than `limit` in the current fixed window. The count is in the caller's
    transaction: commit it at once, so the row is not held during slow work."""
    epoch = int(now.timestamp())
    start = dt.datetime.fromtimestamp(epoch - epoch % window_seconds, dt.UTC)
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    new = insert(RateWindow).values(key=key[:200], window_start=start, hits=1)
    table = RateWindow.__table__
    same_window = table.c.window_start == new.excluded.window_start
    upsert = new.on_conflict_do_update(index_elements=[table.c.key], set_={
        "hits": sa.case((same_window, table.c.hits + 1), else_=1),
        "window_start": new.excluded.window_start,
    }).returning(table.c.hits)
    hits = db.execute(upsert).scalar_one()
    if hits > limit:
        raise TooManyRequests("too many attempts; try again later",
                              retry_after=max(1, math.ceil((start - now).total_seconds()) + window_seconds))


def sweep(db: Session, *, now: dt.datetime, older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
    """Remove windows long past (the table stays as small as the set of recent keys)."""
    result = cast("sa.CursorResult[Any]", db.execute(sa.delete(RateWindow).where(RateWindow.window_start < now - older_than)))
    return result.rowcount or 0
