"""The next due deadline a request's row keeps (Request.next_due_on and next_due_name, issue 14: the list
sorts and filters on them) through random sequences of what happens to requests: drafting and
registering, edits, checks, every transition the lifecycle offers the people at hand, emergencies sent
alone and reviewed, the deadline watcher's marks, refused commands and time passing. After every step
the kept values equal a recomputation from the deadlines (the ranking the list did before, in SQL), the
list's due orders and due-date filter follow them, and a request's version counts its own changes only.
On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from evidex.cases import service
from evidex.core.db import make_engine, make_sessionmaker
from evidex.core.errors import EvidexError
from evidex.parties.roles import Principal, Role
from evidex.requests.models import Deadline, Request
from evidex.workers.deadlines import run_once
from tests.factories import NOW, command_for, document, user

pytestmark = pytest.mark.slow  # about a minute: random runs on both databases

LAW = service.Law()
# (type, requesting, requested) of documents the rules engine admits with the shipped profiles, and
# the deadlines they bring: none, the preservation period, a registrar's 10 days, a dated and an
# undated one (give effect), an emergency (sent alone, then reviewed).
OUTGOING = [("mutual_assistance", "RS", "SI"), ("preservation", "RS", "ME"), ("domain_registration", "RS", "ME"),
            ("give_effect_order", "RS", "SI"), ("emergency_disclosure", "RS", "ME")]
INCOMING = [("preservation", "RS", "ME"), ("subscriber_order", "ME", "RS"), ("give_effect_order", "RS", "SI"),
            ("domain_registration", "RS", "ME")]
EVENT_WEIGHTS = {"preserve": 6, "record_preserved": 6, "renew": 4, "send_outside": 3, "send_alone": 3, "approve": 3,
                 "check": 2}
PEOPLE = {"RS": (Role.central_authority, Role.contact_24_7, Role.competent_authority),
          "ME": (Role.central_authority, Role.contact_24_7), "SI": (Role.central_authority,)}


def recomputed(db: Session) -> dict[uuid.UUID, tuple[Any, ...]]:
    """Each request's (kept date, kept name, date, name of its next due deadline ranked from the
    deadlines, party, urgent, created_at) — the ranking the list used to do on every call."""
    ranked = (sa.select(Deadline.request_id, Deadline.due_on, Deadline.name, sa.func.row_number().over(
        partition_by=Deadline.request_id, order_by=(Deadline.due_on, Deadline.name)).label("rank"))
        .where(Deadline.status.in_(("open", "overdue")), Deadline.due_on.is_not(None)).subquery())
    rows = db.execute(sa.select(Request.id, Request.next_due_on, Request.next_due_name, ranked.c.due_on,
                                ranked.c.name, Request.party, Request.urgent, Request.created_at)
                      .outerjoin(ranked, sa.and_(ranked.c.request_id == Request.id, ranked.c.rank == 1))).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def versions(db: Session) -> dict[uuid.UUID, int]:
    return {rid: version for rid, version in db.execute(sa.select(Request.id, Request.version))}


def check_kept(sessions: sessionmaker[Session], people: dict[Any, Principal],
               rng: random.Random) -> dict[uuid.UUID, tuple[Any, ...]]:
    """Every request's kept next due deadline is the recomputed one, and the lists read it; returns
    what is kept (request -> date, name)."""
    with sessions() as db:
        rows = recomputed(db)
        for rid, (kept_on, kept_name, due_on, name, *_) in rows.items():
            assert (kept_on, kept_name) == (due_on, name), rid
        for party in PEOPLE:
            mine = {rid: r for rid, r in rows.items() if r[4] == party}
            check_list(db, people[(party, Role.central_authority, 0)], mine, rng)
    return {rid: r[:2] for rid, r in rows.items()}


def check_list(db: Session, actor: Principal, mine: dict[uuid.UUID, tuple[Any, ...]], rng: random.Random) -> None:
    """The list of `actor`'s Party in each order that reads the next due date, and filtered by it."""

    def listed(**kw: Any) -> list[uuid.UUID]:
        items, total = service.list_requests(db, actor=actor, limit=200, **kw)
        assert total == len(items)
        for x in items:  # what a row shows is the next due deadline, as recomputed
            assert (x.next_due_on, x.next_due_name) == mine[x.request.id][2:4]
        return [x.request.id for x in items]

    def by(key: Callable[[tuple[Any, ...]], tuple[Any, ...]]) -> list[uuid.UUID]:
        return sorted(mine, key=lambda rid: (*key(mine[rid]), rid))  # ties: by id, as the list

    last = dt.date.max.toordinal()
    assert listed(sort="due") == by(lambda r: (r[2] is None, r[2] or dt.date.min, r[6]))
    assert listed(sort="-due") == by(lambda r: (r[2] is None, last - (r[2] or dt.date.min).toordinal(), r[6]))
    assert listed(sort="urgency") == by(lambda r: (not r[5], r[2] is None, r[2] or dt.date.min, r[6]))
    day = NOW.date() + dt.timedelta(days=rng.randint(-5, 120))
    assert set(listed(due_before=day)) == {rid for rid, r in mine.items() if r[2] is not None and r[2] < day}


