"""Demo data for a node: users of every role and requests in every state of the lifecycle.

Running it twice changes nothing (the demo administrator marks that it ran)."""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from evidex.cases import examples, service
from evidex.core.db import command
from evidex.parties.models import User
from evidex.parties.roles import Principal, Role
from evidex.parties.service import create_user, principal_of
from evidex.requests.lifecycle import Direction, Lifecycle, TransitionSpec
from evidex.requests.models import Request
from evidex.rules import default_rulebook

DEMO_PASSWORD = "evidex-demo-2026"  # demo only: printed by `evidex demo`, never used in production
DEMO_PROVIDER = {"RS": "Primer Telekom a.d.", "ME": "Primjer Chat d.o.o.", "SI": "Zgled Mail d.o.o."}
# The partner Party for each kind of demo request, and documents admissible both ways.
PARTNER = {"mutual_assistance": "SI", "preservation": "ME"}


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    totp_secret: str | None


def shortest_path(lifecycle: Lifecycle, direction: Direction, target: str, request_type: str) -> list[TransitionSpec]:
    """The shortest sequence of transitions from the initial state to `target` (BFS over the table) for
    a request of this type, with four eyes (an emergency send alone is never on the way). The demo node
    trusts no other Party's node: its requests leave evidex by the means their route allows."""
    start = lifecycle.initial(direction)
    prev: dict[str, tuple[str, TransitionSpec] | None] = {start: None}
    queue = deque([start])
    while queue:
        s = queue.popleft()
        if s == target:
            break
        for (d, src, _), t in sorted(lifecycle.table.items(), key=lambda kv: kv[0]):
            if d != direction or src != s or t.to in prev:
                continue
            if not lifecycle.concerns(t.event, request_type) or {"four_eyes_waived", "evidex_node"} & set(t.guards):
                continue
            prev[t.to] = (s, t)
            queue.append(t.to)
    if target not in prev:
        raise LookupError(f"{target} is not reachable for {direction} requests")
    steps: list[TransitionSpec] = []
    cur = target
    while (link := prev[cur]) is not None:
        cur, t = link
        steps.append(t)
    return list(reversed(steps))


def command_for(t: TransitionSpec, request_type: str, means: list[str] | None = None,
                route: Any = None) -> service.Command:
    """A command that satisfies the guards of `t` (demo and tests); `means`: those the request's route
    allows outside evidex (the first is recorded by a send outside evidex); `route`: the request's verdict's
    (under an MLA treaty, the grounds are the treaty's: ETS185 Art 25(4), 27(1))."""
    grounds: list[str] = []
    if "refusal_grounds" in t.guards:
        grounds = _ground(request_type, "refusal", route,
                          "ETS185 Art 29(5)(b)" if request_type == "preservation" else "ETS185 Art 27(4)(b)")
    if "postponement_grounds" in t.guards:
        grounds = _ground(request_type, "postponement", route, "ETS185 Art 27(5)")
    conditions = ([{"kind": "use_limitation", "text": "Use only for the investigation named in the request"}]
                  if "conditions" in t.guards else [])
    data = ({service.MEANS: means[0], service.DISPATCH_REFERENCE: "RR 000 000 001 RS (demo)"}
            if "outside_evidex" in t.guards and means else {})
    return service.Command(reasons="Reasons stated in full for the demo" if "reasons" in t.guards else None,
                           grounds=grounds, conditions=conditions, data=data)


def _ground(request_type: str, kind: Literal["refusal", "postponement"], route: Any, preferred: str) -> list[str]:
    """`preferred` where it is a ground open for the request, else the first that is."""
    spec = default_rulebook().types.get(request_type)
    open_ = [g.article for g in spec.answer_grounds(kind, route)] if spec is not None else []
    return [preferred] if preferred in open_ or not open_ else [open_[0]]


def example_document(kind: str, requesting: str, requested: str) -> dict[str, Any]:
    doc = service.json_safe(examples.load_example(kind))  # shipped with the package (cases/examples.py)
    doc["requesting_party"], doc["requested_party"] = requesting, requested
    return doc


