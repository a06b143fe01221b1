"""The sweep of short-lived rows: idempotency answers after 24 h, login rate-limit windows after a day."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker


def sweep_short_lived(make_session: sessionmaker[Session], now: dt.datetime) -> None:
    """Idempotency answers after 24 h, login rate-limit windows after a day."""
    from evidex.core import idempotency, ratelimit

    with make_session() as db:
        idempotency.sweep(db, now=now)
        ratelimit.sweep(db, now=now)
        db.commit()
