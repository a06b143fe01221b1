"""Never lost, never twice: the receiver down, a reply lost after the receiver stored the message,
the same message twice, a tampered ciphertext, a revoked key, a replay; the full lifecycle of a
refusal and of accepted conditions across two nodes. On SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from evidex.cases import service as requests
from evidex.exchange import flows
from evidex.exchange import service as exchange
from evidex.exchange.envelope import Headers, seal
from evidex.exchange.models import InboxMessage, OutboxMessage, Receipt
from evidex.exchange.trust import PeerKey
from evidex.parties.roles import Principal
from evidex.requests.models import Notification, Request, RequestCondition
from tests.exchange.conftest import NOW, Link
from tests.factories import document as example_document

T = [NOW]


def now() -> dt.datetime:
    return T[0]


def send_request(rs, kind="preservation"):
    """Draft, check, approve (second person) and send a request RS → ME; returns its id."""
    a, b = rs.people["p247"] if kind == "preservation" else rs.people["ca"], rs.people["ca2"]
    with rs.sessions() as db:
        case = requests.create_case(db, actor=a, reference=f"F-{T[0].timestamp()}-{kind}", title="t", now=now())
        req = requests.create_request(db, actor=a, law=rs.law, case_id=case.id,
                                      document=example_document(kind, "RS", "ME"), now=now())
        for who, ev in ((a, "check"), (b, "approve"), (a, "send")):
            requests.transition(db, actor=who, law=rs.law, request_id=req.id, event=ev, now=now())
        db.commit()
        return req.id


def deliver(node, link, at=None):
    return exchange.deliver_once(node.sessions, node.identity, at or now(), client_for=link.client_for)


def count(node, model, *where):
    with node.sessions() as db:
        return db.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one()


def incoming(me):
    with me.sessions() as db:
        return list(db.execute(sa.select(Request).where(Request.direction == "incoming")).scalars())


def test_receiver_down_then_back(two_nodes):
    rs, me = two_nodes
    link = Link(me, now, down=True)
    send_request(rs)
    r = deliver(rs, link)
    assert (r.delivered, r.retried) == (0, 1) and count(me, InboxMessage) == 0
    with rs.sessions() as db:
        msg = db.execute(sa.select(OutboxMessage)).scalar_one()
        assert msg.status == "pending" and msg.next_attempt_at > now() and "refused" in msg.last_error
    link.down = False
    assert deliver(rs, link).delivered == 0  # backoff: not yet
    r = deliver(rs, link, at=now() + dt.timedelta(minutes=5))
    assert r.delivered == 1 and len(incoming(me)) == 1


def test_reply_lost_after_the_receiver_stored_it(two_nodes):
    rs, me = two_nodes
    link = Link(me, now, drop_reply=True)
    send_request(rs)
    assert deliver(rs, link).retried == 1
    assert count(me, InboxMessage) == 1  # stored durably before replying
    link.drop_reply = False
    assert deliver(rs, link, at=now() + dt.timedelta(minutes=5)).delivered == 1
    assert link.deliveries == 2 and len(incoming(me)) == 1 and count(me, InboxMessage) == 1
    assert count(rs, Receipt, Receipt.kind == "delivery", Receipt.issuer == "ME") == 1


def test_same_envelope_twice_is_idempotent_and_a_reused_id_is_refused(two_nodes):
    rs, me = two_nodes
    h = Headers.new(sender="RS", recipient="ME", type="request", conversation_id="conv-1", now=now())
    doc = example_document("preservation", "RS", "ME")
    env = seal(payload={"document": doc}, headers=h, sender=rs.identity, recipient_encryption_jwk=me.identity.encryption_jwk)
    apply = flows.applier(me.identity, me.law)
    with me.sessions() as db:
        first = exchange.receive(db, node=me.identity, envelope=env.encode(), now=now(), apply=apply)
    with me.sessions() as db:
        second = exchange.receive(db, node=me.identity, envelope=env.encode(), now=now(), apply=apply)
    assert first == second and first[0] == 200 and len(incoming(me)) == 1
    forged = seal(payload={"document": {**doc, "case_reference": "ANOTHER-CASE"}}, headers=h, sender=rs.identity,
                  recipient_encryption_jwk=me.identity.encryption_jwk)
    with me.sessions() as db:
        status, body = exchange.receive(db, node=me.identity, envelope=forged.encode(), now=now(), apply=apply)
    assert status == 409 and len(incoming(me)) == 1
    claims = exchange.verify_receipt(body, trust=_trust_of_rs_view(rs), party="ME", at=now())
    assert claims["error"] == "replay"  # a signed error reply


def _trust_of_rs_view(rs):
    with rs.sessions() as db:
        return exchange.load_trust(db)


def test_tampered_ciphertext_and_revoked_key(two_nodes):
    rs, me = two_nodes
    h = Headers.new(sender="RS", recipient="ME", type="request", conversation_id="c2", now=now())
    env = seal(payload={"document": example_document("preservation", "RS", "ME")}, headers=h, sender=rs.identity,
               recipient_encryption_jwk=me.identity.encryption_jwk)
    parts = env.split(".")
    parts[3] = ("B" if parts[3][0] != "B" else "C") + parts[3][1:]
    apply = flows.applier(me.identity, me.law)
    with me.sessions() as db:
        assert exchange.receive(db, node=me.identity, envelope=".".join(parts).encode(), now=now(), apply=apply)[0] == 400
    with me.sessions() as db:
        exchange.remove_peer(db, party="RS", now=now() - dt.timedelta(minutes=1), actor=Principal.system("ME"))
        db.commit()
    with me.sessions() as db:
        assert exchange.receive(db, node=me.identity, envelope=env.encode(), now=now(), apply=apply)[0] == 403
    assert len(incoming(me)) == 0 and count(me, InboxMessage) == 0


def test_replay_outside_the_window_is_refused(two_nodes):
    rs, me = two_nodes
    h = Headers.new(sender="RS", recipient="ME", type="request", conversation_id="c3", now=now())
    env = seal(payload={"document": example_document("preservation", "RS", "ME")}, headers=h, sender=rs.identity,
               recipient_encryption_jwk=me.identity.encryption_jwk)
    with me.sessions() as db:
        status, _ = exchange.receive(db, node=me.identity, envelope=env.encode(), now=now() + dt.timedelta(hours=2),
                                     apply=flows.applier(me.identity, me.law))
    assert status == 400 and len(incoming(me)) == 0


def test_a_refusal_with_reasons_travels_back(two_nodes):
    rs, me = two_nodes
    link_rs_me, link_me_rs = Link(me, now), Link(rs, now)
    rid = send_request(rs, kind="preservation")
    deliver(rs, link_rs_me)
    (got,) = incoming(me)
    with me.sessions() as db:
        requests.transition(db, actor=me.people["p247"], law=me.law, request_id=got.id, event="refuse", now=now(),
                            command=requests.Command(reasons="Political offence", grounds=["ETS185 Art 29(5)(a)"]))
        db.commit()
    assert deliver(me, link_me_rs).delivered == 1
    with rs.sessions() as db:
        req = db.get(Request, rid)
        assert req.status == "refused"
        history = requests.history(db, actor=rs.people["ca"], request_id=rid)
        assert history[-1].event == "record_refusal" and history[-1].reasons == "Political offence"


def test_accepted_conditions_bind_on_both_nodes(two_nodes):
    rs, me = two_nodes
    to_me, to_rs = Link(me, now), Link(rs, now)
    rid = send_request(rs, kind="preservation")
    deliver(rs, to_me)
    (got,) = incoming(me)
    with me.sessions() as db:
        for ev, cmd in (("acknowledge", None), ("propose_conditions", requests.Command(
                conditions=[{"kind": "use_limitation", "text": "Only for case VTK-KTR-1127/2026"}]))):
            requests.transition(db, actor=me.people["p247"], law=me.law, request_id=got.id, event=ev, now=now(),
                                command=cmd)
        db.commit()
    assert deliver(me, to_rs).delivered == 2  # acknowledgement, then the conditions: in order
    with rs.sessions() as db:
        assert db.get(Request, rid).status == "conditions_proposed"
        requests.transition(db, actor=rs.people["p247"], law=rs.law, request_id=rid, event="accept_conditions",
                            now=now())
        db.commit()
    assert deliver(rs, to_me).delivered == 1
    for node, req_id in ((rs, rid), (me, got.id)):
        with node.sessions() as db:
            assert db.get(Request, req_id).status == "conditions_accepted"
            c = db.execute(sa.select(RequestCondition).where(RequestCondition.request_id == req_id)).scalar_one()
            assert (c.status, c.binding, c.text) == ("accepted", True, "Only for case VTK-KTR-1127/2026")


def test_dead_letter_after_the_configured_time(two_nodes):
    rs, me = two_nodes
    link = Link(me, now, down=True)
    send_request(rs)
    deliver(rs, link)
    r = deliver(rs, link, at=now() + dt.timedelta(hours=25))
    assert r.dead == 1
    with rs.sessions() as db:
        assert db.execute(sa.select(OutboxMessage.status)).scalar_one() == "dead"
        alerts = db.execute(sa.select(Notification.kind)).scalars().all()
        assert alerts == ["dead_letter"]
        # no delivery receipt within 24 h: a negative one, once, with an alert
        assert exchange.receipt_timeouts(db, party="RS", now=now() + dt.timedelta(hours=25)) == 1
        assert exchange.receipt_timeouts(db, party="RS", now=now() + dt.timedelta(hours=26)) == 0
        neg = db.execute(sa.select(Receipt).where(Receipt.positive.is_(False))).scalar_one()
        assert (neg.kind, neg.issuer, neg.token) == ("delivery", "ME", None)


def test_no_retrieval_receipt_within_36_hours(two_nodes):
    rs, me = two_nodes
    send_request(rs)
    deliver(rs, Link(me, now))
    with rs.sessions() as db:
        assert exchange.receipt_timeouts(db, party="RS", now=now() + dt.timedelta(hours=30)) == 0
        awaiting = sa.select(OutboxMessage.awaiting_receipt)
        assert db.execute(awaiting).scalar_one() is True  # delivered, its retrieval receipt still awaited
        assert exchange.receipt_timeouts(db, party="RS", now=now() + dt.timedelta(hours=37)) == 1
        kinds = db.execute(sa.select(Receipt.kind, Receipt.positive).order_by(Receipt.kind)).all()
        assert ("retrieval", False) in kinds and ("delivery", True) in kinds
        # Every receipt it expects is in: the pass never reads it again, even with its receipts gone.
        assert db.execute(awaiting).scalar_one() is False
        db.execute(sa.delete(Receipt))
        db.commit()
        assert exchange.receipt_timeouts(db, party="RS", now=now() + dt.timedelta(hours=48)) == 0


def test_a_rotated_key_still_verifies_old_receipts(two_nodes):
    rs, me = two_nodes
    send_request(rs)
    deliver(rs, Link(me, now))
    with rs.sessions() as db:
        token = db.execute(sa.select(Receipt.token).where(Receipt.kind == "delivery")).scalar_one()
        trust = exchange.load_trust(db)
    # ME rotates: a new key is added, the old one expires later; the old receipt still verifies as of its time.
    trust.add(PeerKey("ME", {**me.identity.signing_jwk, "kid": "new-key"}, now(), now() + dt.timedelta(days=400)))
    assert exchange.verify_receipt(token, trust=trust, party="ME", at=now())["receipt"] == "delivery"
