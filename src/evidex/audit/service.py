"""record() appends to the chain inside the caller's transaction; verify() names any entry that
was changed, removed or reordered."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from evidex.audit.models import AuditEntry, AuditHead
from evidex.core.canonical import CANON_JCS, CANON_LEGACY, chain_hash, legacy_chain_hash
from evidex.core.db import lock_row

GENESIS = "0" * 64


class Actor(Protocol):
    """Who acted, as the chain records it (a parties.roles.Principal: the audit does not import parties,
    which records its own changes here)."""

    @property
    def username(self) -> str: ...

    @property
    def party(self) -> str: ...


def entry_hash(*, seq: int, at: dt.datetime, actor: str, party: str, action: str, object_type: str,
               object_id: str | None, personal_data: bool, details: dict[str, Any], prev_hash: str,
               canon: int = CANON_JCS) -> str:
    """The entry's hash: canon 2 (RFC 8785, what is written now) or canon 1 (entries written before)."""
    fields = [seq, at.astimezone(dt.UTC).isoformat(timespec="microseconds"), actor, party, action, object_type,
              object_id, personal_data, details, prev_hash]
    return chain_hash(fields) if canon == CANON_JCS else legacy_chain_hash(fields, ensure_ascii=False)


def entry_canon(e: AuditEntry, *, prev_hash: str, first: int = CANON_JCS) -> tuple[int | None, str]:
    """Which canon the entry's stored hash is over, linked to `prev_hash` (None: neither, it was
    changed), and the hash recomputed in that canon (in `first`, if neither). `first` is tried
    first: an entry is most likely written as the one before it."""
    fields: dict[str, Any] = dict(seq=e.seq, at=e.at, actor=e.actor, party=e.party, action=e.action,
                                  object_type=e.object_type, object_id=e.object_id,
                                  personal_data=e.personal_data, details=e.details, prev_hash=prev_hash)
    h = entry_hash(**fields, canon=first)
    if h == e.hash:
        return first, h
    other = CANON_LEGACY if first == CANON_JCS else CANON_JCS
    h2 = entry_hash(**fields, canon=other)
    return (other, h2) if h2 == e.hash else (None, h)


def record(db: Session, *, actor: Actor, action: str, object_type: str, object_id: str | None,
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
    canon = CANON_JCS  # entries written before RFC 8785 (canon 1) are found and verified as such
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
            found, h = entry_canon(e, prev_hash=e.prev_hash, first=canon)
            if found is None:
                problems.append(ChainProblem(e.seq, "content changed after it was written (hash mismatch)"))
            canon = found or canon  # a changed entry is recomputed in the canon of the one before
            recomputed_prev = h if e.prev_hash == recomputed_prev else entry_hash(
                seq=e.seq, at=e.at, actor=e.actor, party=e.party, action=e.action, object_type=e.object_type,
                object_id=e.object_id, personal_data=e.personal_data, details=e.details, prev_hash=recomputed_prev,
                canon=canon)
            if e.seq in wanted:
                recomputed[e.seq] = recomputed_prev
            prev, expected_seq, last_seq = e.hash, e.seq + 1, e.seq
        db.expunge_all()
    head = db.get(AuditHead, 1)
    if head is not None and (head.seq != last_seq or head.hash != prev):
        problems.append(ChainProblem(None, f"the chain ends at entry {last_seq} but its head says {head.seq}: "
                                           "entries removed from the end"))
    return Walk(count, problems, last_seq, recomputed)
