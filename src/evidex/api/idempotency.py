"""Idempotency keys on POST: a retried command returns the first answer instead of acting twice.
The key and the answer are stored in the same transaction as the command."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evidex.api.schemas import SECRET_NOTE
from evidex.core.errors import Invalid
from evidex.parties.roles import Principal
from evidex.requests import idempotency
from evidex.requests.models import IdempotencyKey


def run_command(db: Session, request: Request, principal: Principal, body: BaseModel | None, now: dt.datetime,
                status_code: int, command: Callable[[], Any], secret_fields: tuple[str, ...] = ()) -> JSONResponse:
    """Run `command` (which returns a JSON-able object), commit, and answer; honour Idempotency-Key.
    `secret_fields` of the answer (tokens, TOTP secrets) are shown once: never stored with the key,
    so a replay answers without them and says so in `secret_note`."""
    key = request.headers.get("Idempotency-Key")
    method_path = f"{request.method} {request.url.path}"
    body_hash = hashlib.sha256(  # only a keyed command is compared with an earlier one
        (body.model_dump_json() if body is not None else "").encode("utf-8")).hexdigest() if key is not None else ""
    if key is not None:
        if not (1 <= len(key) <= 200) or not key.isprintable():
            raise Invalid("Idempotency-Key must be 1 to 200 printable characters")
        stored = _stored(db, principal, key, now)
        if stored is not None:
            return _replay(stored, method_path, body_hash)
    result = command()
    # JSON-ready once (a model dumps itself; anything else goes through the encoder's fallback).
    content = result.model_dump(mode="json") if isinstance(result, BaseModel) else \
        json.loads(json.dumps(result, default=_default))
    if key is not None and principal.user_id is not None:
        db.add(IdempotencyKey(user_id=principal.user_id, key=key, method_path=method_path, body_hash=body_hash,
                              status_code=status_code, response=_without_secrets(content, secret_fields),
                              created_at=now))
    try:
        db.commit()
    except IntegrityError:
        # The same key raced us: the other command won; answer as it did.
        db.rollback()
        stored = _stored(db, principal, key, now) if key is not None else None
        if stored is None:
            raise
        return _replay(stored, method_path, body_hash)
    return JSONResponse(status_code=status_code, content=content)


def _stored(db: Session, principal: Principal, key: str, now: dt.datetime) -> IdempotencyKey | None:
    stored = db.execute(sa.select(IdempotencyKey).where(
        IdempotencyKey.user_id == principal.user_id, IdempotencyKey.key == key)).scalar_one_or_none()
    if stored is not None and stored.created_at < now - idempotency.KEEP:
        db.delete(stored)  # expired (the sweep had not yet come): the key is new again
        db.flush()
        return None
    return stored


def _without_secrets(content: Any, fields: tuple[str, ...]) -> Any:
    if not isinstance(content, dict) or not any(content.get(f) is not None for f in fields):
        return content
    return {**content, **{f: None for f in fields}, "secret_note": SECRET_NOTE}


def _replay(stored: IdempotencyKey, method_path: str, body_hash: str) -> JSONResponse:
    if stored.method_path != method_path or stored.body_hash != body_hash:
        raise Invalid("this Idempotency-Key was used for a different command")
    return JSONResponse(status_code=stored.status_code, content=stored.response,
                        headers={"Idempotent-Replayed": "true"})


def _default(o: Any) -> Any:
    if isinstance(o, BaseModel):
        return o.model_dump(mode="json")
    if isinstance(o, dt.date | dt.datetime):
        return o.isoformat()
    return str(o)
