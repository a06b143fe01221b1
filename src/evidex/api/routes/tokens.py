"""API tokens: list, mint (the secret shown once), revoke. Tokens expire, carry a scope (read:
safe methods only; write) and never act beyond their owner's role."""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from evidex.api.deps import CurrentCredential, CurrentPrincipal, NowDep, SessionDep, SettingsDep, TotpBoxDep
from evidex.api.idempotency import run_command
from evidex.api.schemas import ApiTokenRead, TokenCreate, TokenCreated
from evidex.core.errors import Forbidden
from evidex.parties import service as users
from evidex.parties.models import ApiToken

router = APIRouter(prefix="/tokens", tags=["tokens"])


def _read(row: ApiToken, username: str) -> ApiTokenRead:
    return ApiTokenRead(id=row.id, name=row.name, username=username, scope=row.scope,
                        created_at=row.created_at, created_by=row.created_by, expires_at=row.expires_at,
                        last_used_at=row.last_used_at, revoked_at=row.revoked_at)


@router.get("", response_model=list[ApiTokenRead])
def list_tokens(db: SessionDep, principal: CurrentPrincipal, include_revoked: bool = False) -> list[ApiTokenRead]:
    """Your tokens; an administrator sees those of every user of its Party. Never the secrets."""
    return [_read(t, name) for t, name in users.list_tokens(db, actor=principal, include_revoked=include_revoked)]


@router.post("", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, request: Request, db: SessionDep, now: NowDep, principal: CurrentPrincipal,
                 cred: CurrentCredential, settings: SettingsDep, box: TotpBoxDep) -> JSONResponse:
    """Mint a token (shown once) from a signed-in session: an API token never mints another, so a
    stolen one cannot outlive its expiry. A token acting as an administrator needs `totp_code`."""
    if cred.kind != "session":
        raise Forbidden("API tokens are minted from a signed-in session (password and second factor)")

    def do() -> TokenCreated:
        secret, row = users.create_api_token(
            db, actor=principal, user_id=body.user_id, name=body.name, scope=body.scope, totp_code=body.totp_code,
            expires_at=now + dt.timedelta(days=body.expires_days or settings.api_token_days), now=now, totp_box=box)
        owner = row.user_id
        username = principal.username if owner == principal.user_id else users.username_of(db, owner)
        return TokenCreated(token=_read(row, username), api_token=secret)

    response = run_command(db, request, principal, body, now, 201, do, secret_fields=("api_token",))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: uuid.UUID, db: SessionDep, now: NowDep, principal: CurrentPrincipal) -> None:
    """Revoke one of your tokens (an administrator: any of its Party's). It never works again."""
    users.revoke_token(db, actor=principal, token_id=token_id, now=now)
