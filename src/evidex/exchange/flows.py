"""How the lifecycle crosses nodes: which transitions announce a message to the other Party's
node, and what an arriving message does here. Data first: the two tables below."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from evidex.cases import service as requests
from evidex.core.canonical import canonical_sha256
from evidex.exchange import protocol
from evidex.exchange import service as exchange
from evidex.exchange.keys import NodeIdentity
from evidex.exchange.models import Receipt
from evidex.exchange.protocol import Headers
from evidex.parties.roles import Principal
from evidex.requests.models import Request, RequestEvent

log = logging.getLogger("evidex.exchange")

# Transition (event) here → (message type, record_* event it applies at the other node). One
# table for both directions: the requested Party's answers, and the requesting Party's answers to
# proposed conditions.
ANNOUNCED: dict[str, tuple[type[protocol.Message], str | None]] = {
    "send": (protocol.RequestMessage, None),  # the request itself: registered as received there
    "send_alone": (protocol.RequestMessage, None),  # the same, sent by a 24/7 contact alone in an emergency
    "acknowledge": (protocol.AcknowledgementMessage, "record_acknowledgement"),
    "start_execution": (protocol.DecisionMessage, "record_in_execution"),
    "execute": (protocol.DecisionMessage, "record_execution"),
    "execute_partly": (protocol.DecisionMessage, "record_partial_execution"),
    "refuse": (protocol.DecisionMessage, "record_refusal"),  # with reasons and grounds (ETS185 Art 27(7))
    "postpone": (protocol.DecisionMessage, "record_postponement"),
    "propose_conditions": (protocol.ConditionsMessage, "record_conditions"),  # ETS185 Art 28(2); CETS224 Art 8(8), 9(6)
    "preserve": (protocol.DecisionMessage, "record_preserved"),
    "transmit_data": (protocol.DecisionMessage, "record_data_received"),
    "accept_conditions": (protocol.ConditionsAnswerMessage, "record_conditions_accepted"),  # binding (ETS185 Art 28(3))
    "decline_conditions": (protocol.ConditionsAnswerMessage, "record_conditions_declined"),
}
APPLIED = frozenset(e for _, e in ANNOUNCED.values() if e)  # the record_* events a step message may apply here


def federated(law: requests.Law, node: NodeIdentity) -> requests.Law:
    """`law` with the federation hooked in: each transition and audited read announced to the other
    Party's node through the outbox, and a send judged by whether evidex reaches that node."""
    return dataclasses.replace(law, announce=announcer(node), reaches=exchange.delivers_to)


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
                                              payload_sha256=canonical_sha256(req.document), at=now)
                db.add(Receipt(msg_id=req.conversation_id, conversation_id=req.conversation_id, kind="retrieval",
                               issuer=node.party, positive=True, token=token, at=now))
                exchange.send(db, node=node, recipient=other, conversation_id=req.conversation_id, now=now,
                              message=protocol.ReceiptMessage(kind="retrieval", token=token))
            return
        announced = ANNOUNCED.get(event)
        if announced is None:
            return
        kind, remote_event = announced
        message: protocol.Message
        if kind is protocol.RequestMessage:
            message = protocol.RequestMessage(document=req.document, request_type=req.request_type)
        else:
            last = db.execute(sa.select(RequestEvent).where(RequestEvent.request_id == req.id)
                              .order_by(RequestEvent.seq.desc()).limit(1)).scalar_one()
            # The day the preservation began, as the event recorded it: the requesting node counts
            # its period from the same day (by the period in force on that day).
            preserved_on = last.data.get("preserved_on") if event == "preserve" else None
            message = kind(event=str(remote_event), status=req.status, reasons=last.reasons,
                           grounds=list(last.data.get("grounds", [])), conditions=list(last.data.get("conditions", [])),
                           preserved_on=dt.date.fromisoformat(preserved_on) if preserved_on else None)
        ia = req.document.get("issuing_authority") if isinstance(req.document, dict) else None
        exchange.send(db, node=node, recipient=other, message=message, conversation_id=req.conversation_id, now=now,
                      issuing_authority=ia.get("name") if isinstance(ia, dict) else None)

    return announce


EVIDENCE_MESSAGES = frozenset({"evidence_manifest", "evidence_receipt"})
# What a node does with a received message, in the transaction that stores it.
Apply = Callable[[Session, Headers, protocol.EvidenceMessage, dt.datetime], None]


def applier(node: NodeIdentity, law: requests.Law, evidence: Apply | None = None):  # type: ignore[no-untyped-def]
    """`evidence` (evidence.packages.message_handler) applies evidence messages; without it they are
    refused. Passed in: evidence builds on the exchange, so the exchange never imports it."""
    system = Principal.system(node.party)

    def apply(db: Session, headers: Headers, message: protocol.Message, now: dt.datetime) -> None:
        if isinstance(message, protocol.EvidenceReceiptMessage | protocol.EvidenceManifestMessage):
            if evidence is None:
                raise exchange.FederationError("this node stores no evidence")
            evidence(db, headers, message, now)
            return
        if isinstance(message, protocol.RequestMessage):
            requests.register_incoming(db, law=law, party=node.party, sender=headers.sender,
                                       document=message.document, conversation_id=headers.conversation_id, now=now)
            return
        if isinstance(message, protocol.ReceiptMessage):
            exchange.verify_receipt(message.token, trust=exchange.load_trust(db), party=headers.sender, at=now)
            db.add(Receipt(msg_id=headers.conversation_id, conversation_id=headers.conversation_id,
                           kind=message.kind, issuer=headers.sender, positive=True, token=message.token, at=now))
            return
        if not isinstance(message, protocol.StepMessage) or message.event not in APPLIED:
            log.info("stored %s message %s; no step applies", headers.type, headers.msg_id)
            return
        req = requests.find_by_conversation(db, party=node.party, conversation_id=headers.conversation_id)
        other = (req.requested_party if req.direction == "outgoing" else req.requesting_party) if req else None
        if req is None or other != headers.sender:
            raise exchange.FederationError(f"no request of this node in conversation {headers.conversation_id}")
        cmd = requests.Command(reasons=message.reasons, grounds=list(message.grounds),
                               conditions=[dict(c) for c in message.conditions],
                               data={"preserved_on": message.preserved_on.isoformat()} if message.preserved_on else {})
        requests.transition(db, actor=system, law=law, request_id=req.id, event=message.event, now=now,
                            command=cmd)

    return apply
