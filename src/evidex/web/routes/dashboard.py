"""The dashboard: what needs the viewer now. Emergencies first (CETS224 Art 9 and 10, urgent ETS185
requests) with the time since receipt, refreshed every few seconds without a reload, with a visible
and (if the person turns it on) audible alert when a new one arrives; then deadlines overdue and due
within 7 days, drafts waiting for a second person, delivery problems and notifications."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from evidex.api.deps import LawDep, NowDep, SessionDep, SettingsDep
from evidex.cases import desk as desks
from evidex.cases import notifications
from evidex.web import i18n
from evidex.web.i18n import _
from evidex.web.page import SignedIn, page, principal, redirect

router = APIRouter(include_in_schema=False)
POLL_SECONDS = 2  # an emergency shows on the 24/7 contact's screen within 5 s of its arrival


@router.get("/")
def dashboard(request: Request, viewer: SignedIn, db: SessionDep, now: NowDep, law: LawDep,
              settings: SettingsDep) -> Response:
    actor = principal(viewer)
    today = law.today(settings.node_party, now)
    board = desks.desk(db, actor=actor, law=law, today=today, soon_days=settings.dashboard_horizon_days)
    with i18n.using(viewer.locale):
        title = _("Dashboard")
        notice = _("Notifications marked as read.") if request.query_params.get("notice") == "read" else None
    return page(request, viewer, "dashboard.html", title=title, board=board, today=today, now=now,
                poll_seconds=POLL_SECONDS, soon_days=settings.dashboard_horizon_days, notice=notice)


@router.get("/dashboard/emergencies")
def emergencies_fragment(request: Request, viewer: SignedIn, db: SessionDep, now: NowDep, law: LawDep) -> Response:
    """The emergencies region alone (HTMX polls it); a full page without HTMX."""
    items = desks.emergencies(db, actor=principal(viewer), law=law)
    if not request.headers.get("hx-request"):
        return redirect("/")
    return page(request, viewer, "dashboard/_emergencies.html", title="", emergencies=items, now=now,
                poll_seconds=POLL_SECONDS)


@router.post("/notifications/read")
def mark_read(request: Request, viewer: SignedIn, db: SessionDep, now: NowDep,
              notification_id: Annotated[uuid.UUID | None, Form()] = None) -> Response:
    """Mark one notification read, or (no id) all of them."""
    actor = principal(viewer)
    if notification_id is not None:
        notifications.mark_read(db, actor=actor, notification_id=notification_id, now=now)
    else:
        notifications.mark_all_read(db, actor=actor, now=now)
    return redirect("/?notice=read#notifications-heading")
