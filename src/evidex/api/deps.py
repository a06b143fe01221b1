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


# The evidence upload routes (start, state, chunk, complete) also take the web application's session
# cookie, for the upload script of its pages (web/static/upload.js): a browser script cannot read
# that HttpOnly cookie to make a Bearer header of it, and a second, script-readable credential would
# be one an injected script could steal. The cookie counts only with the CSRF header bound to that
# same session (an HMAC under the node's key), which another site's page can neither read nor make;
# the cookie is SameSite=Strict besides. The check is the web application's (web/security.py), given
# to the API as `app.state.browser_session` when the pages are mounted (the API imports nothing of
# them): without the pages, these routes are Bearer-only like every other. Every other API route
# stays Bearer-only, and a Bearer header, when sent, is always what counts.
BrowserSession = Callable[[Request], str | None]


async def get_uploader_token(request: Request,
                             credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    if credentials is not None:
        return await get_token(credentials)
    browser: BrowserSession | None = getattr(request.app.state, "browser_session", None)
    token = browser(request) if browser is not None else None
    if not token:
        raise AuthError("authentication required")
    request.state.via_cookie = True
    return token


def get_uploader_credential(request: Request, db: SessionDep, now: NowDep,
                            token: Annotated[str, Depends(get_uploader_token)]) -> Credential:
    cred = get_credential(db, now, token)
    if getattr(request.state, "via_cookie", False) and cred.kind != "session":
        raise AuthError("authentication required")  # a cookie carries a person's session, never an API token
    return cred


async def get_uploader(request: Request,
                       cred: Annotated[Credential, Depends(get_uploader_credential)]) -> Principal:
    return await get_principal(request, cred)


Uploader = Annotated[Principal, Depends(get_uploader)]


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
