"""The deadline watcher: reminders before a deadline, overdue marks, the 10-day warning before a
preservation period ends (its one deadline), and the next step when a direct order to a provider
lapses (CETS224 Art 7(7)).

Each notification is written in the same transaction as the mark on its deadline, and
(deadline, kind) is unique: a worker killed at any moment loses nothing and, run again,
duplicates nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from evidex.core.faults import NO_FAULTS, Faults
from evidex.requests.models import Deadline, Notification, Request
from evidex.requests.service import PRESERVATION_DEADLINE

log = logging.getLogger("evidex.worker")

# What to propose when a deadline lapses: data, keyed by (request type, deadline name).
NEXT_STEPS = {
    ("subscriber_order", "provider_response"): (
        "CETS224 Art 7(7)",
        "The provider has not disclosed within the period: seek enforcement only through a request to give "
        "effect to the order (CETS224 Art 8, give_effect_order) or other mutual assistance (ETS185 Art 31)."),
    ("preservation", PRESERVATION_DEADLINE): (
        "ETS185 Art 29(7)",
        "The minimum preservation period has passed: send the follow-up mutual assistance request now, or the "
        "data may be released."),
}


@dataclass
class Report:
    reminders: int = 0
    overdue: int = 0
    next_steps: int = 0


def _today(party_tz: dict[str, str], party: str, now: dt.datetime) -> dt.date:
    return now.astimezone(zoneinfo.ZoneInfo(party_tz.get(party, "UTC"))).date()


def run_once(make_session: sessionmaker[Session], now: dt.datetime, party_tz: dict[str, str] | None = None,
             batch: int = 200, faults: Faults = NO_FAULTS) -> Report:
    """One pass over open deadlines; each deadline in its own short transaction."""
    party_tz = party_tz or {}
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
                d.status, d.overdue_at = "overdue", now
                step = NEXT_STEPS.get((req.request_type, d.name))
                if step is not None and req.direction == "outgoing":
                    kinds.append(("next_step", step[0], step[1]))
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


def sweep_short_lived(make_session: sessionmaker[Session], now: dt.datetime) -> None:
    """Idempotency answers after 24 h, login rate-limit windows after a day."""
    from evidex.core import ratelimit
    from evidex.requests import idempotency

    with make_session() as db:
        idempotency.sweep(db, now=now)
        ratelimit.sweep(db, now=now)
        db.commit()


def outbox_pass(make_session: sessionmaker[Session], node: Any, now: dt.datetime, faults: Faults = NO_FAULTS) -> Any:
    """Deliver what is due to other nodes, then turn overdue receipts into negative ones."""
    from evidex.exchange.service import deliver_once, receipt_timeouts  # the exchange builds on requests

    report = deliver_once(make_session, node, now, faults=faults)
    with make_session() as db:
        receipt_timeouts(db, party=node.party, now=now)
    return report


def records_pass(make_session: sessionmaker[Session], now: dt.datetime, *, audit_key: Any, party: str,
                 sign_every: dt.timedelta | None) -> None:
    """Federation junk of the minutes that are over summarised into the audit chain (one entry per
    sender address and minute), then the chain's head signed if it moved (audit/heads.py)."""
    from evidex.audit.heads import ChainNotExtended, sign_head
    from evidex.exchange.service import summarise_junk  # the exchange builds on requests

    with make_session() as db:
        summarise_junk(db, now=now, party=party)
        db.commit()
    try:
        with make_session() as db:
            if sign_head(db, key=audit_key, party=party, now=now, min_interval=sign_every) is not None:
                db.commit()
    except ChainNotExtended as e:  # never sign a rewritten chain; say so loudly, every pass
        log.error("audit head NOT signed: %s", e)


SPOOL_SWEEP_EVERY = 600.0  # seconds; orphans are only removed after an hour anyway


