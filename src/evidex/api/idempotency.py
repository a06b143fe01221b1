"""Idempotency-Key on POST, the HTTP side: the header read and checked, the command fingerprinted
(method, path, body), the answer made JSON. Running the command once, in one transaction with the
record of its answer, is core/idempotency.py's."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from evidex.api.schemas import SECRET_NOTE
from evidex.core import idempotency
from evidex.core.errors import Invalid
from evidex.parties.roles import Principal


def run_command(db: Session, request: Request, principal: Principal, body: BaseModel | None, now: dt.datetime,
                status_code: int, command: Callable[[], Any], secret_fields: tuple[str, ...] = ()) -> JSONResponse:
    """Run `command` (a service call and the shaping of its answer) once per Idempotency-Key, and
    answer. `secret_fields` of the answer (tokens, TOTP secrets) are shown once: never stored with
    the key, so a replay answers without them and says so in `secret_note`."""
    key = request.headers.get("Idempotency-Key")
    call = None
    if key is not None:
        if not (1 <= len(key) <= 200) or not key.isprintable():
            raise Invalid("Idempotency-Key must be 1 to 200 printable characters")
        if principal.user_id is not None:
            body_hash = hashlib.sha256((body.model_dump_json() if body is not None else "").encode("utf-8")).hexdigest()
            call = idempotency.Call(user_id=principal.user_id, key=key,
                                    method_path=f"{request.method} {request.url.path}", body_hash=body_hash)
    answer = idempotency.once(db, call=call, now=now, status_code=status_code, run=lambda: _json(command()),
                              remembered=lambda content: _without_secrets(content, secret_fields))
    return JSONResponse(status_code=answer.status_code, content=answer.content,
                        headers={"Idempotent-Replayed": "true"} if answer.replayed else None)


def _json(result: Any) -> Any:
    """JSON-ready once (a model dumps itself; anything else goes through the encoder's fallback)."""
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    return json.loads(json.dumps(result, default=_default))


def _without_secrets(content: Any, fields: tuple[str, ...]) -> Any:
    if not isinstance(content, dict) or not any(content.get(f) is not None for f in fields):
        return content
    return {**content, **{f: None for f in fields}, "secret_note": SECRET_NOTE}


def _default(o: Any) -> Any:
    if isinstance(o, BaseModel):
        return o.model_dump(mode="json")
    if isinstance(o, dt.date | dt.datetime):
        return o.isoformat()
    return str(o)
