"""Test factories: users of each role and Party, cases, requests in any state."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from evidex.cases import service
from evidex.demo.data import command_for as command_for  # re-exported for the tests
from evidex.demo.data import shortest_path
from evidex.parties.roles import Principal, Role
from evidex.parties.service import create_user, principal_of
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


def new_request(db: Session, actor: Principal, law: service.Law, kind: str = "mutual_assistance",
                direction: Direction = "outgoing", case_ref: str = "K-1") -> Request:
    requesting, requested = DOCS[kind]
    if direction == "incoming" and actor.party != requested:
        raise ValueError("incoming requests are registered by the requested Party")
    if direction == "outgoing" and actor.party != requesting:
        raise ValueError("outgoing requests are drafted by the requesting Party")
    case = service.create_case(db, actor=actor, reference=f"{case_ref}-{kind}-{direction}", title="Test case", now=NOW)
    return service.create_request(db, actor=actor, law=law, case_id=case.id,
                                  document=document(kind, requesting, requested), now=NOW, direction=direction)




def sent_outside(event: str) -> service.Command | None:
    """The command of `event`: a send outside evidex (the requested Party has no node this node trusts,
    as in every test without federation) records the means, here e-mail (every route but Interpol's
    allows it: request_types.yaml outside_evidex); any other event carries nothing."""
    return service.Command(data={service.MEANS: "email"}) if event == "send_outside" else None


def transition_body(event: str, **more: Any) -> dict[str, Any]:
    """The JSON of POST /requests/{id}/transitions for `event` (a send outside evidex by e-mail)."""
    return {"event": event, **({"means": "email"} if event == "send_outside" else {}), **more}


def path_to(lifecycle: Any, direction: Direction, target: str, request_type: str) -> list[TransitionSpec]:
    return shortest_path(lifecycle, direction, target, request_type)