class DeadlineWatcher:
    """Runs run_once every `interval` seconds in a daemon thread (the server's in-process worker)."""

    def __init__(self, make_session: sessionmaker[Session], clock: Callable[[], dt.datetime],
                 party_tz: dict[str, str], interval: float = 60.0, node: Any = None, vault: Any = None,
                 spool: Any = None, faults: Faults = NO_FAULTS, audit_key: Any = None, party: str = "",
                 audit_sign_every: dt.timedelta = dt.timedelta(minutes=10)) -> None:
        self.make_session, self.clock, self.party_tz, self.interval = make_session, clock, party_tz, interval
        self.node = node  # with a federation identity, the same loop delivers the outbox and evidence packages
        self.vault = vault  # with the evidence vault, the same loop sweeps retention periods
        self.spool = spool  # and with the spool of received payloads, removes its orphan files
        self.faults = faults  # fault-injection points: a no-op outside tests (core/faults.py)
        self.audit_key, self.party, self.audit_sign_every = audit_key, party, audit_sign_every  # signed audit heads
        self._next_sweep = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="evidex-deadlines", daemon=True)
        self._thread.start()

    def stop_soon(self) -> None:
        """Ask the loop to end after the current pass (from a signal handler: no join)."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _packages(self) -> None:
        from evidex.evidence import packages

        try:
            t = packages.transfer_once(self.make_session, self.node, self.vault, self.clock(), clock=self.clock,
                                         faults=self.faults)
            v = packages.verify_received(self.make_session, self.node, self.vault, self.clock(), spool=self.spool)
            if t.chunks or t.sent or v:
                log.info("evidence packages: %d chunk(s) sent, %d package(s) complete, %d verified", t.chunks,
                         t.sent, v)
        except Exception:
            log.exception("evidence package pass failed; retrying")

    def run(self) -> None:
        """The loop in the calling thread, until stop() (`evidex worker` in the foreground)."""
        self._loop()

    def _loop(self) -> None:
        outbox_every = min(2.0, self.interval)  # messages to other nodes go out within seconds
        next_deadlines = 0.0
        while not self._stop.is_set():
            if self.node is not None:
                try:
                    d = outbox_pass(self.make_session, self.node, self.clock(), self.faults)
                    if d.delivered or d.dead:
                        log.info("outbox: %d delivered, %d retrying, %d dead", d.delivered, d.retried, d.dead)
                except Exception:  # a worker loop logs and retries; it never dies of one bad pass
                    log.exception("outbox pass failed; retrying")
                if self.vault is not None:
                    self._packages()
            if time.monotonic() >= next_deadlines:
                try:
                    r = run_once(self.make_session, self.clock(), self.party_tz, faults=self.faults)
                    if r.reminders or r.overdue or r.next_steps:
                        log.info("deadlines: %d reminder(s), %d overdue, %d next step(s)", r.reminders, r.overdue,
                                 r.next_steps)
                    sweep_short_lived(self.make_session, self.clock())
                    if self.audit_key is not None:
                        records_pass(self.make_session, self.clock(), audit_key=self.audit_key, party=self.party,
                                     sign_every=self.audit_sign_every)
                    if self.vault is not None:
                        from evidex.evidence.service import sweep_retention

                        with self.make_session() as db:
                            s = sweep_retention(db, vault=self.vault, now=self.clock())
                        if s.warned or s.disposed:
                            log.info("retention: %d review warning(s), %d disposed", s.warned, s.disposed)
                        from evidex.workers.uploads import sweep_uploads

                        sweep_uploads(self.make_session, self.vault, self.clock())
                    if self.node is not None and self.spool is not None and time.monotonic() >= self._next_sweep:
                        from evidex.exchange.service import sweep_spool

                        with self.make_session() as db:
                            sweep_spool(db, self.spool, self.clock())
                        self._next_sweep = time.monotonic() + SPOOL_SWEEP_EVERY  # lists the folder: not every pass
                except Exception:
                    log.exception("deadline pass failed; retrying in %ss", self.interval)
                next_deadlines = time.monotonic() + self.interval
            self._stop.wait(outbox_every if self.node is not None else self.interval)
