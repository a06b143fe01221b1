"""Evidence packages: chunks sent to other nodes, and packages arrived from them verified and sealed."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from evidex.core.faults import NO_FAULTS, Faults

log = logging.getLogger("evidex.worker")


def packages_pass(make_session: sessionmaker[Session], node: Any, vault: Any, clock: Callable[[], dt.datetime],
                  spool: Any = None, faults: Faults = NO_FAULTS) -> None:
    from evidex.evidence import packages

    t = packages.transfer_once(make_session, node, vault, clock(), clock=clock, faults=faults)
    v = packages.verify_received(make_session, node, vault, clock(), spool=spool)
    if t.chunks or t.sent or v:
        log.info("evidence packages: %d chunk(s) sent, %d package(s) complete, %d verified", t.chunks, t.sent, v)
