"""Batched delivery: several envelopes in one POST and one transaction on each side; a message that
is authentic but cannot be applied is refused on its own, leaving nothing behind, while the rest
of the batch is received. On SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from evidex.audit.models import AuditEntry
from evidex.core.canonical import canonical_sha256
from evidex.exchange import service as exchange
from evidex.exchange.models import InboxMessage, OutboxMessage, Receipt
from tests.exchange.conftest import Link
from tests.exchange.test_faults import count, deliver, incoming, now, send_request


def test_one_post_carries_the_batch_and_a_refusal_stays_alone(two_nodes):
    rs, me = two_nodes
    link = Link(me, now)
    first = send_request(rs, kind="preservation")
    with rs.sessions() as db:  # a decision about a conversation ME has never heard of: refused there
        exchange.enqueue(db, node=rs.identity, recipient="ME", type="decision", conversation_id="no-such-conversation",
                         payload={"event": "record_refusal", "reasons": "x"}, now=now())
        db.commit()
    second = send_request(rs, kind="mutual_assistance")
    posts = []
    original = link.client_for

    def counting(peer):  # type: ignore[no-untyped-def]
        client = original(peer)
        client.event_hooks["request"].append(lambda request: posts.append(request.url.path))
        return client

    r = exchange.deliver_once(rs.sessions, rs.identity, now(), client_for=counting)
    assert (r.delivered, r.dead, r.retried) == (2, 1, 0)
    assert posts == ["/ME/federation/v1/batch"]  # three messages, one POST
    assert {x.conversation_id for x in incoming(me)} == {str(first), str(second)}
    assert count(me, InboxMessage) == 2
    with me.sessions() as db:
        refusal = db.execute(sa.select(AuditEntry).where(AuditEntry.action == "federation.reject")).scalar_one()
        assert refusal.details["reason"] == "not_applicable" and "no-such-conversation" in refusal.details["detail"]
    with rs.sessions() as db:
        dead = db.execute(sa.select(OutboxMessage).where(OutboxMessage.status == "dead")).scalar_one()
        assert dead.type == "decision" and "HTTP 422" in dead.last_error
        assert db.execute(sa.select(sa.func.count()).select_from(Receipt).where(
            Receipt.kind == "delivery", Receipt.issuer == "ME")).scalar_one() == 2
    # As if the sender died after the reply, before recording it: sent again, answered from the inbox,
    # nothing stored twice.
    with rs.sessions() as db:
        db.execute(sa.delete(Receipt).where(Receipt.kind == "delivery"))
        db.execute(sa.update(OutboxMessage).where(OutboxMessage.status == "delivered").values(status="pending"))
        db.commit()
    assert deliver(rs, link).delivered == 2 and count(me, InboxMessage) == 2 and len(incoming(me)) == 2


def test_large_payloads_cross_as_attachments_exactly_once(two_nodes):
    rs, me = two_nodes
    link = Link(me, now)
    blobs = [str(i) * 300_000 for i in range(3)]  # 300-600 kB each: attachments
    with rs.sessions() as db:
        for i, blob in enumerate(blobs):
            exchange.enqueue(db, node=rs.identity, recipient="ME", type="data_transmitted", conversation_id=f"big-{i}",
                             payload={"i": i, "blob": blob}, now=now())
        db.commit()
    assert deliver(rs, link).delivered == 3
    with me.sessions() as db:
        stored = {exchange.inbox_payload(m, me.spool)["i"]: m for m in db.execute(sa.select(InboxMessage)).scalars()}
        assert {i: exchange.inbox_payload(m, me.spool)["blob"] for i, m in stored.items()} == dict(enumerate(blobs))
        # over 64 KiB: each in a file of the receiver's spool, named in its row, not in the row itself
        assert all(m.body is None and me.spool.path(m.body_file or "").is_file() for m in stored.values())
        assert all(m.payload_sha256 == canonical_sha256({"i": i, "blob": blobs[i]}) for i, m in stored.items())
