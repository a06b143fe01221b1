"""Users administered by an administrator of their Party: unlocked, deactivated and reactivated, their
second factor reset. Each is audited with the actor, the user and the reason."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from evidex.api.deps import NowDep, SessionDep, require
from evidex.api.schemas import Problem, UserAdminIn, UserRead
from evidex.parties import service as users
from evidex.parties.roles import Principal, Role

router = APIRouter(prefix="/users/{user_id}", tags=["users"])
Admin = Annotated[Principal, Depends(require(Role.administrator))]
ANSWERS: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No such user of your Party"}}


@router.post("/unlock", response_model=UserRead, responses=ANSWERS)
def unlock(user_id: uuid.UUID, body: UserAdminIn, db: SessionDep, now: NowDep, principal: Admin) -> UserRead:
    """End a lockout after repeated failed sign-ins at once; unlocking an unlocked user changes nothing."""
    return UserRead.model_validate(users.unlock_user(db, actor=principal, user=user_id, reason=body.reason, now=now))


@router.post("/deactivate", response_model=UserRead, responses={
    **ANSWERS, 403: {"model": Problem, "description": "Not an administrator, or yourself"},
    409: {"model": Problem, "description": "The last active administrator of the Party"},
    422: {"model": Problem, "description": "No reason given"}})
def deactivate(user_id: uuid.UUID, body: UserAdminIn, db: SessionDep, now: NowDep, principal: Admin) -> UserRead:
    """The user can no longer sign in; every session and API token of theirs stops working at once.
    A reason is required."""
    return UserRead.model_validate(users.deactivate_user(db, actor=principal, user=user_id, reason=body.reason,
                                                         now=now))


@router.post("/reactivate", response_model=UserRead, responses=ANSWERS)
def reactivate(user_id: uuid.UUID, body: UserAdminIn, db: SessionDep, now: NowDep, principal: Admin) -> UserRead:
    """The user may sign in again; old sessions and tokens stay revoked."""
    return UserRead.model_validate(users.reactivate_user(db, actor=principal, user=user_id, reason=body.reason,
                                                         now=now))


@router.post("/second-factor/reset", response_model=UserRead, responses={
    **ANSWERS, 403: {"model": Problem, "description": "Not an administrator, or yourself"},
    422: {"model": Problem, "description": "No reason given, or a system user"}})
def reset_second_factor(user_id: uuid.UUID, body: UserAdminIn, db: SessionDep, now: NowDep,
                        principal: Admin) -> UserRead:
    """Forget the user's TOTP secret (a lost device): their sessions end, and they enrol a new second
    factor with their password (`POST /auth/second-factor`) before signing in. A reason is required."""
    return UserRead.model_validate(users.reset_second_factor(db, actor=principal, user=user_id, reason=body.reason,
                                                             now=now))