@command
def load_demo(db: Session, *, law: service.Law, party: str, now: dt.datetime) -> tuple[bool, list[DemoLogin]]:
    """Create the demo users and requests of `party`, all in one transaction (the marker user with
    everything else: a demo cut short leaves nothing); returns (created now?, logins)."""
    marker = f"{party.lower()}-admin"
    if db.execute(sa.select(User.id).where(User.username == marker)).first():
        return False, logins(db, party)
    people: dict[str, Principal] = {}
    for role in Role:
        if role is Role.system:
            continue
        username = f"{party.lower()}-{role.value.replace('_', '-')}"
        if role is Role.administrator:
            username = marker
        u = create_user(db, username=username, display_name=f"Demo {role.value.replace('_', ' ')} ({party})",
                        party=party, role=role, now=now, password=DEMO_PASSWORD,
                        provider=DEMO_PROVIDER.get(party, f"Demo Provider ({party})") if role is Role.service_provider else None)
        people[role.value] = principal_of(u)
    second = create_user(db, username=f"{party.lower()}-central-authority-2", display_name=f"Demo second reviewer ({party})",
                         party=party, role=Role.central_authority, now=now, password=DEMO_PASSWORD)
    people["second"] = principal_of(second)
    n = 0

    def story(kind: str, direction: Direction, partner: str, state: str, start: dt.datetime, *,
              creator: Principal, title: str, now_for_lapse: dt.datetime) -> Request:
        nonlocal n
        n += 1
        steps = shortest_path(law.lifecycle, direction, state, kind)
        requesting, requested = (party, partner) if direction == "outgoing" else (partner, party)
        case = service.create_case(db, actor=creator, reference=f"DEMO-{n:03d}", title=title, now=start)
        req = service.create_request(db, actor=creator, law=law, case_id=case.id,
                                     document=example_document(kind, requesting, requested), now=start,
                                     direction=direction)
        for t in steps:
            role = t.roles[0]
            actor = Principal.system(party) if role is Role.system else people[role.value]
            if "four_eyes" in t.guards and req.created_by == actor.user_id:
                actor = people["second"]
            means = service.outside_means(law, req, start) if "outside_evidex" in t.guards else None
            req = service.transition(db, actor=actor, law=law, request_id=req.id, event=t.event,
                                     now=now_for_lapse if "lapsed" in t.guards else start,
                                     command=command_for(t, req.request_type, means, (req.verdict or {}).get("route")))
        return req

    for direction in ("outgoing", "incoming"):
        for kind, partner in PARTNER.items():
            for state in sorted(law.lifecycle.states):
                try:
                    steps = shortest_path(law.lifecycle, direction, state, kind)
                except LookupError:
                    continue
                if kind == "preservation" and state not in ("draft", "received") and _reachable(
                        law.lifecycle, direction, state, "mutual_assistance"):
                    continue  # the states both share are shown by the mutual assistance requests
                # A lapsed preservation was preserved more than the period ago (ETS185 Art 29(7)): its story
                # starts then, so that its state and its dates agree. Two days more than the period: the
                # period is counted in calendar days where the requested Party is, and a change of summer
                # time between then and now moves its local date against UTC (one day more failed the demo
                # between 22:00 and 23:00 UTC in December: preserved on 2 October there, 1 October in UTC).
                lapses = any("lapsed" in t.guards for t in steps)
                period = law.rulebook.value(service.PRESERVATION_PERIOD, on=now.date())
                start = now - dt.timedelta(days=period + 2) if lapses else now
                story(kind, direction, partner, state, start, creator=people["central_authority"],
                      title=f"Demo: {kind.replace('_', ' ')} {direction}, {state}", now_for_lapse=now)
    # What a desk meets on a working day (the dashboard): an emergency that has just arrived, one the
    # 24/7 contact sent alone last night (its review is due: CETS224 Art 9, four eyes afterwards), and a
    # preservation whose minimum period ends within the week (ETS185 Art 29(7)).
    partner = PARTNER["preservation"]
    story("emergency_disclosure", "incoming", partner, "received", now - dt.timedelta(minutes=20),
          creator=people["contact_24_7"], title="Demo: emergency disclosure received", now_for_lapse=now)
    night = now - dt.timedelta(hours=9)
    alone = story("emergency_disclosure", "outgoing", partner, "draft", night, creator=people["contact_24_7"],
                  title="Demo: emergency disclosure sent alone at night", now_for_lapse=now)
    # ME's node is not in the demo node's trust list: sent outside evidex, through the 24/7 network.
    service.transition(db, actor=people["contact_24_7"], law=law, request_id=alone.id, event="send_outside",
                       now=night, command=service.Command(data={service.MEANS: "network_24_7"}))
    period = law.rulebook.value(service.PRESERVATION_PERIOD, on=now.date())
    story("preservation", "outgoing", partner, "preserved", now - dt.timedelta(days=period - 5),
          creator=people["contact_24_7"], title="Demo: preservation ending this week", now_for_lapse=now)
    return True, logins(db, party)


def _reachable(lifecycle: Lifecycle, direction: Direction, state: str, request_type: str) -> bool:
    try:
        shortest_path(lifecycle, direction, state, request_type)
    except LookupError:
        return False
    return True


def logins(db: Session, party: str) -> list[DemoLogin]:
    rows = db.execute(sa.select(User).where(User.party == party, User.username.like(f"{party.lower()}-%"))
                      .order_by(User.username)).scalars()
    return [DemoLogin(u.username, u.role, u.totp_secret) for u in rows]
