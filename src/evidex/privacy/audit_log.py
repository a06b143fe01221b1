"""Reading the audit log: the data-protection officer's (and the administrator's) review of who did
what with personal data (CETS224 Art 14(8): records kept so that processing can be reviewed).

Above `audit` (which only writes and verifies the chain) and `parties` (who may read)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from evidex.audit import service as audit
from evidex.audit.heads import HeadKey, Verification, verify_and_sign
from evidex.audit.models import AuditEntry
from evidex.core.db import command
from evidex.core.errors import Forbidden, Invalid, NotFound
from evidex.parties.models import User
from evidex.parties.roles import Principal, Role

READERS = frozenset({Role.data_protection_officer, Role.administrator})  # CETS224 Art 14(8): logs kept for review


@dataclass(frozen=True)
class EntryFilter:
    """What `list_entries` selects; every field optional. `actor` is a username or a user id."""

    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: dt.datetime | None = None  # inclusive
    until: dt.datetime | None = None  # exclusive

    def as_details(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, dt.datetime) else v)
                for k, v in self.__dict__.items() if v is not None}


@command
def list_entries(db: Session, *, actor: Principal, where: EntryFilter, now: dt.datetime, limit: int = 50,
                 offset: int = 0) -> tuple[list[AuditEntry], int]:
    """Entries of `actor`'s Party, newest first, for its data-protection officer or administrator.
    The reading is itself recorded (who, which filter, how many seen), appended after the query:
    a reading never lists itself, and listing the readings is just another reading."""
    if actor.role not in READERS:
        raise Forbidden("the audit log is read by the data-protection officer or an administrator")
    if where.since is not None and where.until is not None and where.since >= where.until:
        raise Invalid("since must be before until")
    q = sa.select(AuditEntry).where(AuditEntry.party == actor.party)
    if where.actor is not None:
        q = q.where(AuditEntry.actor == _username(where.actor, actor.party))
    for column, value in ((AuditEntry.action, where.action), (AuditEntry.object_type, where.object_type),
                          (AuditEntry.object_id, where.object_id)):
        if value is not None:
            q = q.where(column == value)
    if where.since is not None:
        q = q.where(AuditEntry.at >= where.since)
    if where.until is not None:
        q = q.where(AuditEntry.at < where.until)
    total = db.execute(sa.select(sa.func.count()).select_from(q.subquery())).scalar_one()
    rows = list(db.execute(q.order_by(AuditEntry.seq.desc()).limit(limit).offset(offset)).scalars())
    audit.record(db, actor=actor, action="audit.read", object_type="audit_log", object_id=None, at=now,
           personal_data=True, details={"filter": where.as_details(), "offset": offset, "limit": limit,
                                        "shown": len(rows), "total": total})
    return rows, total


def _username(given: str, party: str) -> sa.ColumnElement[str] | str:
    """A user id stands for the username of that user of the Party (audit entries name actors by
    username); anything else is taken as a username."""
    try:
        user_id = uuid.UUID(given)
    except ValueError:
        return given
    return sa.select(User.username).where(User.id == user_id, User.party == party).scalar_subquery()


VERIFY_ACTION = "audit.verify"
PROBLEMS_KEPT = 20  # of a broken chain's problems, the first ones are recorded with the check (the CLI names all)


@command
def verify_log(db: Session, *, actor: Principal, node_party: str, keys: dict[str, HeadKey], signer: HeadKey,
               now: dt.datetime) -> tuple[Verification, AuditEntry]:
    """`evidex audit verify` for the data-protection officer or an administrator of the node's Party: the
    whole chain checked against its signed heads, its head signed when intact. The check and its result
    are recorded in the chain (who verified, when, what was found), so the result can be read again."""
    if actor.role not in READERS:
        raise Forbidden("the audit log is verified by the data-protection officer or an administrator")
    if actor.party != node_party:  # the chain is the node's, of every Party's users on it
        raise Forbidden(f"the audit log of this node is verified by its own Party ({node_party})")
    result = verify_and_sign(db, keys=keys, signer=signer, party=node_party, now=now)
    entry = audit.record(db, actor=actor, action=VERIFY_ACTION, object_type="audit_log", object_id=None, at=now,
                         details={"entries": result.entries, "intact": result.intact,
                                  "first_broken_entry": result.first_broken_entry,
                                  "problem_count": len(result.problems),
                                  "problems": [str(p) for p in result.problems[:PROBLEMS_KEPT]],
                                  "signed_heads_checked": result.checked,
                                  "signed_head": result.signed.seq if result.signed is not None else None})
    return result, entry


def verification(db: Session, *, actor: Principal, seq: int) -> AuditEntry:
    """A verification recorded by verify_log, for a reader of its Party (another entry: not found)."""
    if actor.role not in READERS:
        raise Forbidden("the audit log is read by the data-protection officer or an administrator")
    entry = db.execute(sa.select(AuditEntry).where(AuditEntry.seq == seq, AuditEntry.party == actor.party,
                                                   AuditEntry.action == VERIFY_ACTION)).scalar_one_or_none()
    if entry is None:
        raise NotFound("no such verification")
    return entry
