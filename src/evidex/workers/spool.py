"""The spool of received payloads: files no row names any more (orphans) removed after an hour."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

SPOOL_SWEEP_EVERY = 600.0  # seconds; orphans are only removed after an hour anyway: the folder is not listed every pass


def spool_pass(make_session: sessionmaker[Session], spool: Any, now: dt.datetime) -> int:
    from evidex.exchange.service import sweep_spool

    with make_session() as db:
        return sweep_spool(db, spool, now)
