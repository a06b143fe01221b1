from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from evidex.core.db import Base, UTCDateTime


class AuditEntry(Base):
    """One change or one read of personal data. Each entry holds the SHA-256 of the previous one."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(sa.String(80))
    party: Mapped[str] = mapped_column(sa.String(2))
    action: Mapped[str] = mapped_column(sa.String(60))
    object_type: Mapped[str] = mapped_column(sa.String(40))
    object_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    personal_data: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))


class AuditHead(Base):
    """The chain's head (one row): locked for each append so entries are strictly ordered."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(sa.Integer)
    hash: Mapped[str] = mapped_column(sa.String(64))