def shifted(doc: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The document with its dates moved (its deadlines move with them) and, sometimes, urgent."""
    days = dt.timedelta(days=rng.randint(-40, 10))
    for key in ("issued_on", "received_on"):
        if doc.get(key):
            doc[key] = (dt.date.fromisoformat(str(doc[key])) + days).isoformat()
    if doc["type"] in ("preservation", "mutual_assistance"):
        doc["urgent"] = rng.random() < 0.5
    return doc


class World:
    """The people, the clock and the requests of one random run."""

    def __init__(self, sessions: sessionmaker[Session], rng: random.Random) -> None:
        self.sessions, self.rng, self.now = sessions, rng, NOW
        self.people: dict[Any, Principal] = {}
        with sessions() as db:
            for party, roles in PEOPLE.items():
                for role in roles:
                    for n in (0, 1):  # two of each: four eyes
                        self.people[(party, role, n)] = user(db, party, role, name=f"{party}-{role.value}-{n}")
                self.people[(party, Role.system, 0)] = Principal.system(party)
            db.commit()
        self.requests: list[uuid.UUID] = []

    def someone(self, party: str, roles: list[Role], not_user: uuid.UUID | None = None) -> Principal | None:
        choices = [p for (pa, role, _), p in self.people.items() if pa == party and role in roles
                   and (not_user is None or p.user_id != not_user)]
        return self.rng.choice(choices) if choices else None

    # ------------------------------------------------------------------ steps: each returns the request
    # it may have changed (its version may grow by one) or None (no version may change).
    def create(self, db: Session) -> uuid.UUID | None:
        rng = self.rng
        if rng.random() < 0.6:
            kind, requesting, requested = rng.choice(OUTGOING)
            actor = self.someone(requesting, [Role.central_authority, Role.contact_24_7])
            direction = "outgoing"
        else:
            kind, requesting, requested = rng.choice(INCOMING)
            actor = self.someone(requested, [Role.central_authority])
            direction = "incoming"
        assert actor is not None
        doc = shifted(document(kind, requesting, requested), rng)
        if direction == "incoming" and rng.random() < 0.5:  # from the other node
            req = service.register_incoming(db, law=LAW, party=requested, sender=requesting, document=doc,
                                            conversation_id=str(uuid.uuid4()), now=self.now)
        else:
            case = service.create_case(db, actor=actor, reference=f"K-{uuid.uuid4().hex[:8]}", title="t", now=self.now)
            req = service.create_request(db, actor=actor, law=LAW, case_id=case.id, document=doc, now=self.now,
                                         direction=direction)  # type: ignore[arg-type]
        assert req.version == 1
        self.requests.append(req.id)
        self.returned = req
        return None  # a new request: version 1, checked above

    def transition(self, db: Session, req: Request) -> uuid.UUID | None:
        events = LAW.lifecycle.events_from(req.direction, req.status, None, req.request_type,  # type: ignore[arg-type]
                                           req.urgent)
        if not events:
            return None
        # Mostly forward, to the events that move deadlines most (a preservation's period); to the end less often.
        weights = [EVENT_WEIGHTS.get(e, 0.5 if LAW.lifecycle.table[(req.direction, req.status, e)].to  # type: ignore[index]
                                     in LAW.lifecycle.final else 1) for e in events]
        event = self.rng.choices(events, weights)[0]
        spec = LAW.lifecycle.table[(req.direction, req.status, event)]  # type: ignore[index]
        actor = self.someone(req.party, [r for r in spec.roles],
                             not_user=req.created_by if "four_eyes" in spec.guards else None)
        if actor is None:
            return None
        means = service.outside_means(LAW, req, self.now) if "outside_evidex" in spec.guards else None
        self.returned = service.transition(db, actor=actor, law=LAW, request_id=req.id, event=event, now=self.now,
                                           command=command_for(spec, req.request_type, means,
                                                                              (req.verdict or {}).get("route")))
        return req.id

    def edit(self, db: Session, req: Request) -> uuid.UUID | None:
        actor = self.someone(req.party, [Role.central_authority, Role.contact_24_7])
        assert actor is not None
        self.returned = service.update_document(db, actor=actor, law=LAW, request_id=req.id,
                                                document=shifted(dict(req.document), self.rng), now=self.now)
        return req.id

    def check(self, db: Session, req: Request) -> uuid.UUID | None:
        actor = self.someone(req.party, [Role.central_authority])
        assert actor is not None
        service.check_request(db, actor=actor, law=LAW, request_id=req.id, now=self.now)
        self.returned = db.get(Request, req.id)
        return req.id

    def review(self, db: Session, req: Request) -> uuid.UUID | None:
        actor = self.someone(req.party, [Role.central_authority])  # not the 24/7 contact who sent it alone
        assert actor is not None
        self.returned = service.review_send(db, actor=actor, law=LAW, request_id=req.id, now=self.now)
        return req.id

    def likely(self, db: Session, action: str) -> list[uuid.UUID]:
        """The requests `action` can change, mostly (any request, now and then: a refusal)."""
        if self.rng.random() < 0.2:
            return []
        if action == "edit":
            return [rid for rid in self.requests if service.is_editable(db.get(Request, rid))]  # type: ignore[arg-type]
        if action == "review":
            return list(db.execute(sa.select(Deadline.request_id).where(
                Deadline.name == service.REVIEW_DEADLINE, Deadline.status.in_(service.OPEN_DEADLINE))).scalars())
        return [rid for rid in self.requests if db.get(Request, rid).status not in LAW.lifecycle.final]  # type: ignore[union-attr]

    def step(self, action: str | None = None) -> None:
        rng = self.rng
        action = action or rng.choices(["create", "transition", "edit", "check", "review", "watch", "time"],
                                       weights=[4, 10, 3, 1, 2, 2, 2])[0]
        if action == "time" or (not self.requests and action != "create"):
            self.now += dt.timedelta(days=rng.choice([1, 2, 5, 12, 30, 65]), hours=rng.randint(0, 23))
            return
        if action == "watch":  # the deadline watcher, as the node runs it: reminders and overdue marks
            with self.sessions() as db:
                before = versions(db)
            run_once(self.sessions, self.now, party_tz=LAW.party_timezones(), rulebook=LAW.rulebook)
            with self.sessions() as db:
                assert versions(db) == before
            return
        with self.sessions() as db:
            before = versions(db)
            self.returned = None
            changed: uuid.UUID | None = None
            try:
                if action == "create":
                    self.create(db)
                else:
                    req = db.get(Request, rng.choice(self.likely(db, action) or self.requests))
                    assert req is not None
                    changed = getattr(self, action)(db, req)
            except EvidexError:  # refused (a guard, a review not due, a document that cannot change): nothing written
                db.rollback()
                changed, self.returned = None, None
            returned = self.returned
            if returned is not None:  # the object the service hands back agrees with its row
                kept = db.execute(sa.select(Request.next_due_on, Request.next_due_name, Request.version)
                                  .where(Request.id == returned.id)).one()
                assert (returned.next_due_on, returned.next_due_name, returned.version) == tuple(kept)
        with self.sessions() as db:
            after = versions(db)
        for rid, version in before.items():  # one more for the request changed (none if nothing did): never two
            assert after[rid] - version in ((0, 1) if rid == changed else (0,)), (action, rid)


@pytest.fixture
def sessions(own_database_url):
    engine = make_engine(own_database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.mark.parametrize("seed", range(5))
def test_the_kept_next_due_deadline_follows_random_lifecycles(sessions, seed):
    rng = random.Random(seed)
    world = World(sessions, rng)
    kept: dict[uuid.UUID, tuple[Any, ...]] = {}
    changes, statuses = 0, set()
    for n in range(81):
        if n < 80:
            world.step()
        else:  # at last, long after: every deadline still open is overdue
            world.now += dt.timedelta(days=400)
            world.step("watch")
        now_kept = check_kept(sessions, world.people, rng)
        changes += sum(1 for rid, value in kept.items() if now_kept[rid] != value)
        kept = now_kept
        with sessions() as db:
            statuses |= set(db.execute(sa.select(Deadline.status)).scalars())
    # The run did what it is meant to: next due deadlines changed on requests already there, and
    # deadlines were open, marked overdue by the watcher, and met or cancelled.
    assert changes >= 2 and {"open", "overdue"} <= statuses and statuses & {"met", "cancelled"}, (changes, statuses)


def test_two_deadlines_on_one_day_the_name_decides_and_the_review_ends_it(sessions):
    """An urgent preservation received 59 days ago, sent alone today (outside evidex: ME has no node): its
    period and the second person's review both fall due tomorrow; the review (by name first) is next
    until it is given."""
    people = World(sessions, random.Random(0)).people
    alone, second = people[("RS", Role.contact_24_7, 0)], people[("RS", Role.contact_24_7, 1)]
    doc = document("preservation", "RS", "ME")
    doc["urgent"] = True
    doc["issued_on"] = doc["received_on"] = (NOW.date() - dt.timedelta(days=59)).isoformat()
    with sessions() as db:
        case = service.create_case(db, actor=alone, reference="K-tie", title="t", now=NOW)
        req = service.create_request(db, actor=alone, law=LAW, case_id=case.id, document=doc, now=NOW)
        assert (req.next_due_on, req.next_due_name, req.version) == (NOW.date() + dt.timedelta(days=1),
                                                                      "preservation_minimum", 1)
        req = service.transition(db, actor=alone, law=LAW, request_id=req.id, event="send_outside", now=NOW,
                                 command=service.Command(data={service.MEANS: "email"}))  # ME: no node
        assert (req.next_due_on, req.next_due_name, req.version) == (NOW.date() + dt.timedelta(days=1),
                                                                      "four_eyes_review", 2)
        later = NOW + dt.timedelta(days=3)
        run_once(sessions, later, party_tz=LAW.party_timezones(), rulebook=LAW.rulebook)  # both overdue: still due
    with sessions() as db:
        assert db.get(Request, req.id).next_due_name == "four_eyes_review"
        req = service.review_send(db, actor=second, law=LAW, request_id=req.id, now=later)
        assert (req.next_due_on, req.next_due_name, req.version) == (NOW.date() + dt.timedelta(days=1),
                                                                      "preservation_minimum", 3)
        req = service.transition(db, actor=alone, law=LAW, request_id=req.id, event="withdraw", now=later,
                                 command=service.Command(reasons="No longer needed"))
        assert (req.next_due_on, req.next_due_name) == (None, None)
    with sessions() as db:
        assert recomputed(db)[req.id][:4] == (None, None, None, None)
