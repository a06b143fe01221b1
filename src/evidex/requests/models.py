"""Requests, their append-only event history, decisions, conditions and deadlines."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from evidex.core.db import Base, UTCDateTime


class Request(Base):
    __tablename__ = "requests"
    __table_args__ = (sa.Index("ix_requests_party_status", "party", "status"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    party: Mapped[str] = mapped_column(sa.String(2))  # the node Party that holds this record
    case_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    direction: Mapped[str] = mapped_column(sa.String(10))  # outgoing | incoming
    request_type: Mapped[str] = mapped_column(sa.String(40))
    requesting_party: Mapped[str] = mapped_column(sa.String(2))
    requested_party: Mapped[str] = mapped_column(sa.String(2))
    provider: Mapped[str | None] = mapped_column(sa.String(200), index=True)  # addressee, for provider scoping
    conversation_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)  # shared with the peer node
    status: Mapped[str] = mapped_column(sa.String(30))
    urgent: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    document: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    verdict: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    admissible: Mapped[bool | None] = mapped_column(sa.Boolean)
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    preserved_until: Mapped[dt.date | None] = mapped_column(sa.Date)
    created_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    # The request's next due deadline: the earliest open one (open or overdue, with a date), by name on
    # the same day; none: NULL. Kept from its deadlines by cases.service in the transaction that changes
    # them, so the list sorts and filters on a column instead of ranking every deadline per call.
    next_due_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    next_due_name: Mapped[str | None] = mapped_column(sa.String(60))
    # The document's own case_reference (a string, or NULL), kept with the document: the list searches
    # it beside the case's reference without reading and parsing every document.
    document_case_reference: Mapped[str | None] = mapped_column(sa.Text)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - optimistic locking


# A desk's list (cases.service.list_requests) reads a page in one of its orders from one of these, the
# Party first: the last changed (the default), by next due date, urgent first, by creation; the id,
# last, breaks ties as the list does. A page is read in index order, nothing else sorted (the reversed
# orders -due and -created sort what the index leaves in the same place).
sa.Index("ix_requests_party_changed", Request.party, Request.updated_at.desc(), Request.id)
sa.Index("ix_requests_party_due", Request.party, Request.next_due_on, Request.created_at, Request.id)
sa.Index("ix_requests_party_urgency", Request.party, Request.urgent.desc(), Request.next_due_on, Request.created_at,
         Request.id)
sa.Index("ix_requests_party_created", Request.party, Request.created_at, Request.id)


class RequestEvent(Base):
    """Append-only history: one row per transition (never updated, never deleted)."""

    __tablename__ = "request_events"
    __table_args__ = (sa.UniqueConstraint("request_id", "seq"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("requests.id"), index=True)
    seq: Mapped[int] = mapped_column(sa.Integer)
    event: Mapped[str] = mapped_column(sa.String(40))
    from_status: Mapped[str | None] = mapped_column(sa.String(30))
    to_status: Mapped[str] = mapped_column(sa.String(30))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(sa.String(80))
    actor_role: Mapped[str] = mapped_column(sa.String(40))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reasons: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class Decision(Base):
    """Refusal, postponement, partial execution or conditions, with grounds and reasons (ETS185 Art 27(7))."""

    __tablename__ = "decisions"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    request_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("requests.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(30))
    grounds: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    reasons: Mapped[str | None] = mapped_column(sa.Text)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class RequestCondition(Base):
    """A condition on execution or use; binding once accepted (ETS185 Art 28(3); CETS224 Art 8(9)(b), 9(7))."""

    __tablename__ = "request_conditions"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    request_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("requests.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(30))  # confidentiality | use_limitation | other
    text: Mapped[str] = mapped_column(sa.Text)
    article: Mapped[str | None] = mapped_column(sa.String(40))
    status: Mapped[str] = mapped_column(sa.String(20))  # proposed | accepted | declined
    binding: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    proposed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Deadline(Base):
    __tablename__ = "deadlines"
    __table_args__ = (sa.UniqueConstraint("request_id", "name"), sa.Index("ix_deadlines_status_due", "status", "due_on"))

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    request_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("requests.id"), index=True)
    party: Mapped[str] = mapped_column(sa.String(2))
    name: Mapped[str] = mapped_column(sa.String(60))
    article: Mapped[str] = mapped_column(sa.String(40))
    days: Mapped[int | None] = mapped_column(sa.Integer)
    due_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    remind_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(20), default="open")  # open | met | overdue | cancelled
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    overdue_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Notification(Base):
    """An alert for the users of a Party: a reminder, an overdue deadline, a proposed next step.
    (deadline_id, kind) is unique: a worker that dies and runs again never duplicates one."""

    __tablename__ = "notifications"
    __table_args__ = (sa.UniqueConstraint("deadline_id", "kind"), sa.Index("ix_notifications_party_read", "party", "read_at"))

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    party: Mapped[str] = mapped_column(sa.String(2))
    request_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("requests.id"), index=True)
    deadline_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("deadlines.id"))
    kind: Mapped[str] = mapped_column(sa.String(30))  # reminder | overdue | next_step
    article: Mapped[str | None] = mapped_column(sa.String(40))
    message: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
