"""The audit records: federation junk summarised into the audit chain, and the chain's head signed."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("evidex.worker")


def records_pass(make_session: sessionmaker[Session], now: dt.datetime, *, audit_key: Any, party: str,
                 sign_every: dt.timedelta | None) -> None:
    """Federation junk of the minutes that are over summarised into the audit chain (one entry per
    sender address and minute), then the chain's head signed if it moved (audit/heads.py)."""
    from evidex.audit.heads import ChainNotExtended, sign_head
    from evidex.exchange.service import summarise_junk  # the exchange builds on requests

    with make_session() as db:
        summarise_junk(db, now=now, party=party)
        db.commit()
    try:
        with make_session() as db:
            sign_head(db, key=audit_key, party=party, now=now, min_interval=sign_every)  # commits what it signs
    except ChainNotExtended as e:  # never sign a rewritten chain; say so loudly, every pass
        log.error("audit head NOT signed: %s", e)
