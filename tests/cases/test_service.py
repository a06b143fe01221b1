"""Requests through their service functions, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa

from evidex.cases import service
from evidex.core.errors import Conflict, Forbidden, Invalid, NotFound
from evidex.parties.roles import Principal, Role
from evidex.requests.lifecycle import TransitionNotAllowed, default_lifecycle
from evidex.requests.models import Deadline, Decision, RequestCondition, RequestEvent
from tests.factories import NOW, command_for, document, new_request, path_to, sent_outside, user

LC = default_lifecycle()
LAW = service.Law()
# A node whose federation reaches every Party: `send` delivers through evidex (the outbox is not hooked).
NODE_LAW = dataclasses.replace(LAW, reaches=lambda db, party, now: True)
TRANSITIONS = sorted({(d, s, e) for (d, s, e) in LC.table}, key=str)


def actors(db):
    """Two people of each role in RS (four eyes), and the same roles in SI and ME."""
    out = {}
    for party in ("RS", "SI", "ME"):
        for role in Role:
            if role is Role.system:
                out[(party, role)] = Principal.system(party)
                continue
            out[(party, role)] = user(db, party, role, provider="Zgled Mail d.o.o." if role is Role.service_provider else None)
        out[(party, "second")] = user(db, party, Role.central_authority, name=f"{party.lower()}-second")
    return out


def run(db, people, req, t, party, now=NOW):
    role = t.roles[0]
    actor = people[(party, role)]
    if "four_eyes" in t.guards and req.created_by == actor.user_id:
        actor = people[(party, "second")]
    means = service.outside_means(LAW, req, now) if "outside_evidex" in t.guards else None
    return service.transition(db, actor=actor, law=NODE_LAW if "evidex_node" in t.guards else LAW,
                              request_id=req.id, event=t.event, now=now,
                              command=command_for(t, req.request_type, means, (req.verdict or {}).get("route")))


@pytest.mark.parametrize(("direction", "state", "event"), TRANSITIONS)
def test_every_allowed_transition_through_the_service(db, direction, state, event):
    t = LC.table[(direction, state, event)]
    # The mutual assistance example is not urgent: an emergency send alone is shown with the preservation.
    kind = ("mutual_assistance" if LC.concerns(event, "mutual_assistance") and "four_eyes_waived" not in t.guards
            else "preservation")
    people = actors(db)
    party = "RS" if direction == "outgoing" else ("ME" if kind == "preservation" else "SI")
    creator = people[(party, Role.central_authority)]
    req = new_request(db, creator, LAW, kind=kind, direction=direction)
    for step in path_to(LC, direction, state, kind):
        req = run(db, people, req, step, party)
    assert req.status == state
    # A preservation lapses only once its period has run out (ETS185 Art 29(7)).
    later = req.preserved_until + dt.timedelta(days=1) if "lapsed" in t.guards else None
    req = run(db, people, req, t, party, now=dt.datetime.combine(later, dt.time(12), dt.UTC) if later else NOW)
    assert req.status == t.to
    last = db.execute(sa.select(RequestEvent).where(RequestEvent.request_id == req.id)
                      .order_by(RequestEvent.seq.desc())).scalars().first()
    assert (last.event, last.from_status, last.to_status) == (event, state, t.to)


def test_forbidden_transitions_raise_and_list_the_allowed_ones(db):
    people = actors(db)
    rs = people[("RS", Role.central_authority)]
    req = new_request(db, rs, LAW)
    with pytest.raises(TransitionNotAllowed) as e:
        service.transition(db, actor=rs, law=LAW, request_id=req.id, event="send", now=NOW)
    assert "check" in e.value.allowed
    # Another role of the same Party may not move it either (the lifecycle table names the roles).
    dpo = user(db, "RS", Role.data_protection_officer, name="dpo2")
    with pytest.raises(TransitionNotAllowed, match="role data_protection_officer"):
        service.transition(db, actor=dpo, law=LAW, request_id=req.id, event="check", now=NOW)


def test_an_inadmissible_request_cannot_be_checked_approved_or_sent(db):
    people = actors(db)
    rs = people[("RS", Role.central_authority)]
    case = service.create_case(db, actor=rs, reference="K-9", title="t", now=NOW)
    doc = document("mutual_assistance", "RS", "SI")
    doc["elements"].pop("offence")
    req = service.create_request(db, actor=rs, law=LAW, case_id=case.id, document=doc, now=NOW)
    assert req.admissible is False and req.status == "draft"
    with pytest.raises(Invalid) as e:
        service.transition(db, actor=rs, law=LAW, request_id=req.id, event="check", now=NOW)
    assert ("offence", "ETS185 Art 25(4)") in {(p["element"], p["article"]) for p in e.value.problems}
    assert db.get(type(req), req.id).status == "draft"
    doc["elements"]["offence"] = "Computer-related fraud"
    service.update_document(db, actor=rs, law=LAW, request_id=req.id, document=doc, now=NOW)
    req = service.transition(db, actor=rs, law=LAW, request_id=req.id, event="check", now=NOW)
    with pytest.raises(Invalid, match="four eyes"):
        service.transition(db, actor=rs, law=LAW, request_id=req.id, event="approve", now=NOW)
    req = service.transition(db, actor=people[("RS", "second")], law=LAW, request_id=req.id, event="approve", now=NOW)
    # The document is edited after approval: back to draft, a new check and approval are needed.
    service.update_document(db, actor=rs, law=LAW, request_id=req.id, document=doc, now=NOW)
    with pytest.raises(TransitionNotAllowed):
        service.transition(db, actor=rs, law=LAW, request_id=req.id, event="send", now=NOW)


def test_another_partys_user_gets_not_found_everywhere(db):
    people = actors(db)
    rs = people[("RS", Role.central_authority)]
    req = new_request(db, rs, LAW)
    for role in Role:
        if role is Role.system:
            continue
        si = people[("SI", role)]
        with pytest.raises(NotFound):
            service.get_request(db, actor=si, request_id=req.id, now=NOW)
        with pytest.raises(NotFound):
            service.history(db, actor=si, request_id=req.id)
        with pytest.raises(NotFound):
            service.check_request(db, actor=si, law=LAW, request_id=req.id, now=NOW)
        with pytest.raises((NotFound, Forbidden)):
            service.transition(db, actor=si, law=LAW, request_id=req.id, event="check", now=NOW)
        with pytest.raises(NotFound):
            service.get_case(db, actor=si, case_id=req.case_id)
        assert service.list_requests(db, actor=si, case_id=req.case_id)[1] == 0  # its case's requests: none visible


def test_a_provider_sees_only_requests_addressed_to_it(db):
    people = actors(db)
    si = people[("SI", Role.central_authority)]
    case = service.create_case(db, actor=si, reference="K-P", title="t", now=NOW)
    incoming = service.create_request(db, actor=si, law=LAW, case_id=case.id,
                                      document=document("give_effect_order", "RS", "SI"), now=NOW, direction="incoming")
    mine = people[("SI", Role.service_provider)]  # acts for Zgled Mail d.o.o., the addressee
    other = user(db, "SI", Role.service_provider, name="other-provider", provider="Another ISP")
    assert service.get_request(db, actor=mine, request_id=incoming.id, now=NOW).id == incoming.id
    with pytest.raises(NotFound):
        service.get_request(db, actor=other, request_id=incoming.id, now=NOW)
    assert service.list_requests(db, actor=other, case_id=case.id)[1] == 0
    with pytest.raises(NotFound):
        service.get_case(db, actor=mine, case_id=case.id)


def test_refusal_needs_reasons_and_a_ground_of_the_request_type(db):
    people = actors(db)
    si = people[("SI", Role.central_authority)]
    req = new_request(db, si, LAW, direction="incoming")
    for cmd, msg in [(service.Command(), "reasons"),
                     (service.Command(reasons="No."), "at least one ground"),
                     (service.Command(reasons="No.", grounds=["CETS224 Art 7(9)(a)"]), "not a ground")]:
        with pytest.raises(Invalid, match=msg):
            service.transition(db, actor=si, law=LAW, request_id=req.id, event="refuse", now=NOW, command=cmd)
    req = service.transition(db, actor=si, law=LAW, request_id=req.id, event="refuse", now=NOW,
                             command=service.Command(reasons="Essential interests", grounds=["ETS185 Art 27(4)(b)"]))
    d = db.execute(sa.select(Decision).where(Decision.request_id == req.id)).scalar_one()
    assert (d.kind, d.grounds, d.reasons) == ("refusal", ["ETS185 Art 27(4)(b)"], "Essential interests")


def test_accepted_conditions_bind(db):
    people = actors(db)
    rs = people[("RS", Role.central_authority)]
    req = new_request(db, rs, LAW)
    for ev, who in [("check", rs), ("approve", people[("RS", "second")]), ("send_outside", rs)]:
        req = service.transition(db, actor=who, law=LAW, request_id=req.id, event=ev, now=NOW, command=sent_outside(ev))
    req = service.transition(db, actor=rs, law=LAW, request_id=req.id, event="record_conditions", now=NOW,
                             command=service.Command(conditions=[{"kind": "confidentiality", "text": "Keep the request confidential"}]))
    c = db.execute(sa.select(RequestCondition).where(RequestCondition.request_id == req.id)).scalar_one()
    assert (c.status, c.binding, c.article) == ("proposed", False, "ETS185 Art 28(2)(a)")
    service.transition(db, actor=rs, law=LAW, request_id=req.id, event="accept_conditions", now=NOW)
    db.refresh(c)
    assert (c.status, c.binding) == ("accepted", True)


def test_preservation_deadlines(db):
    people = actors(db)
    me = people[("ME", Role.contact_24_7)]
    req = new_request(db, me, LAW, kind="preservation", direction="incoming")
    for ev in ("acknowledge", "preserve"):
        req = service.transition(db, actor=me, law=LAW, request_id=req.id, event=ev, now=NOW)
    assert req.preserved_until == dt.date(2026, 11, 23) + dt.timedelta(days=60)  # ETS185 Art 29(7)
    dls = {d.name: d for d in db.execute(sa.select(Deadline).where(Deadline.request_id == req.id)).scalars()}
    assert list(dls) == ["preservation_minimum"]  # one deadline for the preservation, not two
    exp = dls["preservation_minimum"]
    assert (exp.due_on, exp.remind_on, exp.article, exp.status) == (
        dt.date(2027, 1, 22), dt.date(2027, 1, 12), "ETS185 Art 29(7)", "open")
    later = NOW + dt.timedelta(days=50)
    req = service.transition(db, actor=me, law=LAW, request_id=req.id, event="renew", now=later)
    assert req.preserved_until == dt.date(2027, 3, 23)
    req = service.transition(db, actor=me, law=LAW, request_id=req.id, event="release", now=later,
                             command=service.Command(reasons="MLA request decided"))
    db.expire_all()
    assert {d.status for d in db.execute(sa.select(Deadline).where(Deadline.request_id == req.id)).scalars()} == {"cancelled"}


def test_optimistic_version(db):
    people = actors(db)
    rs = people[("RS", Role.central_authority)]
    req = new_request(db, rs, LAW)
    with pytest.raises(Conflict):
        service.transition(db, actor=rs, law=LAW, request_id=req.id, event="check", now=NOW, expected_version=99)


def test_roles_that_may_not_draft(db):
    people = actors(db)
    for role in (Role.service_provider, Role.notified_authority, Role.data_protection_officer, Role.administrator):
        with pytest.raises(Forbidden):
            service.create_case(db, actor=people[("RS", role)], reference="X", title="t", now=NOW)


def test_a_new_case_and_its_request_are_one_unit_of_work(db):
    """The drafting page saves a new case with its first request: a request refused leaves no case."""
    from evidex.cases.models import Case

    ca = user(db, "RS", Role.central_authority)
    db.commit()  # the user stays whatever the command does
    foreign = document("mutual_assistance", "SI", "RS")  # an outgoing request of RS must name RS as requesting
    with pytest.raises(Invalid, match="requesting Party"):
        service.create_request_in_new_case(db, actor=ca, law=LAW, reference="K-ORPHAN", title="Refused",
                                           document=foreign, now=NOW)
    assert db.execute(sa.select(Case).where(Case.reference == "K-ORPHAN")).first() is None
    req = service.create_request_in_new_case(db, actor=ca, law=LAW, reference="K-ORPHAN", title="Accepted",
                                             document=document("mutual_assistance", "RS", "SI"), now=NOW)
    assert db.get(Case, req.case_id).title == "Accepted"
