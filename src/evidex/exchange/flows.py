"""How the lifecycle crosses nodes: which transitions announce a message to the other Party's
node, and what an arriving message does here. Data first: the two tables below."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from evidex.exchange import service as exchange
from evidex.exchange.envelope import Headers
from evidex.exchange.keys import NodeIdentity
from evidex.exchange.models import Receipt
from evidex.parties.roles import Principal
from evidex.requests import service as requests
from evidex.requests.models import Request

log = logging.getLogger("evidex.exchange")

# Transition (event) here → message type to the other Party's node.
ANNOUNCED = {
    "send": "request",  # outgoing: the request itself
    "acknowledge": "acknowledgement",  # incoming: receipt acknowledged to the requesting Party
}
# Message type arriving → the record_* event it applies to our outgoing request.
APPLIED = {
    "acknowledgement": "record_acknowledgement",
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
        kind = ANNOUNCED.get(event)
        if kind is None:
            return
        payload: dict[str, Any] = {"status": req.status}
        if kind == "request":
            payload = {"document": req.document, "request_type": req.request_type}
        ia = req.document.get("issuing_authority") if isinstance(req.document, dict) else None
        exchange.enqueue(db, node=node, recipient=other, type=kind, conversation_id=req.conversation_id,
                         payload=payload, now=now,
                         issuing_authority=ia.get("name") if isinstance(ia, dict) else None)

    return announce


def applier(node: NodeIdentity, domain: requests.Domain):  # type: ignore[no-untyped-def]
    system = Principal.system(node.party)

    def apply(db: Session, headers: Headers, payload: dict[str, Any], now: dt.datetime) -> None:
        if headers.type == "request":
            document = payload.get("document")
            if not isinstance(document, dict):
                raise exchange.FederationError("a request message carries a document")
            requests.register_incoming(db, domain=domain, party=node.party, sender=headers.sender,
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
        event = APPLIED.get(headers.type)
        if event is None:
            log.info("stored %s message %s; no automatic step for it yet", headers.type, headers.msg_id)
            return
        req = requests.find_by_conversation(db, party=node.party, conversation_id=headers.conversation_id)
        if req is None or req.requested_party != headers.sender:
            raise exchange.FederationError(f"no request of this node in conversation {headers.conversation_id}")
        requests.transition(db, actor=system, domain=domain, request_id=req.id, event=event, now=now)

    return apply
