"""A person's own account: their details and a change of password (signed in), and the enrolment of
a new authenticator after an administrator reset the second factor (before sign-in: the person cannot
sign in until it is done)."""

from __future__ import annotations

import io
from typing import Annotated

import pyotp
import segno
from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from evidex.api.deps import NowDep, SessionDep, SettingsDep, TotpBoxDep
from evidex.core.errors import Invalid
from evidex.parties import service as users
from evidex.web import i18n
from evidex.web.i18n import _, lazy
from evidex.web.page import SignedIn, ViewerDep, page, principal, redirect
from evidex.web.routes.auth import SIGN_IN_FAILED

router = APIRouter(include_in_schema=False)

# What the service's refusal codes (parties.service.change_password) say to the person.
PASSWORD_PROBLEMS = {
    "wrong_password": lazy("Your current password is not right."),
    "too_short": lazy("The new password is too short: use at least 12 characters."),
    "username": lazy("The new password must not be your username."),
    "unchanged": lazy("The new password must differ from the current one."),
    "mismatch": lazy("The two new passwords are not the same."),
}


def _account(request: Request, viewer: SignedIn, db: SessionDep, *, errors: dict[str, str] | None = None,
             notice: str | None = None, status_code: int = 200) -> Response:
    me = users.current_user(db, actor=principal(viewer))
    with i18n.using(viewer.locale):
        title = _("Your account")
    return page(request, viewer, "account/account.html", title=title, me=me, errors=errors or {}, notice=notice,
                status_code=status_code)


@router.get("/account")
def account(request: Request, viewer: SignedIn, db: SessionDep) -> Response:
    notice = None
    if request.query_params.get("notice") == "password":
        with i18n.using(viewer.locale):
            notice = _("Your password is changed. Your other sessions have ended.")
    return _account(request, viewer, db, notice=notice)


@router.post("/account/password")
def change_password(request: Request, viewer: SignedIn, db: SessionDep, now: NowDep, settings: SettingsDep,
                    current_password: Annotated[str, Form(max_length=1024)] = "",
                    new_password: Annotated[str, Form(max_length=1024)] = "",
                    confirm_password: Annotated[str, Form(max_length=1024)] = "") -> Response:
    errors: dict[str, str] = {}
    with i18n.using(viewer.locale):
        if new_password != confirm_password:
            mismatch = PASSWORD_PROBLEMS["mismatch"]
            errors["confirm_password"] = _(mismatch)
        else:
            try:
                users.change_password(db, actor=principal(viewer), current_password=current_password,
                                      new_password=new_password, now=now, node_party=settings.node_party,
                                      keep_session=viewer.session_token)
            except Invalid as e:
                for p in e.problems:
                    text = PASSWORD_PROBLEMS.get(str(p.get("code")))
                    errors[str(p.get("field"))] = _(text) if text else str(e)
    if errors:
        return _account(request, viewer, db, errors=errors, status_code=422)
    return redirect("/account?notice=password")


def _enrol_page(request: Request, viewer: ViewerDep, *, username: str = "", error: str | None = None,
                secret: str | None = None, uri: str | None = None, qr: str | None = None,
                status_code: int = 200) -> Response:
    with i18n.using(viewer.locale):
        title = _("Enrol a new authenticator")
    response = page(request, viewer, "account/second_factor.html", title=title, username=username, error=error,
                    secret=secret, uri=uri, qr=qr, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"  # the secret is shown once: never kept by a cache
    return response


@router.get("/second-factor")
def enrol_form(request: Request, viewer: ViewerDep) -> Response:
    if viewer.signed_in:
        return redirect("/account")
    return _enrol_page(request, viewer)


@router.post("/second-factor")
def enrol(request: Request, viewer: ViewerDep, db: SessionDep, now: NowDep, settings: SettingsDep,
          box: TotpBoxDep, username: Annotated[str, Form(max_length=80)] = "",
          password: Annotated[str, Form(max_length=1024)] = "") -> Response:
    """Counted, limited and audited like a sign-in (the service); one message for every failure, as at
    sign-in, except to whoever knows the password of an account with no enrolment due."""
    from evidex.core.errors import Conflict

    client = request.client.host if request.client else "unknown"
    try:
        secret, user = users.enrol_second_factor(
            db, username=username.strip(), password=password, now=now, totp_box=box, node_party=settings.node_party,
            client=client, per_account=settings.login_limit_per_account,
            per_address=settings.login_limit_per_address, window_seconds=settings.login_limit_window_seconds)
    except Conflict:
        with i18n.using(viewer.locale):
            error = _("No new authenticator is due for this account: sign in as usual.")
        return _enrol_page(request, viewer, username=username, error=error, status_code=409)
    except users.AuthError:
        with i18n.using(viewer.locale):
            error = _(SIGN_IN_FAILED)
        return _enrol_page(request, viewer, username=username, error=error, status_code=401)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=f"evidex {user.party}")
    svg = io.BytesIO()
    segno.make(uri, error="m").save(svg, kind="svg", scale=5, border=4, xmldecl=False, svgns=True,
                                    title=None, desc=None, dark="#0b0c0c", light="#ffffff")
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))  # read out or typed by hand
    return _enrol_page(request, viewer, username=user.username, secret=grouped, uri=uri, qr=svg.getvalue().decode())
