from __future__ import annotations

from fastapi import APIRouter, status

from evidex.api.deps import CurrentPrincipal, NowDep, SessionDep, SettingsDep, TokenDep
from evidex.api.schemas import LoginIn, TokenOut, UserRead
from evidex.parties import service as users
from evidex.parties.models import User

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=TokenOut, responses={401: {"description": "Invalid credentials"}})
def login(body: LoginIn, db: SessionDep, now: NowDep, settings: SettingsDep) -> TokenOut:
    """Password and second factor (TOTP) for people. Returns a session token that expires."""
    try:
        token, expires, user = users.login(db, username=body.username, password=body.password,
                                           totp_code=body.totp_code, now=now, session_minutes=settings.session_minutes)
    except users.AuthError:
        db.commit()  # keep the failure count: it locks the account after repeated failures
        raise
    db.commit()
    return TokenOut(token=token, expires_at=expires, user=UserRead.model_validate(user))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(db: SessionDep, now: NowDep, token: TokenDep, principal: CurrentPrincipal) -> None:
    users.logout(db, token=token, now=now)
    db.commit()


@router.get("/me", response_model=UserRead)
def me(db: SessionDep, principal: CurrentPrincipal) -> User:
    user = db.get(User, principal.user_id)
    assert user is not None
    return user
