"""Delivery to other nodes: what is due in the outbox goes out, and receipts overdue become negative ones."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from evidex.core.faults import NO_FAULTS, Faults


def outbox_pass(make_session: sessionmaker[Session], node: Any, now: dt.datetime, faults: Faults = NO_FAULTS) -> Any:
    """Deliver what is due to other nodes, then turn overdue receipts into negative ones."""
    from evidex.exchange.service import deliver_once, receipt_timeouts  # the exchange builds on requests

    report = deliver_once(make_session, node, now, faults=faults)
    with make_session() as db:
        receipt_timeouts(db, party=node.party, now=now)
    return report
