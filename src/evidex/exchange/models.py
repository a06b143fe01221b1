"""Federation tables: the trust list, the transactional outbox, the inbox, receipts."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from evidex.core.db import Base, UTCDateTime


class Peer(Base):
    """Another Party's node, imported by an administrator (`evidex peers add`)."""

    __tablename__ = "peers"

    party: Mapped[str] = mapped_column(sa.String(2), primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(300))
    tls_certificate: Mapped[str | None] = mapped_column(sa.Text)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PeerKeyRow(Base):
    __tablename__ = "peer_keys"

    kid: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    party: Mapped[str] = mapped_column(sa.String(2), index=True)
    use: Mapped[str] = mapped_column(sa.String(3))  # sig | enc
    jwk: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class OutboxMessage(Base):
    """Written in the same transaction as the state change it announces; sent by the delivery worker."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_status_next", "status", "next_attempt_at"),
                      # the receipt-timeout pass reads only the messages still awaiting a receipt
                      sa.Index("ix_outbox_awaiting_receipt", "awaiting_receipt", "created_at"))

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)  # also the send order
    msg_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    conversation_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    recipient: Mapped[str] = mapped_column(sa.String(2))
    type: Mapped[str] = mapped_column(sa.String(30))
    headers: Mapped[dict[str, Any]] = mapped_column(sa.JSON)  # sealed afresh at each attempt (time window)
    payload_sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int] = mapped_column(sa.Integer, default=0)  # bytes of the canonical payload (batching)
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # False once every receipt the message expects (delivery; retrieval for a request) is in, positive
    # or negative: the worker's receipt-timeout pass never reads it again (exchange.receipt_timeouts).
    awaiting_receipt: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class OutboxBody(Base):
    """A message's canonical payload bytes (what its SHA-256 is over), apart from the outbox row: the
    row changes at each attempt, and a database that rewrites whole rows must not rewrite a large
    payload each time."""

    __tablename__ = "outbox_bodies"

    outbox_id: Mapped[int] = mapped_column(sa.ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True)
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


class InboxMessage(Base):
    """Every accepted message, stored durably before the delivery receipt is returned."""

    __tablename__ = "inbox"

    msg_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)  # receive is idempotent on it
    sender: Mapped[str] = mapped_column(sa.String(2))
    type: Mapped[str] = mapped_column(sa.String(30))
    conversation_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    headers: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    # The payload's bytes as they were verified (their SHA-256 is the one in the delivery receipt),
    # no re-encoding of a large payload, encrypted at rest (exchange/sealed.py). A large one is in a file
    # of the spool instead (exchange/spool.py), named here; read either with exchange.inbox_body().
    body: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    body_file: Mapped[str | None] = mapped_column(sa.String(64))
    payload_sha256: Mapped[str] = mapped_column(sa.String(64))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    delivery_receipt: Mapped[str] = mapped_column(sa.Text)  # the signed receipt given back, given again on retry


class Receipt(Base):
    """Signed evidence (non-repudiation): submission acceptance, delivery, retrieval; or negative."""

    __tablename__ = "receipts"
    __table_args__ = (sa.UniqueConstraint("msg_id", "kind", "issuer"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    msg_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    conversation_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # submission | delivery | retrieval
    issuer: Mapped[str] = mapped_column(sa.String(2))  # the Party whose node signed it
    positive: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    token: Mapped[str | None] = mapped_column(sa.Text)  # JWS; null for a negative receipt (none came)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class JunkCount(Base):
    """Unauthenticated envelopes refused (not decrypted, or not verified), counted per sender address
    and minute instead of one audit entry each; the worker writes one summary per address and minute
    into the audit chain once the minute is over (`summarised` of `count` so far)."""

    __tablename__ = "federation_junk"

    address: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    minute: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(sa.Integer)
    summarised: Mapped[int] = mapped_column(sa.Integer, default=0)
class SpoolFile(Base):
    """The spool's ledger: which peer's payload each spool file holds and its size, recorded (and
    committed) before the file is written, so a peer's usage counts its orphans too until the sweep
    removes them (the per-peer spool quota, EVIDEX_SPOOL_PEER_QUOTA_BYTES)."""

    __tablename__ = "spool_files"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # the file's name in the spool
    peer: Mapped[str] = mapped_column(sa.String(2), index=True)  # the authenticated sender
    bytes: Mapped[int] = mapped_column(sa.BigInteger)
    written_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
