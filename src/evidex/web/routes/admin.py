"""Administration (issue 14 item 8): the Party's users — created with their second factor shown once,
unlocked, deactivated and reactivated, their second factor reset, each audited with its reason, through
parties.service as /api/v1/users does — and the node's trust list and outbox (exchange.service)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Annotated, Any

import pyotp
from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from evidex.api.deps import LawDep, NowDep, SessionDep, SettingsDep, TotpBoxDep
from evidex.core.errors import Conflict, Forbidden, Invalid, NotFound
from evidex.exchange import service as exchange
from evidex.parties import service as users
from evidex.parties.models import User
from evidex.parties.roles import PEOPLE_ROLES, Role
from evidex.web import i18n
from evidex.web.i18n import _, lazy
from evidex.web.page import SignedIn, Viewer, page, principal, redirect, require_role

router = APIRouter(include_in_schema=False)
ADMIN = Role.administrator  # as /api/v1/users (api/routes/users.py, misc.py)
# The API's rules for a new user (api/schemas.py UserCreate).
USERNAME = re.compile(r"^[a-zA-Z0-9._@-]{3,80}$")
ROLE_ORDER = [r for r in Role if r in PEOPLE_ROLES]

NOTICES = {
    "unlocked": lazy("The account is unlocked: the user may sign in again."),
    "deactivated": lazy("The user is deactivated: every session and API token of theirs stopped working."),
    "reactivated": lazy("The user is reactivated and may sign in again. Old sessions and tokens stay revoked."),
    "second_factor_reset": lazy("The second factor is reset: the user's sessions ended, and they enrol a new "
                                "authenticator with their password before signing in."),
}


def _notice(viewer: Viewer, key: str | None) -> str | None:
    label = NOTICES.get(key or "")
    if label is None:
        return None
    with i18n.using(viewer.locale):
        return _(label)


def _error_list(errors: dict[str, str]) -> list[dict[str, str]]:
    return [{"text": m, "href": f"#{f}"} for f, m in errors.items()]


# --------------------------------------------------------------------------- users
@router.get("/admin/users")
def users_page(request: Request, viewer: SignedIn, db: SessionDep, now: NowDep, notice: str | None = None) -> Response:
    who = require_role(viewer, ADMIN)
    rows = users.list_users(db, party=who.party)
    with i18n.using(viewer.locale):
        title = _("Users")
    return page(request, viewer, "admin/users.html", title=title, users=rows, now=now, notice=_notice(viewer, notice))


def _new_form(request: Request, viewer: Viewer, values: dict[str, str], errors: dict[str, str],
              problem: str | None = None, status_code: int = 200) -> Response:
    with i18n.using(viewer.locale):
        title = _("Create a user")
        problems = _error_list(errors) + ([{"text": problem}] if problem else [])
    return page(request, viewer, "admin/user_new.html", title=title, values=values, errors=errors,
                error_list=problems, roles=ROLE_ORDER, error_count=len(problems), status_code=status_code)


@router.get("/admin/users/new")
def new_user_form(request: Request, viewer: SignedIn) -> Response:
    require_role(viewer, ADMIN)
    return _new_form(request, viewer, {"username": "", "display_name": "", "role": "", "provider": ""}, {})


@router.post("/admin/users")
def create_user(request: Request, viewer: SignedIn, db: SessionDep, now: NowDep, settings: SettingsDep,
                box: TotpBoxDep, username: Annotated[str, Form(max_length=200)] = "",
                display_name: Annotated[str, Form(max_length=400)] = "", role: Annotated[str, Form(max_length=40)] = "",
                provider: Annotated[str, Form(max_length=400)] = "",
                password: Annotated[str, Form(max_length=1024)] = "",
                password_again: Annotated[str, Form(max_length=1024)] = "") -> Response:
    who = require_role(viewer, ADMIN)
    values = {"username": username.strip(), "display_name": display_name.strip(), "role": role,
              "provider": provider.strip()}
    errors: dict[str, str] = {}
    with i18n.using(viewer.locale):
        if not USERNAME.match(values["username"]):
            errors["username"] = _("Enter a username of 3 to 80 letters, digits or the signs . _ @ -")
        if not values["display_name"] or len(values["display_name"]) > 200:
            errors["display_name"] = _("Enter the person's full name (200 characters or fewer)")
        if role not in {r.value for r in ROLE_ORDER}:
            errors["role"] = _("Choose the person's role")
        elif role == Role.service_provider and not values["provider"]:
            errors["provider"] = _("Enter the service provider the person acts for")
        if len(values["provider"]) > 200:
            errors["provider"] = _("The service provider's name must be 200 characters or fewer")
        if len(password) < users.MIN_PASSWORD:
            errors["password"] = _("Enter a first password of at least %(num)d characters", num=users.MIN_PASSWORD)
        elif password != password_again:
            errors["password_again"] = _("The two passwords are not the same")
    if errors:
        return _new_form(request, viewer, values, errors, status_code=422)
    try:
        new = users.add_user(db, actor=who, username=values["username"], display_name=values["display_name"],
                             role=Role(role), now=now, totp_box=box, password=password,
                             provider=values["provider"] if role == Role.service_provider else None,
                             token_expires_at=now + dt.timedelta(days=settings.api_token_days))
    except Conflict:  # refused before anything was written (services check first)
        with i18n.using(viewer.locale):
            taken = {"username": _("This username is taken: choose another")}
        return _new_form(request, viewer, values, taken, status_code=422)
    except Invalid as e:
        return _new_form(request, viewer, values, {}, problem=str(e), status_code=422)
    secret = new.totp_secret or ""
    uri = pyotp.TOTP(secret).provisioning_uri(name=new.user.username, issuer_name=f"evidex {new.user.party}")
    with i18n.using(viewer.locale):
        title = _("User created")
    # Answered here, not redirected: the secret is shown once and is never put in a URL or kept for a
    # later page (as POST /api/v1/users answers it once). The page is not cached (Cache-Control: no-store).
    return page(request, viewer, "admin/user_created.html", title=title, user=new.user, secret=secret, uri=uri)


def _user_page(request: Request, viewer: Viewer, user: User, now: dt.datetime, *, notice: str | None = None,
               errors: dict[str, str] | None = None, problem: str | None = None, reasons: dict[str, str] | None = None,
               status_code: int = 200) -> Response:
    errors = errors or {}
    with i18n.using(viewer.locale):
        title = _("User %(username)s", username=user.username)
        problems = _error_list(errors) + ([{"text": problem, "href": "#actions"}] if problem else [])
    return page(request, viewer, "admin/user.html", title=title, user=user, now=now, notice=notice,
                errors=errors, error_list=problems, error_count=len(problems), reasons=reasons or {},
                is_self=user.id == principal(viewer).user_id, status_code=status_code)


@router.get("/admin/users/{user_id}")
def user_page(request: Request, user_id: uuid.UUID, viewer: SignedIn, db: SessionDep, now: NowDep,
              notice: str | None = None) -> Response:
    who = require_role(viewer, ADMIN)
    user = users.get_user(db, actor=who, user_id=user_id)
    return _user_page(request, viewer, user, now, notice=_notice(viewer, notice))


# Each action: the service (audited; it commits), whether a reason is required, and the notice after it.
ACTIONS: dict[str, tuple[Callable[..., User], bool, str]] = {
    "unlock": (users.unlock_user, False, "unlocked"),
    "deactivate": (users.deactivate_user, True, "deactivated"),
    "reactivate": (users.reactivate_user, False, "reactivated"),
    "reset-second-factor": (users.reset_second_factor, True, "second_factor_reset"),
}


@router.post("/admin/users/{user_id}/{action}")
def user_action(request: Request, user_id: uuid.UUID, action: str, viewer: SignedIn, db: SessionDep, now: NowDep,
                reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    who = require_role(viewer, ADMIN)
    user = users.get_user(db, actor=who, user_id=user_id)  # another Party's user: the 404 page
    if action not in ACTIONS:
        raise NotFound(f"no action {action!r}")
    service, reason_required, notice = ACTIONS[action]
    field = f"reason-{action}"
    text = reason.strip()
    with i18n.using(viewer.locale):
        if reason_required and not text:
            error = _("Enter the reason: it is recorded in the audit log")
        elif len(text) > users.MAX_REASON:
            error = _("The reason must be %(num)d characters or fewer", num=users.MAX_REASON)
        else:
            error = None
    if error:
        return _user_page(request, viewer, user, now, errors={field: error}, reasons={action: reason},
                          status_code=422)
    try:
        service(db, actor=who, user=user.id, reason=text or None, now=now)
    except (Invalid, Conflict, Forbidden) as e:  # the last administrator, oneself, a system's second factor
        # (each refused before anything is written)
        return _user_page(request, viewer, user, now, problem=str(e), reasons={action: reason},
                          status_code=403 if isinstance(e, Forbidden) else 409 if isinstance(e, Conflict) else 422)
    return redirect(f"/admin/users/{user.id}?notice={notice}")


# --------------------------------------------------------------------------- peers and outbox
@router.get("/admin/peers")
def peers_page(request: Request, viewer: SignedIn, db: SessionDep, now: NowDep, settings: SettingsDep) -> Response:
    who = require_role(viewer, ADMIN)
    peers = exchange.list_peers(db, actor=who, node_party=settings.node_party)
    identity = request.app.state.node
    with i18n.using(viewer.locale):
        title = _("Peers")
    return page(request, viewer, "admin/peers.html", title=title, peers=peers, now=now, identity=identity,
                signing_kid=identity.signing_jwk["kid"] if identity is not None else None)


OUTBOX_LIMIT = 50


@router.get("/admin/outbox")
def outbox_page(request: Request, viewer: SignedIn, db: SessionDep, now: NowDep, settings: SettingsDep,
                law: LawDep) -> Response:
    who = require_role(viewer, ADMIN)
    party = settings.node_party
    waiting, waiting_total = exchange.list_outbox(db, actor=who, node_party=party, status="pending",
                                                  limit=OUTBOX_LIMIT)
    dead, dead_total = exchange.list_outbox(db, actor=who, node_party=party, status="dead", limit=OUTBOX_LIMIT)
    negative, negative_total = exchange.negative_receipts(db, actor=who, node_party=party, limit=OUTBOX_LIMIT)
    summary: list[dict[str, Any]] = [{**r, "oldest": dt.datetime.fromisoformat(r["oldest"]) if r["oldest"] else None}
                                     for r in exchange.outbox_status(db)]
    with i18n.using(viewer.locale):
        title = _("Outbox")
    return page(request, viewer, "admin/outbox.html", title=title, waiting=waiting, waiting_total=waiting_total,
                dead=dead, dead_total=dead_total, negative=negative, negative_total=negative_total, summary=summary,
                now=now, limit=OUTBOX_LIMIT, timezone=law.party_timezones().get(party, "UTC"), dead_after_hours=int(exchange.DEAD_AFTER.total_seconds() // 3600),
                receipt_hours={k: int(v.total_seconds() // 3600) for k, v in exchange.RECEIPT_TIMEOUTS.items()})
