"""What needs a desk now: the dashboard's reads, scoped like every other read (cases.service.visible_to).

Emergencies come first: the cases the lifecycle data lets a 24/7 contact send alone (CETS224 Art 9 and
10, urgent ETS185 requests: requests/data/lifecycle.yaml four_eyes_waiver), while they are open."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from evidex.cases.models import Case
from evidex.cases.service import OPEN_DEADLINE, Law, shown_reference, visible_to
from evidex.parties.roles import Principal
from evidex.requests.models import Deadline, Notification, Request


@dataclass(frozen=True)
class DeskItem:
    request: Request
    case_reference: str

    @property
    def reference(self) -> str:
        """The reference shown for the request (cases.service.shown_reference)."""
        return shown_reference(self.request, self.case_reference)


@dataclass(frozen=True)
class DueItem:
    deadline: Deadline
    request: Request
    case_reference: str

    @property
    def reference(self) -> str:
        return shown_reference(self.request, self.case_reference)


@dataclass(frozen=True)
class Notice:
    """A notification with what it is about, so a page can say it in the reader's language (the stored
    `message` is the English of the API and the log): the request, and the deadline when it has one."""

    notification: Notification
    request: Request
    deadline: Deadline | None


@dataclass(frozen=True)
class Desk:
    emergencies: list[DeskItem]
    overdue: list[DueItem]
    due_soon: list[DueItem]
    awaiting_approval: list[DeskItem]
    unread: list[Notice]
    unread_total: int
    delivery_problems: list[Notice]  # dead letters and negative receipts not yet read


# Notifications that say a message to the other Party did not arrive (exchange/service.py writes them).
DELIVERY_PROBLEMS = ("dead_letter", "negative_receipt")


def emergency_condition(law: Law) -> sa.ColumnElement[bool]:
    cases = []
    for case in law.lifecycle.emergencies:
        cond = Request.request_type.in_(case.types)
        cases.append(sa.and_(cond, Request.urgent.is_(True)) if case.urgent else cond)
    return sa.or_(*cases) if cases else sa.false()


def emergencies(db: Session, *, actor: Principal, law: Law, limit: int = 50) -> list[DeskItem]:
    """Emergencies still waiting for an answer or an act (lifecycle `awaiting`) that the actor sees, the
    oldest first (the longest waiting is the most pressing)."""
    rows = db.execute(
        sa.select(Request, Case.reference).join(Case, Case.id == Request.case_id)
        .where(visible_to(actor), emergency_condition(law), Request.status.in_(law.lifecycle.awaiting))
        .order_by(Request.created_at, Request.id).limit(limit)).all()
    return [DeskItem(r, ref) for r, ref in rows]


def emergency_ids(db: Session, *, actor: Principal, law: Law, limit: int = 200) -> list[uuid.UUID]:
    return [x.request.id for x in emergencies(db, actor=actor, law=law, limit=limit)]


def _due(db: Session, actor: Principal, *conds: sa.ColumnElement[bool], limit: int) -> list[DueItem]:
    rows = db.execute(
        sa.select(Deadline, Request, Case.reference).join(Request, Request.id == Deadline.request_id)
        .join(Case, Case.id == Request.case_id)
        .where(visible_to(actor), Deadline.party == actor.party, *conds)
        .order_by(Deadline.due_on, Deadline.id).limit(limit)).all()
    return [DueItem(d, r, ref) for d, r, ref in rows]


def desk(db: Session, *, actor: Principal, law: Law, today: dt.date, soon_days: int, limit: int = 20) -> Desk:
    """The dashboard of `actor` on `today` (the calendar date in the node Party's time zone)."""
    overdue = _due(db, actor, Deadline.status.in_(OPEN_DEADLINE), Deadline.due_on < today, limit=limit)
    soon = _due(db, actor, Deadline.status.in_(OPEN_DEADLINE), Deadline.due_on >= today,
                Deadline.due_on <= today + dt.timedelta(days=soon_days), limit=limit)
    # Drafts a second person must approve (four eyes): offered to this role now, not drafted by this person.
    approvable = [s for s in ("checked", "draft")
                  if "approve" in law.lifecycle.events_from("outgoing", s, actor.role)]
    waiting: list[DeskItem] = []
    if approvable:
        rows = db.execute(
            sa.select(Request, Case.reference).join(Case, Case.id == Request.case_id)
            .where(visible_to(actor), Request.direction == "outgoing", Request.status.in_(approvable),
                   sa.or_(Request.created_by.is_(None), Request.created_by != actor.user_id))
            .order_by(Request.urgent.desc(), Request.updated_at, Request.id).limit(limit)).all()
        waiting = [DeskItem(r, ref) for r, ref in rows]
    unseen = (visible_to(actor), Notification.read_at.is_(None))
    unread_total = db.execute(sa.select(sa.func.count()).select_from(Notification)
                              .join(Request, Request.id == Notification.request_id).where(*unseen)).scalar_one()
    q = (sa.select(Notification, Request, Deadline).join(Request, Request.id == Notification.request_id)
         .outerjoin(Deadline, Deadline.id == Notification.deadline_id).where(*unseen))
    newest = (Notification.created_at.desc(), Notification.id)
    unread = [Notice(n, r, d) for n, r, d in db.execute(
        q.where(Notification.kind.not_in(DELIVERY_PROBLEMS)).order_by(*newest).limit(limit)).all()]
    problems = [Notice(n, r, d) for n, r, d in db.execute(
        q.where(Notification.kind.in_(DELIVERY_PROBLEMS)).order_by(*newest).limit(limit)).all()]
    return Desk(emergencies(db, actor=actor, law=law, limit=limit), overdue, soon, waiting, unread, unread_total,
                problems)
