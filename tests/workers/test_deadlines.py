"""The deadline worker with a frozen clock, and a worker killed mid-pass, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import uuid

import sqlalchemy as sa

from evidex.cases import service
from evidex.core.db import make_sessionmaker
from evidex.parties.roles import Role
from evidex.requests.models import Deadline, Notification
from evidex.workers.deadlines import run_once
from tests.conftest import run_cli
from tests.factories import NOW, document, new_request, user
from tests.faulty_node import command as faulty

LAW = service.Law()
TZ = LAW.party_timezones()


def at(day: str, hour: int = 9) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)


def preserved(engine):
    """An incoming preservation, preserved on 2026-11-23: lapses 2027-01-22, warning from 2027-01-12."""
    sessions = make_sessionmaker(engine)
    with sessions() as db:
        tag = uuid.uuid4().hex[:8]
        me = user(db, "ME", Role.contact_24_7, name=f"me-247-{tag}")
        req = new_request(db, me, LAW, kind="preservation", direction="incoming", case_ref=f"W{tag}")
        for ev in ("acknowledge", "preserve"):
            service.transition(db, actor=me, law=LAW, request_id=req.id, event=ev, now=NOW)
        db.commit()
        return sessions, req.id


def notes(sessions, request_id, deadline="preservation_minimum"):
    """(kind, article) of the notifications about one deadline of a request."""
    with sessions() as db:
        return [(n.kind, n.article) for n in db.execute(
            sa.select(Notification).join(Deadline, Deadline.id == Notification.deadline_id)
            .where(Notification.request_id == request_id, Deadline.name == deadline)
            .order_by(Notification.created_at, Notification.kind)).scalars()]


def test_preservation_warning_10_days_before_and_overdue_after(engine):
    sessions, rid = preserved(engine)
    run_once(sessions, at("2027-01-11"), TZ)
    assert ("reminder", "ETS185 Art 29(7)") not in notes(sessions, rid)
    run_once(sessions, at("2027-01-12"), TZ)
    assert notes(sessions, rid).count(("reminder", "ETS185 Art 29(7)")) == 1
    run_once(sessions, at("2027-01-12", 18), TZ)  # the same day again: nothing new
    assert notes(sessions, rid).count(("reminder", "ETS185 Art 29(7)")) == 1
    run_once(sessions, at("2027-01-22"), TZ)  # due today: not overdue yet
    with sessions() as db:
        d = db.execute(sa.select(Deadline).where(Deadline.request_id == rid, Deadline.name == "preservation_minimum")).scalar_one()
        assert d.status == "open"
    run_once(sessions, at("2027-01-23"), TZ)
    assert ("overdue", "ETS185 Art 29(7)") in notes(sessions, rid)
    with sessions() as db:
        d = db.execute(sa.select(Deadline).where(Deadline.request_id == rid, Deadline.name == "preservation_minimum")).scalar_one()
        assert d.status == "overdue" and d.overdue_at is not None


def test_time_zone_of_the_party(engine):
    """23:30 UTC on 2027-01-11 is already 2027-01-12 in Podgorica: the warning is due there."""
    sessions, rid = preserved(engine)
    run_once(sessions, dt.datetime(2027, 1, 11, 23, 30, tzinfo=dt.UTC), TZ)
    assert ("reminder", "ETS185 Art 29(7)") in notes(sessions, rid)


def test_lapsed_article_7_order_proposes_article_8(engine):
    sessions = make_sessionmaker(engine)
    with sessions() as db:
        tag = uuid.uuid4().hex[:8]
        rs = user(db, "RS", Role.competent_authority, name=f"rs-ca-{tag}")
        case = service.create_case(db, actor=rs, reference=f"A7-{tag}", title="Art 7", now=NOW)
        req = service.create_request(db, actor=rs, law=LAW, case_id=case.id,
                                     document=document("subscriber_order", "RS", "SI"), now=NOW)
        db.commit()
        due = db.execute(sa.select(Deadline.due_on).where(Deadline.request_id == req.id,
                                                          Deadline.name == "provider_response")).scalar_one()
    run_once(sessions, at((due + dt.timedelta(days=1)).isoformat()), TZ)
    kinds = notes(sessions, req.id, "provider_response")
    assert ("overdue", "CETS224 Art 7(7)") in kinds and ("next_step", "CETS224 Art 7(7)") in kinds
    with sessions() as db:
        msg = db.execute(sa.select(Notification.message).where(Notification.request_id == req.id,
                                                               Notification.kind == "next_step")).scalar_one()
    assert "CETS224 Art 8" in msg


def test_a_killed_worker_loses_no_reminder_and_duplicates_none(engine, database_url):
    sessions, rid1 = preserved(engine)
    _, rid2 = preserved(engine)
    r = subprocess.run([*faulty("worker_crash_after=1"), "worker", "--once", "--now", "2027-01-12T09:00:00+00:00"],
                       env={**os.environ, "EVIDEX_DATABASE_URL": database_url}, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == -signal.SIGKILL, r.stderr  # killed between writing and committing
    first = notes(sessions, rid1) + notes(sessions, rid2)
    assert first.count(("reminder", "ETS185 Art 29(7)")) == 0  # the uncommitted one is gone, not half-written
    r = run_cli("worker", "--once", "--now", "2027-01-12T09:05:00+00:00", env={"EVIDEX_DATABASE_URL": database_url})
    assert r.returncode == 0, r.stderr
    r = run_cli("worker", "--once", "--now", "2027-01-12T09:10:00+00:00", env={"EVIDEX_DATABASE_URL": database_url})
    for rid in (rid1, rid2):
        assert notes(sessions, rid).count(("reminder", "ETS185 Art 29(7)")) == 1
