"""Retention (CETS224 Art 14(5)): review warnings before a file's period ends, disposal once it has."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session, sessionmaker

from evidex.evidence.service import Vault
from evidex.privacy.service import RetentionReport, sweep_retention

log = logging.getLogger("evidex.worker")


def retention_pass(make_session: sessionmaker[Session], vault: Vault, now: dt.datetime) -> RetentionReport:
    with make_session() as db:
        s = sweep_retention(db, vault=vault, now=now)
    if s.warned or s.disposed:
        log.info("retention: %d review warning(s), %d disposed", s.warned, s.disposed)
    return s
