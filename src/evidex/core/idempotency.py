"""Idempotency keys: a command retried with the same key gets the first answer instead of acting
twice. The key and the answer are stored in the same transaction as the command (`once`), so
either both are committed or neither. The HTTP side (the `Idempotency-Key` header, the fingerprint
of the body) is the API's: api/idempotency.py.

A key is remembered for a day: a retry comes within minutes or hours, and a stored answer must not
outlive it (answers may name personal data)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from evidex.core.db import Base, UTCDateTime, transaction
from evidex.core.errors import Invalid

KEEP = dt.timedelta(hours=24)


class IdempotencyKey(Base):
    """A command's Idempotency-Key and the answer it got, stored in the same transaction."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(200))
    method_path: Mapped[str] = mapped_column(sa.String(300))
    body_hash: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int] = mapped_column(sa.Integer)
    response: Mapped[Any] = mapped_column(sa.JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Call:
    """A command sent with a key: by whom, the key, and what it was (its method and path, and a hash
    of its body), so that the key reused for another command is refused."""

    user_id: uuid.UUID
    key: str
    method_path: str
    body_hash: str


@dataclass(frozen=True)
class Answer:
    status_code: int
    content: Any
    replayed: bool = False  # the first answer to this key, given again


def once(db: Session, *, call: Call | None, now: dt.datetime, status_code: int, run: Callable[[], Any],
         remembered: Callable[[Any], Any] = lambda content: content) -> Answer:
    """Run `run` (a service command and the shaping of its answer as JSON-ready content) as one
    transaction together with the record of its answer under `call`'s key; a key already used
    answers as the first time, without running anything. `remembered` is what of the answer is
    stored for a replay (secrets are shown once: never stored). Without a call, `run` is simply one
    transaction."""
    if call is not None:
        stored = _stored(db, call, now)
        if stored is not None:
            return _replay(stored, call)
    try:
        with transaction(db):
            content = run()
            if call is not None:
                db.add(IdempotencyKey(user_id=call.user_id, key=call.key, method_path=call.method_path,
                                      body_hash=call.body_hash, status_code=status_code,
                                      response=remembered(content), created_at=now))
    except IntegrityError:
        # The same key raced us: the other command won (this one was rolled back); answer as it did.
        stored = _stored(db, call, now) if call is not None else None
        if stored is None or call is None:
            raise
        return _replay(stored, call)
    return Answer(status_code, content)


def _stored(db: Session, call: Call, now: dt.datetime) -> IdempotencyKey | None:
    stored = db.execute(sa.select(IdempotencyKey).where(
        IdempotencyKey.user_id == call.user_id, IdempotencyKey.key == call.key)).scalar_one_or_none()
    if stored is not None and stored.created_at < now - KEEP:
        db.delete(stored)  # expired (the sweep had not yet come): the key is new again, in the command's transaction
        db.flush()
        return None
    return stored


def _replay(stored: IdempotencyKey, call: Call) -> Answer:
    if stored.method_path != call.method_path or stored.body_hash != call.body_hash:
        raise Invalid("this Idempotency-Key was used for a different command")
    return Answer(stored.status_code, stored.response, replayed=True)


def sweep(db: Session, *, now: dt.datetime) -> int:
    """Delete the keys older than KEEP (the worker's pass; lookups ignore them meanwhile)."""
    result = cast("sa.CursorResult[Any]", db.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.created_at < now - KEEP)))
    return result.rowcount or 0
