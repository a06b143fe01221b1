from __future__ import annotations

import pyotp
from fastapi import APIRouter, Request, Response, status

from evidex.api.deps import CurrentCredential, CurrentPrincipal, NowDep, SessionDep, SettingsDep, TokenDep, TotpBoxDep
from evidex.api.schemas import (
    LoginIn,
    PasswordChangeIn,
    Problem,
    SecondFactorEnrolIn,
    SecondFactorEnrolled,
    TokenOut,
    UserRead,
)
from evidex.core.errors import Forbidden
from evidex.parties import service as users
from evidex.parties.models import User

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=TokenOut, responses={
    401: {"model": Problem, "description": "Invalid credentials; or (code second_factor_enrolment_due) the password "
                                           "was right but the second factor was reset: enrol a new one first"},
    429: {"model": Problem, "description": "Too many attempts for this account or from this address (Retry-After)"}})
def login(body: LoginIn, request: Request, response: Response, db: SessionDep, now: NowDep, settings: SettingsDep,
          box: TotpBoxDep) -> TokenOut:
    """Password and second factor (TOTP) for people. Returns a session token that expires."""
    token, expires, user = users.sign_in(
        db, username=body.username, password=body.password, totp_code=body.totp_code, now=now,
        client=request.client.host if request.client else "unknown", session_minutes=settings.session_minutes,
        totp_box=box, node_party=settings.node_party, per_account=settings.login_limit_per_account,
        per_address=settings.login_limit_per_address, window_seconds=settings.login_limit_window_seconds)
    response.headers["Cache-Control"] = "no-store"
    return TokenOut(token=token, expires_at=expires, user=UserRead.model_validate(user))


@router.post("/second-factor", response_model=SecondFactorEnrolled, responses={
    401: {"model": Problem, "description": "Invalid credentials"},
    409: {"model": Problem, "description": "No enrolment is due for this account"},
    429: {"model": Problem, "description": "Too many attempts for this account or from this address (Retry-After)"}})
def enrol_second_factor(body: SecondFactorEnrolIn, request: Request, response: Response, db: SessionDep,
                        now: NowDep, settings: SettingsDep, box: TotpBoxDep) -> SecondFactorEnrolled:
    """After an administrator reset your second factor: enrol a new TOTP secret with your password
    (shown once), then sign in with its code. Counted and limited like a sign-in."""
    secret, user = users.enrol_second_factor(
        db, username=body.username, password=body.password, now=now, totp_box=box, node_party=settings.node_party,
        client=request.client.host if request.client else "unknown", per_account=settings.login_limit_per_account,
        per_address=settings.login_limit_per_address, window_seconds=settings.login_limit_window_seconds)
    response.headers["Cache-Control"] = "no-store"
    return SecondFactorEnrolled(totp_uri=pyotp.TOTP(secret).provisioning_uri(name=user.username,
                                                                             issuer_name=f"evidex {user.party}"))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(db: SessionDep, now: NowDep, token: TokenDep, cred: CurrentCredential) -> None:
    """Revoke the credential used: the session, or the API token (even one with the scope read)."""
    users.logout(db, token=token, actor=users.principal_of(cred.user), now=now)


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT, responses={
    403: {"model": Problem, "description": "Asked with an API token (a person's session changes its own password)"},
    422: {"model": Problem, "description": "The current password is not right (it counts towards the lockout), or "
                                           "the new one breaks the rule (code: too_short, username, unchanged)"}})
def change_password(body: PasswordChangeIn, db: SessionDep, now: NowDep, settings: SettingsDep, token: TokenDep,
                    cred: CurrentCredential) -> None:
    """Change your own password. Your other sessions end; this one and your API tokens stay."""
    if cred.kind != "session":
        raise Forbidden("a password is changed by its person, signed in, not with an API token")
    users.change_password(db, actor=users.principal_of(cred.user), current_password=body.current_password,
                          new_password=body.new_password, now=now, node_party=settings.node_party, keep_session=token)


@router.get("/me", response_model=UserRead)
def me(db: SessionDep, principal: CurrentPrincipal) -> User:
    return users.current_user(db, actor=principal)
