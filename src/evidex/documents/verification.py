"""Verifying an official document on this node: against the trust list and the node's own key,
recorded in the audit log (who verified which file, when, and the answer), and for the public
page limited per client address.

Verification is not scoped by Party: it reads nothing the node holds. The caller brings the file,
and the answer says only what the file itself carries (the seal names its Party and authority, and
holds the signed request and text) and whether this node trusts the key that sealed it — which the
public page tells anyone. So any signed-in person, of any Party or role, may verify any document."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from evidex.audit import service as audit
from evidex.core import ratelimit
from evidex.core.db import command, recorded
from evidex.core.errors import TooManyRequests
from evidex.documents.seal import NotAPdf, Verification, verify_pdf
from evidex.exchange import service as exchange
from evidex.exchange.keys import NodeIdentity
from evidex.exchange.trust import PeerKey, TrustList
from evidex.parties.roles import Principal, Role

ALWAYS_FROM = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
ALWAYS_UNTIL = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


def anonymous(party: str) -> Principal:
    """Who verified on the public page: nobody signed in (the audit entry keeps the client address)."""
    return Principal(user_id=None, username="anonymous", party=party, role=Role.system)


def own_key(node: NodeIdentity) -> PeerKey:
    """This node's signing key: it trusts what it sealed itself, whenever it sealed it."""
    return PeerKey(party=node.party, jwk=node.signing_jwk, valid_from=ALWAYS_FROM, valid_until=ALWAYS_UNTIL)


def trust_of(peers: TrustList, *, node: NodeIdentity | None = None,
             node_documents: Iterable[dict[str, Any]] = ()) -> TrustList:
    """The keys a document may be sealed with: the peers' (the trust list, with its validity and
    revocations), this node's own, and those of public node documents given (this node's earlier
    `node.json` after a new identity, or a peer's, for a check without a database)."""
    trust = TrustList(list(peers.keys))
    if node is not None:
        trust.add(own_key(node))
    for document in node_documents:
        for key in TrustList.from_public_document(document):
            if key.use == "sig":
                trust.add(key)
    return trust


@command
def check_rate(db: Session, *, client: str, now: dt.datetime, per_address: int, window_seconds: int) -> None:
    """Count a verification from a client address on the public page (TooManyRequests beyond the
    limit: each one reads a PDF of up to 16 MB); the count is committed at once, as sign-in's."""
    try:
        ratelimit.hit(db, key=f"verify:address:{client}", limit=per_address, window_seconds=window_seconds, now=now)
    except TooManyRequests as e:
        raise recorded(db, e) from None


@command
def verify_document(db: Session, *, pdf: bytes, actor: Principal, now: dt.datetime, node: NodeIdentity | None,
                    node_documents: Iterable[dict[str, Any]] = (), channel: str,
                    client: str | None = None) -> Verification:
    """Verify `pdf` (seal.verify_pdf) with the trust list, this node's key and `node_documents`,
    and record who asked, through which `channel` (api, web, public page, cli), and the answer. A
    file that cannot be read is recorded too, then refused (NotAPdf)."""
    details: dict[str, Any] = {"channel": channel, "sha256": hashlib.sha256(pdf).hexdigest(), "size": len(pdf)}
    if client is not None:
        details["client"] = client
    try:
        result = verify_pdf(pdf, trust=trust_of(exchange.load_trust(db), node=node, node_documents=node_documents))
    except NotAPdf as e:
        audit.record(db, actor=actor, action="document.verify", object_type="document", object_id=details["sha256"],
                     at=now, details={**details, "result": "unreadable", "problem": str(e)})
        raise recorded(db, e) from None
    details.update(result=result.status, signer=result.party, authority=result.authority, kid=result.kid,
                   signed_at=result.signed_at.isoformat() if result.signed_at else None,
                   request_id=result.request_id, differences=len(result.differences) + result.more_differences)
    audit.record(db, actor=actor, action="document.verify", object_type="document", object_id=details["sha256"],
                 at=now, details=details)
    return result
