"""Sign-in (password and TOTP), sign-out and the choice of language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from evidex.api.deps import NowDep, SessionDep, SettingsDep, TotpBoxDep
from evidex.parties import service as users
from evidex.web import i18n
from evidex.web.i18n import _, lazy
from evidex.web.page import ViewerDep, finish, page, redirect, web_security
from evidex.web.security import LANG_COOKIE, SESSION_COOKIE, safe_next

router = APIRouter(include_in_schema=False)

# One message for every failure, whatever its reason: the page must not tell whether an account
# exists, is locked or has a wrong password (the audit log records the reason).
SIGN_IN_FAILED = lazy("The username, password or security code is not right, or the account is locked. "
                      "Check them and try again.")


@router.get("/sign-in")
def sign_in_form(request: Request, viewer: ViewerDep, next: str = "/", signed_out: bool = False) -> Response:
    if viewer.signed_in:
        return redirect(safe_next(next))
    with i18n.using(viewer.locale):
        message = _("You have signed out.") if signed_out else None
        title = _("Sign in")
    return page(request, viewer, "sign_in.html", title=title, next=safe_next(next), username="", error=None,
                message=message, signed_out=signed_out)


@router.post("/sign-in")
def sign_in(request: Request, viewer: ViewerDep, db: SessionDep, now: NowDep, settings: SettingsDep, box: TotpBoxDep,
            username: Annotated[str, Form(max_length=80)] = "", password: Annotated[str, Form(max_length=1024)] = "",
            totp_code: Annotated[str, Form(max_length=12)] = "", next: Annotated[str, Form(max_length=2000)] = "/",
            ) -> Response:
    client = request.client.host if request.client else "unknown"
    with i18n.using(viewer.locale):
        title = _("Sign in")
        failed = _(SIGN_IN_FAILED)
    try:  # counted and limited per account and address; a failure is recorded (and counts) by the service
        token, _expires, _user = users.sign_in(
            db, username=username.strip(), password=password, totp_code=totp_code.strip() or None, now=now,
            client=client, session_minutes=settings.session_minutes, totp_box=box, node_party=settings.node_party,
            per_account=settings.login_limit_per_account, per_address=settings.login_limit_per_address,
            window_seconds=settings.login_limit_window_seconds,
            # only a language chosen with the switcher becomes the person's own, not a browser's guess
            locale=chosen if (chosen := request.cookies.get(LANG_COOKIE)) in i18n.LOCALES else None)
    except users.SecondFactorEnrolmentDue:
        with i18n.using(viewer.locale):
            due = _("Your second factor was reset by an administrator. Enrol a new authenticator (the link "
                    "below the form), then sign in with its code.")
        return page(request, viewer, "sign_in.html", title=title, next=safe_next(next), username=username,
                    error=due, message=None, signed_out=False, status_code=401)
    except users.AuthError:
        return page(request, viewer, "sign_in.html", title=title, next=safe_next(next), username=username,
                    error=failed, message=None, signed_out=False, error_count=1, status_code=401)
    sec = web_security(request)
    response = redirect(safe_next(next))
    response.set_cookie(sec.cookie_name(SESSION_COOKIE), token,
                        **sec.cookie_options(max_age=sec.session_max_age))  # type: ignore[arg-type]
    return response


@router.post("/sign-out")
def sign_out(request: Request, viewer: ViewerDep, db: SessionDep, now: NowDep) -> Response:
    if viewer.session_token is not None and viewer.principal is not None:
        users.logout(db, token=viewer.session_token, actor=viewer.principal, now=now)
    sec = web_security(request)
    response = redirect("/sign-in?signed_out=1")
    response.delete_cookie(sec.cookie_name(SESSION_COOKIE), path="/", secure=sec.https, httponly=True,
                           samesite="strict")
    return response


@router.post("/language")
def choose_language(request: Request, viewer: ViewerDep, db: SessionDep, now: NowDep,
                    lang: Annotated[str, Form(max_length=16)], next: Annotated[str, Form(max_length=2000)] = "/",
                    ) -> Response:
    locale = lang if lang in i18n.LOCALES else i18n.DEFAULT_LOCALE
    if viewer.principal is not None:
        users.set_locale(db, actor=viewer.principal, locale=locale, now=now)
    sec = web_security(request)
    response = redirect(safe_next(next))
    response.set_cookie(LANG_COOKIE, locale, max_age=365 * 24 * 3600, httponly=True, samesite="strict",
                        secure=sec.https, path="/")
    finish(response, viewer, sec)
    return response
