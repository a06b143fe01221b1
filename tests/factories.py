"""Test factories: users of each role and Party, cases, requests in any state."""

from __future__ import annotations

import copy
import datetime as dt
from collections import deque
from typing import Any

from sqlalchemy.orm import Session

from evidex.parties.roles import Principal, Role
from evidex.parties.service import create_user, principal_of
from evidex.requests import service
from evidex.requests.lifecycle import Direction, TransitionSpec
from evidex.requests.models import Request
from tests.conftest import load_example

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def user(db: Session, party: str, role: Role, name: str | None = None, provider: str | None = None) -> Principal:
    u = create_user(db, username=name or f"{party.lower()}-{role.value}", display_name=f"{party} {role.value}",
                    party=party, role=role, now=NOW, password=None, provider=provider)  # no argon2: fast
    return principal_of(u)


def document(kind: str, requesting: str, requested: str) -> dict[str, Any]:
    d = copy.deepcopy(load_example(kind))
    d["requesting_party"], d["requested_party"] = requesting, requested
    for k in ("issued_on", "received_on"):
        if isinstance(d.get(k), dt.date):
            d[k] = d[k].isoformat()
    return d


# Documents that are admissible in both directions between RS and SI with the shipped profiles.
DOCS = {"mutual_assistance": ("RS", "SI"), "preservation": ("RS", "ME")}


def new_request(db: Session, actor: Principal, domain: service.Domain, kind: str = "mutual_assistance",
                direction: Direction = "outgoing", case_ref: str = "K-1") -> Request:
    requesting, requested = DOCS[kind]
    if direction == "incoming" and actor.party != requested:
        raise ValueError("incoming requests are registered by the requested Party")
    if direction == "outgoing" and actor.party != requesting:
        raise ValueError("outgoing requests are drafted by the requesting Party")
    case = service.create_case(db, actor=actor, reference=f"{case_ref}-{kind}-{direction}", title="Test case", now=NOW)
    return service.create_request(db, actor=actor, domain=domain, case_id=case.id,
                                  document=document(kind, requesting, requested), now=NOW, direction=direction)


def command_for(t: TransitionSpec, request_type: str) -> service.Command:
    grounds: list[str] = []
    if "refusal_grounds" in t.guards:
        grounds = ["ETS185 Art 29(5)(b)" if request_type == "preservation" else "ETS185 Art 27(4)(b)"]
    if "postponement_grounds" in t.guards:
        grounds = ["ETS185 Art 27(5)"]
    conditions = [{"kind": "use_limitation", "text": "Use only for case K-1"}] if "conditions" in t.guards else []
    return service.Command(reasons="Reasons stated in full" if "reasons" in t.guards else None,
                           grounds=grounds, conditions=conditions)


def path_to(lifecycle: Any, direction: Direction, target: str, preservation: bool) -> list[TransitionSpec]:
    """Shortest sequence of transitions from the initial state to `target` (BFS over the table)."""
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
            if "preservation" in t.guards and not preservation:
                continue
            prev[t.to] = (s, t)
            queue.append(t.to)
    if target not in prev:
        raise LookupError(target)
    steps = []
    cur = target
    while prev[cur] is not None:
        s, t = prev[cur]  # type: ignore[misc]
        steps.append(t)
        cur = s
    return list(reversed(steps))
