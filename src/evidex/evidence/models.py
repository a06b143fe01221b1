"""Evidence files and their chain of custody."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from evidex.core.db import Base, UTCDateTime


class EvidenceFile(Base):
    __tablename__ = "evidence_files"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    party: Mapped[str] = mapped_column(sa.String(2), index=True)
    request_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("requests.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(300))
    media_type: Mapped[str] = mapped_column(sa.String(120))
    declared_size: Mapped[int] = mapped_column(sa.BigInteger)
    declared_sha256: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(12))  # uploading | sealed | rejected | disposed
    chunk_size: Mapped[int] = mapped_column(sa.Integer)
    chunks_received: Mapped[int] = mapped_column(sa.Integer, default=0)
    bytes_received: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(sa.String(64))  # computed from what was stored
    storage_name: Mapped[str] = mapped_column(sa.String(200))
    file_id: Mapped[str] = mapped_column(sa.String(32))  # 16 bytes, hex: bound into every chunk
    kek_id: Mapped[str | None] = mapped_column(sa.String(64))
    wrapped_key: Mapped[str | None] = mapped_column(sa.Text)  # base64; erased on disposal
    created_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sealed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CustodyEvent(Base):
    """Append-only and hash-chained per file: produced, sealed, opened, exported, disposed …"""

    __tablename__ = "custody_events"
    __table_args__ = (sa.UniqueConstraint("evidence_id", "seq"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    evidence_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("evidence_files.id"), index=True)
    seq: Mapped[int] = mapped_column(sa.Integer)
    event: Mapped[str] = mapped_column(sa.String(20))
    actor: Mapped[str] = mapped_column(sa.String(80))
    party: Mapped[str] = mapped_column(sa.String(2))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    hash_before: Mapped[str | None] = mapped_column(sa.String(64))
    hash_after: Mapped[str | None] = mapped_column(sa.String(64))
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))
    signature: Mapped[str | None] = mapped_column(sa.Text)  # JWS (Ed25519) of `hash` by the node
