"""The node's worker: one loop, in a daemon thread of the server or in `evidex worker`, that runs each
duty in turn — the outbox and evidence packages every 2 s (with a node identity), and every `interval`
seconds the deadlines, the short-lived rows, the audit records, retention, abandoned uploads and the
spool. One module per duty beside this one; a failing pass is logged and retried, never fatal."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from evidex.core.faults import NO_FAULTS, Faults
from evidex.rules import Rulebook
from evidex.workers.audit_heads import records_pass
from evidex.workers.deadlines import run_once
from evidex.workers.outbox import outbox_pass
from evidex.workers.packages import packages_pass
from evidex.workers.retention import retention_pass
from evidex.workers.short_lived import sweep_short_lived
from evidex.workers.spool import SPOOL_SWEEP_EVERY, spool_pass
from evidex.workers.uploads import sweep_uploads

log = logging.getLogger("evidex.worker")


class NodeWorker:
    """Runs the node's duties every `interval` seconds (the outbox every 2 s) until stopped."""

    def __init__(self, make_session: sessionmaker[Session], clock: Callable[[], dt.datetime],
                 party_tz: dict[str, str], interval: float = 60.0, node: Any = None, vault: Any = None,
                 spool: Any = None, faults: Faults = NO_FAULTS, audit_key: Any = None, party: str = "",
                 audit_sign_every: dt.timedelta = dt.timedelta(minutes=10), rulebook: Rulebook | None = None) -> None:
        self.make_session, self.clock, self.party_tz, self.interval = make_session, clock, party_tz, interval
        self.rulebook = rulebook  # the law the node works with (next steps); None: the shipped one
        self.node = node  # with a federation identity, the same loop delivers the outbox and evidence packages
        self.vault = vault  # with the evidence vault, the same loop sweeps retention periods
        self.spool = spool  # and with the spool of received payloads, removes its orphan files
        self.faults = faults  # fault-injection points: a no-op outside tests (core/faults.py)
        self.audit_key, self.party, self.audit_sign_every = audit_key, party, audit_sign_every  # signed audit heads
        self._next_sweep = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="evidex-worker", daemon=True)
        self._thread.start()

    def stop_soon(self) -> None:
        """Ask the loop to end after the current pass (from a signal handler: no join)."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run(self) -> None:
        """The loop in the calling thread, until stop() (`evidex worker` in the foreground)."""
        self._loop()

    def _every_few_seconds(self) -> None:
        if self.node is None:
            return
        try:
            d = outbox_pass(self.make_session, self.node, self.clock(), self.faults)
            if d.delivered or d.dead:
                log.info("outbox: %d delivered, %d retrying, %d dead", d.delivered, d.retried, d.dead)
        except Exception:  # a worker loop logs and retries; it never dies of one bad pass
            log.exception("outbox pass failed; retrying")
        if self.vault is not None:
            try:
                packages_pass(self.make_session, self.node, self.vault, self.clock, spool=self.spool,
                              faults=self.faults)
            except Exception:
                log.exception("evidence package pass failed; retrying")

    def _every_interval(self) -> None:
        try:
            r = run_once(self.make_session, self.clock(), self.party_tz, faults=self.faults, rulebook=self.rulebook)
            if r.reminders or r.overdue or r.next_steps:
                log.info("deadlines: %d reminder(s), %d overdue, %d next step(s)", r.reminders, r.overdue,
                         r.next_steps)
            sweep_short_lived(self.make_session, self.clock())
            if self.audit_key is not None:
                records_pass(self.make_session, self.clock(), audit_key=self.audit_key, party=self.party,
                             sign_every=self.audit_sign_every)
            if self.vault is not None:
                retention_pass(self.make_session, self.vault, self.clock())
                sweep_uploads(self.make_session, self.vault, self.clock())
            if self.node is not None and self.spool is not None and time.monotonic() >= self._next_sweep:
                spool_pass(self.make_session, self.spool, self.clock())
                self._next_sweep = time.monotonic() + SPOOL_SWEEP_EVERY  # lists the folder: not every pass
        except Exception:
            log.exception("deadline pass failed; retrying in %ss", self.interval)

    def _loop(self) -> None:
        outbox_every = min(2.0, self.interval)  # messages to other nodes go out within seconds
        next_deadlines = 0.0
        while not self._stop.is_set():
            self._every_few_seconds()
            if time.monotonic() >= next_deadlines:
                self._every_interval()
                next_deadlines = time.monotonic() + self.interval
            self._stop.wait(outbox_every if self.node is not None else self.interval)
