"""The audit log for the data-protection officer and administrators (issue 14 item 8; CETS224 Art 14(8)):
search by user, object, action and dates, as GET /api/v1/audit (each search is itself recorded), and a
button that runs `evidex audit verify` and says what it found."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import zoneinfo
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from evidex.api.deps import LawDep, NowDep, SessionDep, SettingsDep
from evidex.node import audit_signing_key, audit_verification_keys
from evidex.parties.roles import Role
from evidex.privacy import audit_log
from evidex.web import i18n
from evidex.web.i18n import _, lazy
from evidex.web.page import SignedIn, Viewer, page, redirect, require_role

router = APIRouter(include_in_schema=False)
READERS = (Role.data_protection_officer, Role.administrator)  # as GET /api/v1/audit
PAGE_SIZE = 50
# The API's limits on each filter (api/routes/audit_log.py), with the field's label.
FIELDS: dict[str, tuple[int, str]] = {
    "actor": (80, lazy("User")),
    "action": (60, lazy("Action")),
    "object_type": (40, lazy("Object type")),
    "object_id": (64, lazy("Object id")),
}


def _day(value: str) -> dt.date:
    if len(value) != 10:
        raise ValueError(value)
    return dt.date.fromisoformat(value)


def node_timezone(law: LawDep, party: str) -> str:
    """Dates a person types are days in the node's Party's time zone (its profile)."""
    return law.party_timezones().get(party, "UTC")


@router.get("/audit")
def audit_page(request: Request, viewer: SignedIn, db: SessionDep, now: NowDep, law: LawDep, settings: SettingsDep,
               actor: Annotated[str, Query(max_length=200)] = "", action: Annotated[str, Query(max_length=200)] = "",
               object_type: Annotated[str, Query(max_length=200)] = "",
               object_id: Annotated[str, Query(max_length=200)] = "",
               since: Annotated[str, Query(max_length=20)] = "", until: Annotated[str, Query(max_length=20)] = "",
               page_no: Annotated[int, Query(alias="page", ge=1, le=20_000)] = 1) -> Response:
    who = require_role(viewer, *READERS)
    values = {"actor": actor.strip(), "action": action.strip(), "object_type": object_type.strip(),
              "object_id": object_id.strip(), "since": since.strip(), "until": until.strip()}
    tz = node_timezone(law, settings.node_party)
    errors: dict[str, str] = {}
    with i18n.using(viewer.locale):
        title = _("Audit log")
        for name, (limit, label) in FIELDS.items():
            if len(values[name]) > limit:
                errors[name] = _("%(field)s must be %(num)d characters or fewer", field=_(label), num=limit)
        days: dict[str, dt.date | None] = {}
        for name, label in (("since", _("From")), ("until", _("To"))):
            try:
                days[name] = _day(values[name]) if values[name] else None
            except ValueError:
                days[name] = None
                errors[name] = _("%(field)s must be a date, for example 2026-11-23", field=label)
        if days["since"] and days["until"] and days["since"] > days["until"]:
            errors["until"] = _("The end date must be the same as or after the start date")
    if errors:
        return page(request, viewer, "audit/log.html", title=title, values=values, errors=errors, rows=None,
                    total=0, page_no=1, pages=0, timezone=tz, error_count=len(errors), status_code=422,
                    error_list=[{"text": m, "href": f"#{f}"} for f, m in errors.items()],
                    can_verify=who.party == settings.node_party)
    zone = zoneinfo.ZoneInfo(tz)
    start = dt.datetime.combine(days["since"], dt.time(), zone) if days["since"] else None
    # "To" is inclusive for a person: entries before the next day's start (the API's `until` is exclusive).
    end = dt.datetime.combine(days["until"] + dt.timedelta(days=1), dt.time(), zone) if days["until"] else None
    where = audit_log.EntryFilter(actor=values["actor"] or None, action=values["action"] or None,
                                  object_type=values["object_type"] or None, object_id=values["object_id"] or None,
                                  since=start, until=end)
    rows, total = audit_log.list_entries(db, actor=who, where=where, now=now, limit=PAGE_SIZE,
                                         offset=(page_no - 1) * PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    query = {k: v for k, v in values.items() if v}
    return page(request, viewer, "audit/log.html", title=title, values=values, errors={}, rows=rows, total=total,
                page_no=page_no, pages=pages, timezone=tz, first=(page_no - 1) * PAGE_SIZE + 1,
                link=lambda **change: "/audit?" + urllib.parse.urlencode({**query, **change}),
                details=_details, can_verify=who.party == settings.node_party)


def _details(details: dict[str, Any]) -> list[tuple[str, str]]:
    """An entry's details as lines a person reads: `key: value`, nested values as compact JSON."""
    return [(k.replace("_", " "), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str))
            for k, v in details.items()]


@router.post("/audit/verify")
def verify(request: Request, viewer: SignedIn, db: SessionDep, now: NowDep, law: LawDep,
           settings: SettingsDep) -> Response:
    who = require_role(viewer, *READERS)
    keys = audit_verification_keys(settings)
    signer = audit_signing_key(settings, request.app.state.node)
    _result, entry = audit_log.verify_log(db, actor=who, node_party=settings.node_party, keys=keys, signer=signer,
                                          now=now)
    if request.headers.get("hx-request"):  # the button's HTMX enhancement: the result region only
        return _verification_page(request, viewer, entry, law, settings.node_party, fragment=True)
    return redirect(f"/audit/verifications/{entry.seq}")


@router.get("/audit/verifications/{seq}")
def verification(request: Request, seq: int, viewer: SignedIn, db: SessionDep, law: LawDep,
                 settings: SettingsDep) -> Response:
    who = require_role(viewer, *READERS)
    entry = audit_log.verification(db, actor=who, seq=seq)
    return _verification_page(request, viewer, entry, law, settings.node_party, fragment=False)


def _verification_page(request: Request, viewer: Viewer, entry: Any, law: LawDep, party: str,
                       fragment: bool) -> Response:
    with i18n.using(viewer.locale):
        title = _("Verification of the audit log")
    return page(request, viewer, "audit/_verification.html" if fragment else "audit/verification.html",
                title=title, entry=entry, result=entry.details, timezone=node_timezone(law, party))
