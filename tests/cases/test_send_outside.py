"""Parties without a node (issue 15 item 5): a request to a Party whose node this node does not trust
is never silently 'sent'. The person sends the official document outside evidex, by a means the route
allows, and records it (send_outside: means, who, when, the dispatch's reference); nothing goes to the
outbox. With a trusted node, `send` delivers through the outbox as before and sending outside is
refused. Decided at the moment of sending. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from evidex.audit.models import AuditEntry
from evidex.cases import service
from evidex.core.errors import Invalid
from evidex.exchange import flows, keys
from evidex.exchange import service as exchange
from evidex.exchange.models import OutboxMessage, Peer, PeerKeyRow
from evidex.parties.roles import Principal, Role
from evidex.requests.lifecycle import TransitionNotAllowed
from evidex.requests.models import Deadline, RequestEvent
from tests.factories import NOW, document, user

RS_NODE = keys.generate("RS", "https://rs.example:8443")
LAW = flows.federated(service.Law(), RS_NODE)  # the outbox hooked in, sends judged by the trust list


def trust(db: Session, party: str, *, until: dt.datetime | None = None) -> keys.NodeIdentity:
    """`party`'s node enters this node's trust list (`evidex peers add`)."""
    other = keys.generate(party, f"https://{party.lower()}.example:8443")
    exchange.add_peer(db, document=other.public_document(NOW - dt.timedelta(days=1),
                                                         until or NOW + dt.timedelta(days=365)),
                      now=NOW - dt.timedelta(hours=1), actor=Principal.system("RS"))
    return other


def distrust(db: Session, party: str) -> None:
    exchange.remove_peer(db, party=party, now=NOW - dt.timedelta(minutes=1), actor=Principal.system("RS"))


@pytest.fixture(autouse=True)
def no_node_trusted_yet(db: Session) -> None:
    """This node trusts no other node until a test says so: on the shared PostgreSQL database another test
    file may have committed peers (e.g. ME's); removed here within this test's transaction, rolled back after."""
    db.execute(sa.delete(PeerKeyRow))
    db.execute(sa.delete(Peer))
    db.flush()


def people(db: Session) -> dict[str, Principal]:
    tag = uuid.uuid4().hex[:6]
    return {"ca": user(db, "RS", Role.central_authority, name=f"ca-{tag}"),
            "ca2": user(db, "RS", Role.central_authority, name=f"ca2-{tag}"),
            "c247": user(db, "RS", Role.contact_24_7, name=f"c247-{tag}"),
            "c247b": user(db, "RS", Role.contact_24_7, name=f"c247b-{tag}")}


def approved(db: Session, who: dict[str, Principal], kind: str = "mutual_assistance", requested: str = "SI",
             **changes: object):
    doc = document(kind, "RS", requested)
    doc.update(changes)
    case = service.create_case(db, actor=who["ca"], reference=f"K-{uuid.uuid4().hex[:8]}", title="t", now=NOW)
    req = service.create_request(db, actor=who["ca"], law=LAW, case_id=case.id, document=doc, now=NOW)
    service.transition(db, actor=who["ca"], law=LAW, request_id=req.id, event="check", now=NOW)
    return service.transition(db, actor=who["ca2"], law=LAW, request_id=req.id, event="approve", now=NOW)


def outbox_of(db: Session, req) -> list[OutboxMessage]:
    return list(db.execute(sa.select(OutboxMessage).where(OutboxMessage.conversation_id == req.conversation_id))
                .scalars())


def outside(means: str | None, reference: str | None = None) -> service.Command:
    data = {service.MEANS: means} if means is not None else {}
    if reference is not None:
        data[service.DISPATCH_REFERENCE] = reference
    return service.Command(data=data)


def test_to_a_party_without_a_node_the_send_is_recorded_outside_evidex_and_nothing_goes_to_the_outbox(db):
    who = people(db)
    req = approved(db, who)  # RS -> SI; SI's node is not in this node's trust list
    assert not service.evidex_delivers(db, LAW, "SI", NOW)
    allowed = service.allowed_events(db, req, actor=who["ca"], law=LAW, now=NOW)
    assert "send_outside" in allowed and "send" not in allowed
    with pytest.raises(TransitionNotAllowed, match="SI has no evidex node this node trusts") as e:
        service.transition(db, actor=who["ca"], law=LAW, request_id=req.id, event="send", now=NOW)
    assert "send_outside" in e.value.allowed and "send" not in e.value.allowed
    # The means: required, and one the route allows (ETS185 Art 27(2)(b): post or e-mail; no fax
    # unless urgent, ETS185 Art 25(3); no Interpol on this channel).
    with pytest.raises(Invalid, match=r"needs the means .*: one of post, email \(the route of ETS185 Art 27\(2\)\(b\)"):
        service.transition(db, actor=who["ca"], law=LAW, request_id=req.id, event="send_outside", now=NOW,
                           command=outside(None))
    for wrong in ("fax", "interpol", "pigeon"):
        with pytest.raises(Invalid, match=rf"'{wrong}' is not a means this request's route allows: one of post, email"):
            service.transition(db, actor=who["ca"], law=LAW, request_id=req.id, event="send_outside", now=NOW,
                               command=outside(wrong))
    with pytest.raises(Invalid, match="longer than 200"):
        service.transition(db, actor=who["ca"], law=LAW, request_id=req.id, event="send_outside", now=NOW,
                           command=outside("post", "R" * 201))
    assert db.get(type(req), req.id).status == "approved"  # nothing half-written

    at = NOW + dt.timedelta(minutes=5)
    req = service.transition(db, actor=who["ca"], law=LAW, request_id=req.id, event="send_outside", now=at,
                             command=outside("post", "  RR123456789RS  "))
    assert req.status == "sent"
    last = db.execute(sa.select(RequestEvent).where(RequestEvent.request_id == req.id)
                      .order_by(RequestEvent.seq.desc())).scalars().first()
    assert (last.event, last.from_status, last.to_status) == ("send_outside", "approved", "sent")
    assert (last.actor, last.actor_role, last.at) == (who["ca"].username, "central_authority", at)
    assert last.data == {"means": "post", "dispatch_reference": "RR123456789RS", "route_article": "ETS185 Art 27(2)(b)"}
    entry = db.execute(sa.select(AuditEntry).where(AuditEntry.object_id == str(req.id),
                                                   AuditEntry.action == "request.send_outside")).scalar_one()
    assert entry.details["means"] == "post" and entry.details["delivered_by_evidex"] is False
    assert outbox_of(db, req) == []  # evidex delivered nothing


def test_an_urgent_request_may_also_go_by_fax_and_the_means_are_only_for_sending_outside(db):
    who = people(db)
    req = approved(db, who, urgent=True)  # ETS185 Art 25(3): expedited means, fax or e-mail
    assert service.outside_means(LAW, req, NOW) == ["post", "email", "fax"]
    req = service.transition(db, actor=who["ca"], law=LAW, request_id=req.id, event="send_outside", now=NOW,
                             command=outside("fax", "+386 1 000 0001"))
    with pytest.raises(Invalid, match="recorded only when a request is sent outside evidex"):
        service.transition(db, actor=who["ca"], law=LAW, request_id=req.id, event="record_acknowledgement",
                           now=NOW, command=outside("post"))


def test_to_a_party_with_a_trusted_node_evidex_delivers_and_sending_outside_is_refused(db):
    who = people(db)
    trust(db, "SI")
    req = approved(db, who)
    assert service.evidex_delivers(db, LAW, "SI", NOW)
    allowed = service.allowed_events(db, req, actor=who["ca"], law=LAW, now=NOW)
    assert "send" in allowed and "send_outside" not in allowed
    with pytest.raises(TransitionNotAllowed, match="SI has an evidex node this node trusts") as e:
        service.transition(db, actor=who["ca"], law=LAW, request_id=req.id, event="send_outside", now=NOW,
                           command=outside("post"))
    assert e.value.allowed == sorted(e.value.allowed) and "send" in e.value.allowed
    req = service.transition(db, actor=who["ca"], law=LAW, request_id=req.id, event="send", now=NOW)
    assert req.status == "sent"
    [message] = outbox_of(db, req)
    assert (message.recipient, message.type, message.status) == ("SI", "request", "pending")
    last = db.execute(sa.select(RequestEvent).where(RequestEvent.request_id == req.id)
                      .order_by(RequestEvent.seq.desc())).scalars().first()
    assert last.event == "send" and "means" not in last.data


def test_a_node_removed_from_the_trust_list_after_approval_means_sending_outside(db):
    who = people(db)
    trust(db, "SI")
    req = approved(db, who)  # drafted and approved while SI's node was trusted
    distrust(db, "SI")  # then removed from the trust list: decided at the moment of sending
    with pytest.raises(TransitionNotAllowed, match="none, or removed from the trust list"):
        service.transition(db, actor=who["ca"], law=LAW, request_id=req.id, event="send", now=NOW)
    req = service.transition(db, actor=who["ca"], law=LAW, request_id=req.id, event="send_outside", now=NOW,
                             command=outside("email"))
    assert req.status == "sent" and outbox_of(db, req) == []


def test_a_party_that_gets_a_node_after_approval_is_sent_to_through_evidex(db):
    who = people(db)
    req = approved(db, who)  # SI had no node when the request was drafted and approved
    assert "send_outside" in service.allowed_events(db, req, actor=who["ca"], law=LAW, now=NOW)
    trust(db, "SI")
    assert service.allowed_events(db, req, actor=who["ca"], law=LAW, now=NOW) == ["edit", "send", "withdraw"]
    req = service.transition(db, actor=who["ca"], law=LAW, request_id=req.id, event="send", now=NOW)
    assert [m.recipient for m in outbox_of(db, req)] == ["SI"]


def test_a_node_whose_keys_have_expired_is_not_reached(db):
    who = people(db)
    trust(db, "SI", until=NOW - dt.timedelta(minutes=1))  # in the list, but no key valid now to seal for it
    req = approved(db, who)
    assert not service.evidex_delivers(db, LAW, "SI", NOW)
    assert "send_outside" in service.allowed_events(db, req, actor=who["ca"], law=LAW, now=NOW)
    # A node without federation (no identity: no `reaches`) delivers to no one, whatever its peers.
    assert not service.evidex_delivers(db, service.Law(), "SI", NOW)


def test_deadlines_are_the_same_whichever_way_the_request_went(db):
    """No deadline of the rule data runs from the sending (they run from receipt or issue, or from
    service on the provider): a request sent outside evidex has the deadlines of one sent through it."""
    who = people(db)
    trust(db, "ME")
    through = approved(db, who, "preservation", "ME")
    service.transition(db, actor=who["ca"], law=LAW, request_id=through.id, event="send", now=NOW)
    distrust(db, "ME")
    away = approved(db, who, "preservation", "ME")
    service.transition(db, actor=who["ca"], law=LAW, request_id=away.id, event="send_outside", now=NOW,
                       command=outside("network_24_7"))

    def deadlines(req):
        return [(d.name, d.article, d.days, d.due_on, d.status) for d in db.execute(
            sa.select(Deadline).where(Deadline.request_id == req.id).order_by(Deadline.name)).scalars()]

    assert deadlines(through) == deadlines(away) != []
    assert deadlines(away)[0][:4] == ("preservation_minimum", "ETS185 Art 29(7)", 60, dt.date(2027, 1, 19))


def test_an_emergency_sent_alone_outside_evidex_keeps_the_review_by_a_second_person(db):
    who = people(db)
    case = service.create_case(db, actor=who["c247"], reference=f"E-{uuid.uuid4().hex[:6]}", title="t", now=NOW)
    req = service.create_request(db, actor=who["c247"], law=LAW, case_id=case.id, now=NOW,
                                 document=document("emergency_disclosure", "RS", "ME"))
    allowed = service.allowed_events(db, req, actor=who["c247"], law=LAW, now=NOW)
    assert "send_outside" in allowed and "send_alone" not in allowed  # ME has no node here
    assert service.outside_means(LAW, req, NOW) == ["network_24_7", "email"]  # CETS224 Art 9(1)(a), 9(4)
    req = service.transition(db, actor=who["c247"], law=LAW, request_id=req.id, event="send_outside", now=NOW,
                             command=outside("network_24_7"))
    assert req.status == "sent" and outbox_of(db, req) == []
    last = db.execute(sa.select(RequestEvent).where(RequestEvent.request_id == req.id)
                      .order_by(RequestEvent.seq.desc())).scalars().first()
    assert last.data["four_eyes"] == "waived" and last.data["waiver_article"] == "CETS224 Art 9"
    events = service.history(db, actor=who["c247"], request_id=req.id)
    deadlines = service.deadlines_of(db, actor=who["c247"], request_id=req.id)
    four_eyes = service.four_eyes_of(req, events, deadlines, actor=who["c247b"], law=LAW)
    assert four_eyes.sent_alone_by == who["c247"].username and four_eyes.viewer_may_review
    with pytest.raises(Invalid, match="someone other than the person who sent it"):
        service.review_send(db, actor=who["c247"], law=LAW, request_id=req.id, now=NOW)
    service.review_send(db, actor=who["c247b"], law=LAW, request_id=req.id, now=NOW)
    assert {d.name: d.status for d in service.deadlines_of(db, actor=who["ca"], request_id=req.id)}[
        service.REVIEW_DEADLINE] == "met"
