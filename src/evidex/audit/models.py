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


class AuditSignature(Base):
    """A signed head of the chain (entry number, hash, time): a compact JWS by the node's Ed25519 key,
    or HS256 under a key derived from EVIDEX_SECRET_KEY for a node without an identity (`alg` says
    which). An entry edited and every later hash recomputed no longer matches the heads signed
    after it; `evidex audit heads export` copies them out, so deleting these rows is caught too."""

    __tablename__ = "audit_signatures"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(sa.Integer, index=True)
    hash: Mapped[str] = mapped_column(sa.String(64))
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    alg: Mapped[str] = mapped_column(sa.String(16))  # Ed25519 | HS256
    kid: Mapped[str] = mapped_column(sa.String(100))
    token: Mapped[str] = mapped_column(sa.Text)  # compact JWS over {party, seq, hash, at}
