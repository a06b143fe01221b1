"""Typed dependencies: the session (the services commit their work), the clock, the principal, roles."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from evidex.cases.service import Law
from evidex.core.errors import Forbidden
from evidex.core.secretbox import SecretBox
from evidex.core.settings import Settings
from evidex.parties.roles import Principal, Role
from evidex.parties.service import AuthError, Credential, authenticate, principal_of

_bearer = HTTPBearer(auto_error=False, description="A session token (evs_…) from /auth/login or an API token (evx_…)")


# Cheap dependencies are `async def`: FastAPI runs a sync dependency in a worker thread, and a
# thread hop per dependency per call cost more than the work itself (see bench/api_bench.py).
async def get_db(request: Request) -> AsyncIterator[Session]:
    # No I/O until first use. The services commit their work; closing ends (rolls back) whatever
    # the call left open: a read, or a command that failed.
    with request.app.state.sessionmaker() as session:
        yield session


async def get_now(request: Request) -> dt.datetime:
    clock: Callable[[], dt.datetime] = request.app.state.clock
    return clock()


async def get_law(request: Request) -> Law:
    law: Law = request.app.state.law
    return law


SessionDep = Annotated[Session, Depends(get_db)]
NowDep = Annotated[dt.datetime, Depends(get_now)]
LawDep = Annotated[Law, Depends(get_law)]


async def get_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise AuthError("authentication required")
    return credentials.credentials


TokenDep = Annotated[str, Depends(get_token)]


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_credential(db: SessionDep, now: NowDep, token: TokenDep) -> Credential:
    return authenticate(db, token=token, now=now)


CurrentCredential = Annotated[Credential, Depends(get_credential)]


async def get_principal(request: Request, cred: CurrentCredential) -> Principal:
    if cred.scope != "write" and request.method not in SAFE_METHODS:
        raise Forbidden("this API token has the scope read: it may only read")
    return principal_of(cred.user)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A route dependency: the principal must hold one of `roles` (declared on the route)."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"this needs the role {' or '.join(r.value for r in roles)}")
        return principal

    return check


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_totp_box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.totp_box
    return box


TotpBoxDep = Annotated[SecretBox, Depends(get_totp_box)]
