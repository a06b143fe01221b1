"""Privacy (CETS224 Art 14): how long the personal data in evidence are kept — the periodic review
and the retention sweep (Art 14(5)) — and their onward transfer to a third State or international
organisation, only with the supplying Party's recorded authorisation (Art 14(10))."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from evidex.audit import service as audit
from evidex.cases import service as requests
from evidex.core.db import command, recorded
from evidex.core.errors import Conflict, Forbidden, Invalid
from evidex.evidence.models import EvidenceFile, OnwardAuthorisation
from evidex.evidence.service import DISPOSERS, Vault, custody, erase, get, verified_content
from evidex.parties.roles import Principal, Role

# --------------------------------------------------------------------------- retention (CETS224 Art 14(5))
RETENTION_WARNING = dt.timedelta(days=30)
RETENTION_KEEPERS = DISPOSERS


@command
def extend_retention(db: Session, *, actor: Principal, evidence_id: uuid.UUID, until: dt.datetime, reason: str,
                     now: dt.datetime) -> EvidenceFile:
    """The periodic review of CETS224 Art 14(5): the data are still needed, so they are kept longer."""
    if actor.role not in RETENTION_KEEPERS:
        raise Forbidden("retention is reviewed by the data protection officer or the central authority")
    ev = get(db, actor=actor, evidence_id=evidence_id)
    if ev.status != "sealed":
        raise Conflict(f"the evidence is {ev.status}")
    if until.tzinfo is None or until <= now:
        raise Invalid("retain_until must be a future time with its time zone")
    if not reason.strip():
        raise Invalid("say why the data are still needed (CETS224 Art 14(5))")
    before, ev.retain_until = ev.retain_until, until
    audit.record(db, actor=actor, action="evidence.retention_extended", object_type="evidence", object_id=str(ev.id),
                 at=now, details={"from": before.isoformat() if before else None, "to": until.isoformat(),
                                  "reason": reason.strip()})
    return ev


@dataclass
class RetentionReport:
    warned: int = 0
    disposed: int = 0


def sweep_retention(db: Session, *, vault: Vault, now: dt.datetime) -> RetentionReport:
    """Retention (CETS224 Art 14(5)): warn the Party's users a month before a file's retention
    period ends (time for the review), and dispose of it when it has ended without extension."""
    from evidex.requests.models import Notification

    report = RetentionReport()
    due = db.execute(sa.select(EvidenceFile).where(EvidenceFile.status == "sealed",
                                                   EvidenceFile.retain_until.is_not(None),
                                                   EvidenceFile.retain_until <= now + RETENTION_WARNING)
                     .order_by(EvidenceFile.retain_until)).scalars().all()
    for ev in due:
        assert ev.retain_until is not None
        if ev.retain_until <= now:
            erase(db, actor=Principal.system(ev.party), vault=vault, ev=ev, now=now,
                  reason=f"retention period ended on {ev.retain_until.date().isoformat()} (Party profile; "
                         "CETS224 Art 14(5))")
            report.disposed += 1
            continue
        marker = f"[evidence {ev.id}]"
        exists = db.execute(sa.select(Notification.id).where(Notification.request_id == ev.request_id,
                                                             Notification.kind == "retention_review",
                                                             Notification.message.contains(marker))).first()
        if not exists:
            db.add(Notification(party=ev.party, request_id=ev.request_id, deadline_id=None, kind="retention_review",
                                article="CETS224 Art 14(5)", created_at=now,
                                message=f"{marker} {ev.name}: its retention period ends on "
                                        f"{ev.retain_until.date().isoformat()}. Review whether it is still needed "
                                        "and extend it, or it will be disposed of."))
            report.warned += 1
    db.commit()
    return report



# --------------------------------------------------------------------------- onward transfer (CETS224 Art 14(10))
ONWARD_RECORDERS = frozenset({Role.central_authority, Role.data_protection_officer})
ONWARD_SENDERS = frozenset({Role.central_authority, Role.competent_authority})


@command
def record_onward_authorisation(db: Session, *, actor: Principal, request_id: uuid.UUID, recipient: str,
                                purpose: str, reference: str, now: dt.datetime) -> OnwardAuthorisation:
    """Record the transferring Party's authorisation to pass the data it supplied for this request
    on to a third State or international organisation (CETS224 Art 14(10))."""
    if actor.role not in ONWARD_RECORDERS:
        raise Forbidden("authorisations are recorded by the central authority or the data protection officer")
    req = requests.get_request(db, actor=actor, request_id=request_id, audit_read=False)
    if req.direction != "outgoing":
        raise Conflict("this node's Party supplied these data itself: it needs no other Party's authorisation")
    recipient, purpose, reference = recipient.strip(), purpose.strip(), reference.strip()
    if not (recipient and purpose and reference):
        raise Invalid("name the recipient, the purpose and the authorisation's reference")
    row = OnwardAuthorisation(party=actor.party, request_id=req.id, granted_by=req.requested_party,
                              recipient=recipient, purpose=purpose, reference=reference, recorded_by=actor.username,
                              recorded_at=now)
    db.add(row)
    db.flush()
    audit.record(db, actor=actor, action="evidence.onward_authorisation", object_type="request",
                 object_id=str(req.id), at=now,
                 details={"granted_by": req.requested_party, "recipient": recipient, "reference": reference})
    return row


def onward_authorisations(db: Session, *, actor: Principal, request_id: uuid.UUID) -> list[OnwardAuthorisation]:
    req = requests.get_request(db, actor=actor, request_id=request_id, audit_read=False)
    return list(db.execute(sa.select(OnwardAuthorisation).where(OnwardAuthorisation.request_id == req.id,
                                                               OnwardAuthorisation.party == actor.party)
                           .order_by(OnwardAuthorisation.recorded_at)).scalars())


@command
def onward_transfer(db: Session, *, actor: Principal, vault: Vault, evidence_id: uuid.UUID, recipient: str,
                    purpose: str, now: dt.datetime) -> tuple[EvidenceFile, OnwardAuthorisation | None, Iterator[bytes]]:
    """A copy for a third State or international organisation. Data another Party supplied go on
    only with that Party's recorded authorisation (CETS224 Art 14(10)); the copy is a custody event."""
    if actor.role not in ONWARD_SENDERS:
        raise Forbidden("onward transfers are made by the central authority or a competent authority")
    ev = get(db, actor=actor, evidence_id=evidence_id)
    from evidex.requests.models import Request

    req = db.get(Request, ev.request_id)
    assert req is not None
    recipient = recipient.strip()
    authorisation = None
    if req.direction == "outgoing":  # the data came from the requested Party
        authorisation = db.execute(sa.select(OnwardAuthorisation).where(
            OnwardAuthorisation.request_id == req.id, OnwardAuthorisation.party == actor.party,
            sa.func.lower(OnwardAuthorisation.recipient) == recipient.lower())
            .order_by(OnwardAuthorisation.recorded_at.desc()).limit(1)).scalar_one_or_none()
        if authorisation is None:
            audit.record(db, actor=actor, action="evidence.onward_refused", object_type="evidence",
                         object_id=str(ev.id), at=now, details={"recipient": recipient})
            # The refused attempt stays in the audit log.
            raise recorded(db, Forbidden(f"CETS224 Art 14(10): no authorisation of {req.requested_party} to transfer "
                                         f"these data to {recipient} has been recorded for this request"))
    if ev.status != "sealed" or ev.sha256 is None:
        raise Conflict(f"the evidence is {ev.status}")
    stream = verified_content(vault, ev)
    custody(db, ev, event="copied", actor=actor, at=now, vault=vault, hash_before=ev.sha256, hash_after=ev.sha256,
            details={"onward_transfer_to": recipient, "purpose": purpose.strip(),
                     "authorisation": authorisation.reference if authorisation else None,
                     "granted_by": authorisation.granted_by if authorisation else None})
    audit.record(db, actor=actor, action="evidence.onward_transfer", object_type="evidence", object_id=str(ev.id),
                 at=now, personal_data=True, details={"recipient": recipient})
    return ev, authorisation, stream
