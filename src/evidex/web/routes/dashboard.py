"""The dashboard: what needs the viewer now (emergencies first, deadlines, notifications)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from starlette.responses import Response

from evidex.api.deps import NowDep, SessionDep
from evidex.cases import notifications
from evidex.cases import service as cases
from evidex.web import i18n
from evidex.web.i18n import _
from evidex.web.page import SignedIn, page, principal

router = APIRouter(include_in_schema=False)
SOON_DAYS = 7  # "due within 7 days" (issue 14): a desk's planning horizon, not a treaty period


@router.get("/")
def dashboard(request: Request, viewer: SignedIn, db: SessionDep, now: NowDep) -> Response:
    actor = principal(viewer)
    urgent, _total = cases.list_requests(db, actor=actor, sort="urgency", limit=20)
    emergencies = [x for x in urgent if x.request.urgent]
    soon, soon_total = cases.list_deadlines(db, actor=actor, status="open",
                                            due_before=now.date() + dt.timedelta(days=SOON_DAYS + 1), limit=20)
    overdue, overdue_total = cases.list_deadlines(db, actor=actor, status="overdue", limit=20)
    unread, unread_total = notifications.list_notifications(db, actor=actor, unread=True, limit=10)
    with i18n.using(viewer.locale):
        title = _("Dashboard")
    return page(request, viewer, "dashboard.html", title=title, emergencies=emergencies, soon=soon,
                soon_total=soon_total, overdue=overdue, overdue_total=overdue_total, unread=unread,
                unread_total=unread_total, today=now.date(), now=now)
