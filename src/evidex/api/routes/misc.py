"""Deadlines across requests, Parties and authorities, the lifecycle table, users, health."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import pyotp
from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse

from evidex.api.deps import CurrentPrincipal, LawDep, NowDep, SessionDep, SettingsDep, TotpBoxDep, require
from evidex.api.idempotency import run_command
from evidex.api.schemas import (
    AuthorityRead,
    DeadlineRead,
    Health,
    Page,
    PartyRead,
    UserCreate,
    UserCreated,
    UserRead,
)
from evidex.cases import service
from evidex.core.errors import NotFound
from evidex.parties import service as users
from evidex.parties.roles import Principal, Role

router = APIRouter()
health_router = APIRouter()
Admin = Annotated[Principal, Depends(require(Role.administrator))]


@health_router.get("/health", response_model=Health, tags=["health"])
def health(request: Request) -> Health:
    """Liveness for load balancers: the only route without authentication; reveals nothing."""
    return Health(status="ok", party=request.app.state.settings.node_party,
                  schema_revision=request.app.state.schema_revision)


@router.get("/deadlines", response_model=Page[DeadlineRead], tags=["deadlines"])
def list_deadlines(
    db: SessionDep, principal: CurrentPrincipal,
    status_: Annotated[Literal["open", "overdue", "met", "cancelled"] | None, Query(alias="status")] = None,
    due_before: dt.date | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[DeadlineRead]:
    rows, total = service.list_deadlines(db, actor=principal, status=status_, due_before=due_before, limit=limit,
                                         offset=offset)
    return Page[DeadlineRead](items=[DeadlineRead.model_validate(r) for r in rows], total=total, limit=limit,
                              offset=offset)


def _party(law: service.Law, code: str, on: dt.date) -> PartyRead:
    p = law.parties.get(code, on)
    if p is None:
        raise NotFound(f"no Party {code}")
    return PartyRead(
        code=p.code, name=p.display_name(), source=p.source,
        instruments=[b.code for b in p.instruments if b.in_force(on)], languages=p.languages, timezone=p.timezone,
        authorities=[AuthorityRead(role=r, name=a.name, contact=a.contact.model_dump() if a.contact else None)
                     for r, a in p.authorities.items()],
        declarations={k: v for k, v in p.declarations.items()}, reservations={k: v for k, v in p.reservations.items()},
    )


@router.get("/parties", response_model=list[PartyRead], tags=["parties"])
def list_parties(law: LawDep, now: NowDep, principal: CurrentPrincipal) -> list[PartyRead]:
    """Parties and their registered authorities (from the profiles: `source` says if official)."""
    return [_party(law, c, now.date()) for c in law.parties.codes() if law.parties.get(c, now.date())]


@router.get("/parties/{code}", response_model=PartyRead, tags=["parties"], responses={404: {"description": "No such Party"}})
def get_party(code: str, law: LawDep, now: NowDep,
              principal: CurrentPrincipal) -> PartyRead:
    if not (len(code) == 2 and code.isalpha()):
        raise NotFound(f"no Party {code!r}")
    return _party(law, code.upper(), now.date())


@router.get("/lifecycle", tags=["requests"], response_model=dict[str, Any])
def lifecycle(law: LawDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """The transition table: who may move a request from which state to which."""
    return law.lifecycle.spec.model_dump(mode="json", by_alias=True)


@router.get("/users", response_model=list[UserRead], tags=["users"])
def list_users(db: SessionDep, principal: Admin) -> list[UserRead]:
    return [UserRead.model_validate(u) for u in users.list_users(db, party=principal.party)]


@router.post("/users", response_model=UserCreated, status_code=status.HTTP_201_CREATED, tags=["users"])
def create_user(body: UserCreate, request: Request, db: SessionDep, now: NowDep, principal: Admin,
                settings: SettingsDep, box: TotpBoxDep) -> JSONResponse:
    """Create a user of this node's Party. People get a TOTP secret (shown once); systems an API token
    (shown once; an administrator system user's token needs your current second-factor code)."""

    def do() -> UserCreated:
        new = users.add_user(db, actor=principal, username=body.username, display_name=body.display_name,
                             role=body.role, now=now, totp_box=box, password=body.password, provider=body.provider,
                             is_system=body.is_system, totp_code=body.totp_code,
                             token_expires_at=now + dt.timedelta(days=settings.api_token_days))
        uri = pyotp.TOTP(new.totp_secret).provisioning_uri(name=new.user.username,
                                                           issuer_name=f"evidex {new.user.party}") \
            if new.totp_secret else None
        return UserCreated(user=UserRead.model_validate(new.user), totp_uri=uri, api_token=new.api_token)

    response = run_command(db, request, principal, body, now, 201, do, secret_fields=("totp_uri", "api_token"))
    response.headers["Cache-Control"] = "no-store"
    return response
