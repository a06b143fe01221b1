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
    # uploading | receiving | sealed | rejected | disposed | abandoned (no chunk for EVIDEX_UPLOAD_IDLE_HOURS)
    status: Mapped[str] = mapped_column(sa.String(12))
    chunk_size: Mapped[int] = mapped_column(sa.Integer)
    chunks_received: Mapped[int] = mapped_column(sa.Integer, default=0)
    bytes_received: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(sa.String(64))  # computed from what was stored
    storage_name: Mapped[str] = mapped_column(sa.String(200))
    file_id: Mapped[str] = mapped_column(sa.String(32))  # 16 bytes, hex: bound into every chunk
    kek_id: Mapped[str | None] = mapped_column(sa.String(64))
    wrapped_key: Mapped[str | None] = mapped_column(sa.Text)  # base64; erased on disposal
    created_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))  # the uploader: only they add to it
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_chunk_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # an upload's last sign of life
    package_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, index=True)  # arrived in this package
    package_position: Mapped[int | None] = mapped_column(sa.Integer)
    retain_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # CETS224 Art 14(5): Party's profile
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


class EvidencePackage(Base):
    """Files of one request sent to (outgoing) or received from (incoming) another Party's node,
    described by a manifest signed by the producing node. The id is the same on both nodes."""

    __tablename__ = "evidence_packages"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    party: Mapped[str] = mapped_column(sa.String(2), index=True)  # this node's Party
    direction: Mapped[str] = mapped_column(sa.String(8))  # outgoing | incoming
    peer: Mapped[str] = mapped_column(sa.String(2))  # the other Party
    request_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("requests.id"), index=True)
    conversation_id: Mapped[str] = mapped_column(sa.String(64))
    manifest: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    manifest_sha256: Mapped[str] = mapped_column(sa.String(64))
    signature: Mapped[str] = mapped_column(sa.Text)  # JWS (Ed25519) of the manifest by the producing node
    manifest_msg_id: Mapped[str] = mapped_column(sa.String(36))  # the federation message that carried it
    transfer_key: Mapped[str | None] = mapped_column(sa.Text)  # base64; chunks in transit; erased when settled
    # outgoing: sending → sent → received | mismatch;  incoming: receiving → received | mismatch
    status: Mapped[str] = mapped_column(sa.String(12))
    problems: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_by: Mapped[str] = mapped_column(sa.String(80))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    settled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class OnwardAuthorisation(Base):
    """The transferring Party's authorisation for an onward transfer of data it supplied to a third
    State or international organisation (CETS224 Art 14(10)), recorded with its reference."""

    __tablename__ = "onward_authorisations"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    party: Mapped[str] = mapped_column(sa.String(2), index=True)  # the Party holding the data (this node)
    request_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("requests.id"), index=True)
    granted_by: Mapped[str] = mapped_column(sa.String(2))  # the transferring Party
    recipient: Mapped[str] = mapped_column(sa.String(120))  # third State or international organisation
    purpose: Mapped[str] = mapped_column(sa.Text)
    reference: Mapped[str] = mapped_column(sa.String(300))  # the authorisation's own reference (letter, message)
    recorded_by: Mapped[str] = mapped_column(sa.String(80))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
