"""The deadline watcher: reminders before a deadline (the warning before a preservation lapses),
overdue marks, and the next step the rule data names when a deadline lapses (e.g. CETS224 Art 7(7):
a direct order to a provider, enforced only via Art 8).

Each notification is written in the same transaction as the mark on its deadline, and
(deadline, kind) is unique: a worker killed at any moment loses nothing and, run again,
duplicates nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from evidex.cases.service import PRESERVATION_DEADLINE
from evidex.core.faults import NO_FAULTS, Faults
from evidex.requests.models import Deadline, Notification, Request
from evidex.rules import Rulebook, default_rulebook

log = logging.getLogger("evidex.worker")


@dataclass
class Report:
    reminders: int = 0
    overdue: int = 0
    next_steps: int = 0


def _today(party_tz: dict[str, str], party: str, now: dt.datetime) -> dt.date:
    return now.astimezone(zoneinfo.ZoneInfo(party_tz.get(party, "UTC"))).date()


def run_once(make_session: sessionmaker[Session], now: dt.datetime, party_tz: dict[str, str] | None = None,
             batch: int = 200, faults: Faults = NO_FAULTS, rulebook: Rulebook | None = None) -> Report:
    """One pass over open deadlines; each deadline in its own short transaction. What to propose
    once a deadline lapses is the rule data's (`on_lapse` of the request type's deadline)."""
    party_tz = party_tz or {}
    rulebook = rulebook or default_rulebook()
    report = Report()
    with make_session() as db:
        horizon = now.date() + dt.timedelta(days=2)  # time zones: look a little ahead, decide per Party below
        ids = list(db.execute(
            sa.select(Deadline.id).where(
                Deadline.status == "open", Deadline.due_on.is_not(None),
                sa.or_(sa.and_(Deadline.remind_on.is_not(None), Deadline.remind_on <= horizon,
                               Deadline.reminded_at.is_(None)),
                       Deadline.due_on < horizon))
            .order_by(Deadline.due_on).limit(10_000)).scalars())
    done = 0
    for deadline_id in ids:
        with make_session() as db:
            d = db.execute(sa.select(Deadline).where(Deadline.id == deadline_id).with_for_update()).scalar_one_or_none()
            if d is None or d.status != "open" or d.due_on is None:
                continue
            req = db.get(Request, d.request_id)
            assert req is not None
            today = _today(party_tz, d.party, now)
            kinds: list[tuple[str, str | None, str]] = []
            if d.remind_on is not None and d.remind_on <= today and d.reminded_at is None and d.due_on >= today:
                days_left = (d.due_on - today).days
                what = ("the preservation period ends" if d.name == PRESERVATION_DEADLINE else f"deadline {d.name} falls due")
                kinds.append(("reminder", d.article, f"In {days_left} day(s), on {d.due_on.isoformat()}, {what} "
                                                    f"({d.article}); request {req.request_type} {req.id}."))
                d.reminded_at = now
            if d.due_on < today:
                kinds.append(("overdue", d.article, f"Deadline {d.name} ({d.article}) passed on {d.due_on.isoformat()}; "
                                                   f"request {req.request_type} {req.id} is in status {req.status}."))
                # Still to be done (cases.service.OPEN_DEADLINE): the request's next due deadline stays.
                d.status, d.overdue_at = "overdue", now
                step = rulebook.next_step(req.request_type, d.name)
                if step is not None and req.direction == "outgoing":
                    kinds.append(("next_step", step.article, step.message))
            if not kinds:
                continue
            for kind, article, message in kinds:
                db.add(Notification(party=d.party, request_id=req.id, deadline_id=d.id, kind=kind, article=article,
                                    message=message, created_at=now))
            d.updated_at = now
            try:
                db.flush()
            except IntegrityError:  # another worker wrote them first: nothing to add
                db.rollback()
                continue
            done += 1
            faults.worker_after_write(done)  # tests: die before this commit, to prove nothing is lost
            db.commit()
            for kind, _, _ in kinds:
                if kind == "reminder":
                    report.reminders += 1
                elif kind == "overdue":
                    report.overdue += 1
                else:
                    report.next_steps += 1
    return report
