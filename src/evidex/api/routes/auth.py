from __future__ import annotations

import pyotp
from fastapi import APIRouter, Request, Response, status

from evidex.api.deps import CurrentCredential, CurrentPrincipal, NowDep, SessionDep, SettingsDep, TokenDep, TotpBoxDep
from evidex.api.schemas import LoginIn, Problem, SecondFactorEnrolIn, SecondFactorEnrolled, TokenOut, UserRead
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


@router.get("/me", response_model=UserRead)
def me(db: SessionDep, principal: CurrentPrincipal) -> User:
    return users.current_user(db, actor=principal)
