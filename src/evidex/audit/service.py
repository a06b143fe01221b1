"""record() appends to the chain inside the caller's transaction; verify() names any entry that
was changed, removed or reordered."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from evidex.audit.models import AuditEntry, AuditHead
from evidex.core.db import lock_row
from evidex.core.errors import Forbidden, Invalid
from evidex.parties.roles import Principal, Role

GENESIS = "0" * 64


def entry_hash(*, seq: int, at: dt.datetime, actor: str, party: str, action: str, object_type: str,
               object_id: str | None, personal_data: bool, details: dict[str, Any], prev_hash: str) -> str:
    canonical = json.dumps(
        [seq, at.astimezone(dt.UTC).isoformat(timespec="microseconds"), actor, party, action, object_type,
         object_id, personal_data, details, prev_hash],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def record(db: Session, *, actor: Principal, action: str, object_type: str, object_id: str | None,
           at: dt.datetime, details: dict[str, Any] | None = None, personal_data: bool = False,
           flush: bool = True) -> AuditEntry:
    """Append one entry. The head row is locked (FOR UPDATE), so concurrent writers queue; within one
    transaction it is locked and read once, however many entries the transaction appends."""
    transaction = db.get_transaction()
    cached = db.info.get("audit_head")
    if cached is not None and cached[0] is transaction:
        head = cached[1]
    else:
        if db.get_bind().dialect.name == "sqlite":  # PostgreSQL: the FOR UPDATE below is the lock
            lock_row(db, AuditHead.id, 1)
        head = db.execute(sa.select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
        if head is None:
            head = AuditHead(id=1, seq=0, hash=GENESIS)
            db.add(head)
            db.flush()
        db.info["audit_head"] = (transaction, head)
    details = json.loads(json.dumps(details or {}, default=str))  # exactly what the database will return
    at = at.astimezone(dt.UTC)
    seq = head.seq + 1
    h = entry_hash(seq=seq, at=at, actor=actor.username, party=actor.party, action=action,
                   object_type=object_type, object_id=object_id, personal_data=personal_data,
                   details=details, prev_hash=head.hash)
    entry = AuditEntry(seq=seq, at=at, actor=actor.username, party=actor.party, action=action,
                       object_type=object_type, object_id=object_id, personal_data=personal_data,
                       details=details, prev_hash=head.hash, hash=h)
    db.add(entry)
    head.seq, head.hash = seq, h
    if flush:  # callers see the entry (and their own changes) in the database; bulk callers flush once
        db.flush()
    return entry


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    problem: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.problem}" if self.seq is not None else self.problem


def verify(db: Session, batch: int = 1000) -> tuple[int, list[ChainProblem]]:
    """Walk the whole chain. Returns (entries checked, problems); no problem means intact."""
    walk = walk_chain(db, batch=batch)
    return walk.count, walk.problems


@dataclass
class Walk:
    count: int
    problems: list[ChainProblem]
    last_seq: int
    recomputed: dict[int, str]  # entry number → the hash recomputed from the contents, for the numbers asked


def walk_chain(db: Session, *, batch: int = 1000, wanted: set[int] | frozenset[int] = frozenset()) -> Walk:
    """Walk the whole chain; also recompute, from the contents alone (each entry linked to the
    recomputed hash before it, not to the one it stores), the hash at each entry number in `wanted`:
    what a signed head of that number must match."""
    problems: list[ChainProblem] = []
    expected_seq, prev = 1, GENESIS
    recomputed_prev = GENESIS
    recomputed: dict[int, str] = {}
    count = 0
    last_seq = 0
    while True:
        rows = db.execute(
            sa.select(AuditEntry).where(AuditEntry.seq > last_seq).order_by(AuditEntry.seq).limit(batch)
        ).scalars().all()
        if not rows:
            break
        for e in rows:
            count += 1
            if e.seq != expected_seq:
                problems.append(ChainProblem(e.seq, f"expected entry {expected_seq} here: "
                                                    f"{e.seq - expected_seq} entr{'y' if e.seq - expected_seq == 1 else 'ies'} removed before it"))
            if e.prev_hash != prev:
                problems.append(ChainProblem(e.seq, "does not link to the entry before it (removed or reordered)"))
            fields: dict[str, Any] = dict(seq=e.seq, at=e.at, actor=e.actor, party=e.party, action=e.action,
                                          object_type=e.object_type, object_id=e.object_id,
                                          personal_data=e.personal_data, details=e.details)
            h = entry_hash(**fields, prev_hash=e.prev_hash)
            if h != e.hash:
                problems.append(ChainProblem(e.seq, "content changed after it was written (hash mismatch)"))
            recomputed_prev = h if e.prev_hash == recomputed_prev else entry_hash(**fields, prev_hash=recomputed_prev)
            if e.seq in wanted:
                recomputed[e.seq] = recomputed_prev
            prev, expected_seq, last_seq = e.hash, e.seq + 1, e.seq
        db.expunge_all()
    head = db.get(AuditHead, 1)
    if head is not None and (head.seq != last_seq or head.hash != prev):
        problems.append(ChainProblem(None, f"the chain ends at entry {last_seq} but its head says {head.seq}: "
                                           "entries removed from the end"))
    return Walk(count, problems, last_seq, recomputed)


# --------------------------------------------------------------------------- reading the log
READERS = frozenset({Role.data_protection_officer, Role.administrator})  # CETS224 Art 14(8): logs kept for review
_users = sa.table("users", sa.column("id", sa.Uuid), sa.column("username"), sa.column("party"))  # audit sits below parties


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
    record(db, actor=actor, action="audit.read", object_type="audit_log", object_id=None, at=now,
           personal_data=True, details={"filter": where.as_details(), "offset": offset, "limit": limit,
                                        "shown": len(rows), "total": total})
    db.commit()
    return rows, total


def _username(given: str, party: str) -> sa.ColumnElement[str] | str:
    """A user id stands for the username of that user of the Party (audit entries name actors by
    username); anything else is taken as a username."""
    try:
        user_id = uuid.UUID(given)
    except ValueError:
        return given
    return (sa.select(_users.c.username).where(_users.c.id == user_id, _users.c.party == party)
            .scalar_subquery())
