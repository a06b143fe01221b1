"""How the lifecycle crosses nodes: which transitions announce a message to the other Party's
node, and what an arriving message does here. Data first: the two tables below."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from evidex.cases import service as requests
from evidex.exchange import service as exchange
from evidex.exchange.envelope import Headers
from evidex.exchange.keys import NodeIdentity
from evidex.exchange.models import Receipt
from evidex.parties.roles import Principal
from evidex.requests.models import Request, RequestEvent

log = logging.getLogger("evidex.exchange")

# Transition (event) here → (message type, record_* event it applies at the other node). One
# table for both directions: the requested Party's answers, and the requesting Party's answers to
# proposed conditions.
ANNOUNCED: dict[str, tuple[str, str | None]] = {
    "send": ("request", None),  # the request itself: registered as received there
    "send_alone": ("request", None),  # the same, sent by a 24/7 contact alone in an emergency
    "acknowledge": ("acknowledgement", "record_acknowledgement"),
    "start_execution": ("decision", "record_in_execution"),
    "execute": ("decision", "record_execution"),
    "execute_partly": ("decision", "record_partial_execution"),
    "refuse": ("decision", "record_refusal"),  # with reasons and grounds (ETS185 Art 27(7))
    "postpone": ("decision", "record_postponement"),
    "propose_conditions": ("conditions", "record_conditions"),  # ETS185 Art 28(2); CETS224 Art 8(8), 9(6)
    "preserve": ("decision", "record_preserved"),
    "transmit_data": ("decision", "record_data_received"),
    "accept_conditions": ("conditions_answer", "record_conditions_accepted"),  # binding (ETS185 Art 28(3))
    "decline_conditions": ("conditions_answer", "record_conditions_declined"),
}


def announcer(node: NodeIdentity):  # type: ignore[no-untyped-def]
    def announce(db: Session, req: Request, event: str, now: dt.datetime) -> None:
        other = req.requested_party if req.direction == "outgoing" else req.requesting_party
        if exchange.active_peer(db, other) is None or req.conversation_id is None:
            return  # not a federated Party: handled outside evidex
        if event == "read":
            if req.direction == "incoming" and not db.execute(sa.select(Receipt.id).where(
                    Receipt.conversation_id == req.conversation_id, Receipt.kind == "retrieval",
                    Receipt.issuer == node.party)).first():
                token = exchange.sign_receipt(node, kind="retrieval", msg_id=req.conversation_id,
                                              conversation_id=req.conversation_id,
                                              payload_sha256=exchange.canonical_sha256(req.document), at=now)
                db.add(Receipt(msg_id=req.conversation_id, conversation_id=req.conversation_id, kind="retrieval",
                               issuer=node.party, positive=True, token=token, at=now))
                exchange.enqueue(db, node=node, recipient=other, type="receipt", conversation_id=req.conversation_id,
                                 payload={"kind": "retrieval", "token": token}, now=now)
            return
        announced = ANNOUNCED.get(event)
        if announced is None:
            return
        kind, remote_event = announced
        if kind == "request":
            payload: dict[str, Any] = {"document": req.document, "request_type": req.request_type}
        else:
            last = db.execute(sa.select(RequestEvent).where(RequestEvent.request_id == req.id)
                              .order_by(RequestEvent.seq.desc()).limit(1)).scalar_one()
            # The day the preservation began, as the event recorded it: the requesting node counts
            # its period from the same day (by the period in force on that day).
            preserved_on = last.data.get("preserved_on") if event == "preserve" else None
            payload = {"event": remote_event, "status": req.status, "reasons": last.reasons,
                       "grounds": last.data.get("grounds", []), "conditions": last.data.get("conditions", []),
                       "preserved_on": preserved_on}
        ia = req.document.get("issuing_authority") if isinstance(req.document, dict) else None
        exchange.enqueue(db, node=node, recipient=other, type=kind, conversation_id=req.conversation_id,
                         payload=payload, now=now,
                         issuing_authority=ia.get("name") if isinstance(ia, dict) else None)

    return announce


EVIDENCE_MESSAGES = frozenset({"evidence_manifest", "evidence_receipt"})
# What a node does with a received message, in the transaction that stores it.
Apply = Callable[[Session, Headers, dict[str, Any], dt.datetime], None]


def applier(node: NodeIdentity, law: requests.Law, evidence: Apply | None = None):  # type: ignore[no-untyped-def]
    """`evidence` (evidence.packages.message_handler) applies evidence messages; without it they are
    refused. Passed in: evidence builds on the exchange, so the exchange never imports it."""
    system = Principal.system(node.party)

    def apply(db: Session, headers: Headers, payload: dict[str, Any], now: dt.datetime) -> None:
        if headers.type in EVIDENCE_MESSAGES:
            if evidence is None:
                raise exchange.FederationError("this node stores no evidence")
            evidence(db, headers, payload, now)
            return
        if headers.type == "request":
            document = payload.get("document")
            if not isinstance(document, dict):
                raise exchange.FederationError("a request message carries a document")
            requests.register_incoming(db, law=law, party=node.party, sender=headers.sender,
                                       document=document, conversation_id=headers.conversation_id, now=now)
            return
        if headers.type == "receipt":
            token = payload.get("token")
            if isinstance(token, str):
                exchange.verify_receipt(token, trust=exchange.load_trust(db), party=headers.sender, at=now)
                db.add(Receipt(msg_id=headers.conversation_id, conversation_id=headers.conversation_id,
                               kind=str(payload.get("kind", "retrieval")), issuer=headers.sender, positive=True,
                               token=token, at=now))
            return
        event = payload.get("event")
        if headers.type not in ("acknowledgement", "decision", "conditions", "conditions_answer") or \
                event not in {e for _, e in ANNOUNCED.values() if e}:
            log.info("stored %s message %s; no step applies", headers.type, headers.msg_id)
            return
        req = requests.find_by_conversation(db, party=node.party, conversation_id=headers.conversation_id)
        other = (req.requested_party if req.direction == "outgoing" else req.requesting_party) if req else None
        if req is None or other != headers.sender:
            raise exchange.FederationError(f"no request of this node in conversation {headers.conversation_id}")
        cmd = requests.Command(reasons=payload.get("reasons"), grounds=list(payload.get("grounds") or []),
                               conditions=list(payload.get("conditions") or []),
                               data={"preserved_on": payload["preserved_on"]} if payload.get("preserved_on") else {})
        requests.transition(db, actor=system, law=law, request_id=req.id, event=str(event), now=now,
                            command=cmd)

    return apply
