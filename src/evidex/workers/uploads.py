"""The sweep of abandoned uploads: an evidence upload with no chunk for EVIDEX_UPLOAD_IDLE_HOURS
(24 h by default) is abandoned, its partial ciphertext and data key erased, one audit note per file;
the record stays. Run by the server's in-process worker and by `evidex worker` (`--once` prints the count)."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session, sessionmaker

from evidex.evidence.service import Vault, sweep_abandoned

log = logging.getLogger("evidex.worker")
BATCH = 200


def sweep_uploads(make_session: sessionmaker[Session], vault: Vault, now: dt.datetime) -> int:
    """Every idle upload, a batch at a time (each file in its own transaction). Returns how many."""
    total = 0
    while True:
        with make_session() as db:
            n = sweep_abandoned(db, vault=vault, now=now, batch=BATCH)
        total += n
        if n < BATCH:
            break
    if total:
        log.info("uploads: %d abandoned upload(s) erased", total)
    return total
