"""Drafting a request with the law beside it: the form generated from the rule data for the type and
the requested Party (rules/form.py), the rules engine's verdict on the unsaved document as the officer
types (HTMX, debounced; a Check button without JavaScript), save as a draft, edit a draft, and the
project's examples as templates. Roles: those that may POST /api/v1/requests."""

from __future__ import annotations

import datetime as dt
import typing
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from evidex.api.deps import LawDep, NowDep, SessionDep
from evidex.cases import examples
from evidex.cases import service as cases
from evidex.core.errors import Conflict, Invalid, NotFound
from evidex.parties.roles import Principal
from evidex.requests.models import Request as RequestRow
from evidex.rules.form import DraftForm
from evidex.rules.schema import AuthorityKind, SentBy
from evidex.rules.verdict import Verdict
from evidex.web import drafting, i18n
from evidex.web.i18n import _
from evidex.web.page import SignedIn, Viewer, error_page, page, redirect, require_role

router = APIRouter(include_in_schema=False)
SENDERS: tuple[str, ...] = typing.get_args(SentBy)
AUTHORITY_KINDS: tuple[str, ...] = typing.get_args(AuthorityKind)
ACTIONS = ("check", "save", "refresh")
NEW_CASE = "new"
CASES_LISTED = 200  # the newest cases offered in the case list; an older one is found by its reference


@dataclass(frozen=True)
class Urgency:
    allowed: bool  # the type has an urgent form (expedited means, an emergency send)
    always: bool  # an emergency whatever is ticked (e.g. CETS224 Art 9, 10): ticked by default
    article: str | None


def urgency(law: cases.Law, request_type: str) -> Urgency:
    """From the data: the type's urgent means (e.g. ETS185 Art 25(3)) or the lifecycle's emergencies
    a 24/7 contact may send alone (four_eyes_waiver)."""
    spec = law.rulebook.types.get(request_type)
    if spec is None:
        return Urgency(False, False, None)
    always = law.lifecycle.waiver(request_type, False)
    when_urgent = law.lifecycle.waiver(request_type, True)
    article = spec.urgent_means.article if spec.urgent_means else (when_urgent.article if when_urgent else None)
    return Urgency(article is not None, always is not None, article)


def _posted(request: Request) -> dict[str, str]:
    form = getattr(request.state, "form", None)
    values = {k: v for k, v in form.items() if isinstance(v, str)} if form is not None else {}
    if not values.get("case") and values.get("case_new_reference", "").strip():
        values["case"] = NEW_CASE  # a new case named without choosing "a new case" in the list
    return values


def _default_sender(actor: Principal) -> str:
    return actor.role.value if actor.role.value in SENDERS else ""


def _type_defaults(law: cases.Law, values: dict[str, str], request_type: str) -> None:
    if urgency(law, request_type).always:
        values["urgent"] = "true"


@dataclass
class Drafting:
    """Everything the drafting page shows, computed from the posted (or loaded) values."""

    values: dict[str, str]
    request_type: str
    requested: str
    form: DraftForm | None
    draft: drafting.Draft | None
    verdict: Verdict | None
    verdict_error: str | None
    basis_errors: dict[str, str]


def evaluate(law: cases.Law, actor: Principal, now: dt.datetime, values: dict[str, str], *,
             case_reference: str, rendered_for: str | None) -> Drafting:
    """Read the form for its type and requested Party and run the rules engine on the unsaved document.
    `rendered_for`: the type|Party the posted form was made for; when the type changed, the elements of
    the old type are dropped and the new type's defaults applied."""
    request_type, requested = values.get("type", ""), values.get("requested_party", "")
    errors: dict[str, str] = {}
    if request_type not in law.rulebook.types:
        errors["type"] = _("Choose the type of request")
        request_type = ""
    if requested not in law.parties.codes() or requested == actor.party:
        errors["requested_party"] = _("Choose the requested Party")
        requested = ""
    if not request_type or not requested:
        return Drafting(values, request_type, requested, None, None, None, None, errors)
    form = cases.draft_form(law, request_type=request_type, requesting=actor.party, requested=requested, now=now)
    if "sent_by" not in values:  # the form had no sender field yet: the viewer's own role sends
        values = {**values, "sent_by": _default_sender(actor)}
    old_type = (rendered_for or "").split("|", 1)[0]
    if rendered_for is not None and old_type != request_type:
        values = drafting.keep_only(values, form)
        _type_defaults(law, values, request_type)
    draft = drafting.read_form(values, request_type=request_type, requesting=actor.party, requested=requested,
                               addressee_kind=form.addressee_kind, default_case_reference=case_reference)
    verdict, verdict_error = None, None
    try:
        verdict = cases.check_document(law, draft.document, now)
    except Invalid as e:
        verdict_error = str(e)
    return Drafting(values, request_type, requested, form, draft, verdict, verdict_error, errors)


def _languages(law: cases.Law, party: str, now: dt.datetime) -> list[str]:
    profile = law.parties.get(party, law.today(party, now))
    return list(profile.languages) if profile is not None else []


def _context(law: cases.Law, actor: Principal, d: Drafting, *, mode: str, action: str, check_url: str,
             errors: dict[str, str], cases_listed: list[Any], now: dt.datetime, example: str | None = None,
             req: RequestRow | None = None, case_reference: str = "") -> dict[str, Any]:
    order = [*d.basis_errors, *(d.draft.errors if d.draft else {}), *errors]
    all_errors = {**errors, **(d.draft.errors if d.draft else {}), **d.basis_errors}
    return {
        "mode": mode, "action": action, "check_url": check_url, "values": d.values, "d": d,
        "form": d.form, "verdict": d.verdict, "verdict_error": d.verdict_error,
        "errors": all_errors,
        "error_list": [{"text": all_errors[k], "href": f"#{k}"} for k in dict.fromkeys(order)],
        "types": list(law.rulebook.types), "parties": [c for c in law.parties.codes() if c != actor.party],
        "requesting": actor.party, "cases": cases_listed, "new_case": NEW_CASE,
        "examples": examples.list_examples() if mode == "new" else [], "example": example,
        "urgency": urgency(law, d.request_type) if d.request_type else Urgency(False, False, None),
        "senders": SENDERS, "authority_kinds": AUTHORITY_KINDS, "field_id": drafting.field_id,
        "other_elements": drafting.other_elements(d.values, d.form), "req": req,
        "case_reference": case_reference, "rendered_for": f"{d.request_type}|{d.requested}",
        "requested_languages": _languages(law, d.requested, now) if d.requested else [],
        "element_prefix": drafting.ELEMENT, "shape_prefix": drafting.SHAPE, "time_frame": drafting.TIME_FRAME,
    }


def _case_reference(db: Session, actor: Principal, values: dict[str, str]) -> str:
    """The reference of the case the form names: the document's case_reference defaults to it."""
    choice = values.get("case", "")
    if choice == NEW_CASE:
        return values.get("case_new_reference", "").strip()
    try:
        return cases.get_case(db, actor=actor, case_id=uuid.UUID(choice)).reference if choice else ""
    except (ValueError, NotFound):
        return ""


def _cases(db: Session, actor: Principal) -> list[Any]:
    return cases.list_cases(db, actor=actor, limit=CASES_LISTED)[0]


def _verdict_fragment(request: Request, viewer: Viewer, context: dict[str, Any], basis_changed: bool) -> Response:
    return page(request, viewer, "drafting/_check.html", title="", basis_changed=basis_changed, **context)


# --------------------------------------------------------------------------- a new request
@router.get("/requests/new")
def new_request(request: Request, viewer: SignedIn, db: SessionDep, now: NowDep, law: LawDep,
                type: str = "", requested_party: str = "", example: str = "", case: str = "") -> Response:
    actor = require_role(viewer, *cases.DRAFTING_ROLES)
    values: dict[str, str] = {"sent_by": _default_sender(actor)}
    if case:
        values["case"] = case
    loaded = None
    if example:
        doc = cases.json_safe(examples.load_example(example))  # as it would be stored; unknown: the 404 page
        other = doc.get("requested_party") if doc.get("requested_party") != actor.party else doc.get("requesting_party")
        doc.pop("received_on", None)  # not received yet: a new draft
        doc["issued_on"] = law.today(actor.party, now).isoformat()  # issued today, when it is saved
        values.update(drafting.form_values(doc))
        values.update({"type": str(doc.get("type", "")), "requested_party": str(other or "")})
        loaded = example
    else:
        values.update({"type": type, "requested_party": requested_party})
        if type in law.rulebook.types:
            _type_defaults(law, values, type)
    with i18n.using(viewer.locale):
        title = _("New request")
        d = evaluate(law, actor, now, values, case_reference=_case_reference(db, actor, values), rendered_for=None)
    if not type and not example:
        d.basis_errors = {}  # a blank form: nothing is wrong yet
    return page(request, viewer, "drafting/draft.html", title=title,
                **_context(law, actor, d, mode="new", action="/requests/new", check_url="/requests/new/check",
                           errors={}, cases_listed=_cases(db, actor), now=now, example=loaded))


def _new_case_errors(values: dict[str, str]) -> dict[str, str]:
    errors = {}
    if values.get("case", "") == "":
        errors["case"] = _("Choose a case, or open a new one")
    elif values.get("case") == NEW_CASE:
        if not values.get("case_new_reference", "").strip():
            errors["case_new_reference"] = _("Enter the reference of the new case")
        if not values.get("case_new_title", "").strip():
            errors["case_new_title"] = _("Enter the title of the new case")
    return errors


@router.post("/requests/new")
def draft_new_request(request: Request, viewer: SignedIn, db: SessionDep, now: NowDep, law: LawDep) -> Response:
    actor = require_role(viewer, *cases.DRAFTING_ROLES)
    values = _posted(request)
    action = values.get("action", "check")
    with i18n.using(viewer.locale):
        title = _("New request")
        d = evaluate(law, actor, now, values, case_reference=_case_reference(db, actor, values),
                     rendered_for=values.get("rendered_for"))
        errors = _new_case_errors(values) if action == "save" else {}
        if action == "save" and not errors and not d.basis_errors and d.draft is not None and not d.draft.errors:
            try:
                req = _save_new(db, actor, law, now, values, d.draft.document)
            except Conflict:
                errors["case_new_reference"] = _("A case with this reference exists already: choose it from "
                                                 "the list, or give the new case another reference")
            except Invalid as e:
                errors["save"] = _("The request could not be saved: %(reason)s", reason=str(e))
            else:
                return redirect(f"/requests/{req.id}?notice=draft_saved")
    context = _context(law, actor, d, mode="new", action="/requests/new", check_url="/requests/new/check",
                       errors=errors, cases_listed=_cases(db, actor), now=now)
    failed = bool(context["error_list"])
    return page(request, viewer, "drafting/draft.html", title=title, status_code=422 if failed else 200,
                error_count=len(context["error_list"]) if failed else 0, **context)


def _save_new(db: Session, actor: Principal, law: cases.Law, now: dt.datetime, values: dict[str, str],
              document: dict[str, Any]) -> RequestRow:
    if values.get("case") == NEW_CASE:
        return cases.create_request_in_new_case(db, actor=actor, law=law, reference=values.get("case_new_reference", ""),
                                                title=values.get("case_new_title", ""), document=document, now=now)
    try:
        case_id = uuid.UUID(values.get("case", ""))
    except ValueError as e:
        raise Invalid("choose a case") from e
    return cases.create_request(db, actor=actor, law=law, case_id=case_id, document=document, now=now)


@router.post("/requests/new/check")
def check_new_request(request: Request, viewer: SignedIn, db: SessionDep, now: NowDep, law: LawDep) -> Response:
    """The verdict beside the form (an HTMX fragment): the rules engine on the unsaved document."""
    actor = require_role(viewer, *cases.DRAFTING_ROLES)
    values = _posted(request)
    rendered_for = values.get("rendered_for")
    with i18n.using(viewer.locale):
        d = evaluate(law, actor, now, values, case_reference=_case_reference(db, actor, values),
                     rendered_for=rendered_for)
    context = _context(law, actor, d, mode="new", action="/requests/new", check_url="/requests/new/check",
                       errors={}, cases_listed=[], now=now)
    return _verdict_fragment(request, viewer, context, rendered_for != context["rendered_for"])


# --------------------------------------------------------------------------- editing a draft
def _editable(db: Session, actor: Principal, request_id: uuid.UUID, now: dt.datetime | None,
              law: cases.Law) -> RequestRow:
    # `now`: the document is shown, so the read is audited (CETS224 Art 14(8)); else only checked against.
    return cases.get_request(db, actor=actor, request_id=request_id, now=now, audit_read=now is not None,
                             law=law if now is not None else None)


def _not_editable(request: Request, viewer: Viewer, req: RequestRow) -> Response:
    with i18n.using(viewer.locale):
        detail = _("Only a request of this node that is still being drafted can be changed. This one is "
                   "%(state)s.", state=req.status.replace("_", " "))
    return error_page(request, 409, detail)


def _edit_values(req: RequestRow) -> dict[str, str]:
    return {**drafting.form_values(req.document), "type": req.request_type, "requested_party": req.requested_party}


@router.get("/requests/{request_id}/edit")
def edit_request(request_id: uuid.UUID, request: Request, viewer: SignedIn, db: SessionDep, now: NowDep,
                 law: LawDep) -> Response:
    actor = require_role(viewer, *cases.DRAFTING_ROLES)
    req = _editable(db, actor, request_id, now, law)
    if not cases.is_editable(req):
        return _not_editable(request, viewer, req)
    case = cases.get_case(db, actor=actor, case_id=req.case_id)
    values = _edit_values(req)
    with i18n.using(viewer.locale):
        title = _("Edit the draft")
        d = evaluate(law, actor, now, values, case_reference=case.reference, rendered_for=None)
    return page(request, viewer, "drafting/draft.html", title=title,
                **_context(law, actor, d, mode="edit", action=f"/requests/{req.id}/edit",
                           check_url=f"/requests/{req.id}/edit/check", errors={}, cases_listed=[], now=now, req=req,
                           case_reference=case.reference))


def _fixed(values: dict[str, str], req: RequestRow) -> dict[str, str]:
    """A draft keeps its type (and its requesting Party and case): only a new request changes them."""
    return {**values, "type": req.request_type}


@router.post("/requests/{request_id}/edit")
def update_request(request_id: uuid.UUID, request: Request, viewer: SignedIn, db: SessionDep, now: NowDep,
                   law: LawDep) -> Response:
    actor = require_role(viewer, *cases.DRAFTING_ROLES)
    req = _editable(db, actor, request_id, None, law)
    if not cases.is_editable(req):
        return _not_editable(request, viewer, req)
    case = cases.get_case(db, actor=actor, case_id=req.case_id)
    values = _fixed(_posted(request), req)
    action = values.get("action", "check")
    errors: dict[str, str] = {}
    with i18n.using(viewer.locale):
        title = _("Edit the draft")
        d = evaluate(law, actor, now, values, case_reference=case.reference, rendered_for=values.get("rendered_for"))
        if action == "save" and not d.basis_errors and d.draft is not None and not d.draft.errors:
            try:
                cases.update_document(db, actor=actor, law=law, request_id=req.id, document=d.draft.document, now=now)
            except (Invalid, Conflict) as e:
                errors["save"] = _("The draft could not be saved: %(reason)s", reason=str(e))
            else:
                return redirect(f"/requests/{req.id}?notice=draft_updated")
    context = _context(law, actor, d, mode="edit", action=f"/requests/{req.id}/edit",
                       check_url=f"/requests/{req.id}/edit/check", errors=errors, cases_listed=[], now=now, req=req,
                       case_reference=case.reference)
    failed = bool(context["error_list"])
    return page(request, viewer, "drafting/draft.html", title=title, status_code=422 if failed else 200,
                error_count=len(context["error_list"]) if failed else 0, **context)


@router.post("/requests/{request_id}/edit/check")
def check_draft(request_id: uuid.UUID, request: Request, viewer: SignedIn, db: SessionDep, now: NowDep,
                law: LawDep) -> Response:
    actor = require_role(viewer, *cases.DRAFTING_ROLES)
    req = _editable(db, actor, request_id, None, law)
    case = cases.get_case(db, actor=actor, case_id=req.case_id)
    values = _fixed(_posted(request), req)
    rendered_for = values.get("rendered_for")
    with i18n.using(viewer.locale):
        d = evaluate(law, actor, now, values, case_reference=case.reference, rendered_for=rendered_for)
    context = _context(law, actor, d, mode="edit", action=f"/requests/{req.id}/edit",
                       check_url=f"/requests/{req.id}/edit/check", errors={}, cases_listed=[], now=now, req=req,
                       case_reference=case.reference)
    return _verdict_fragment(request, viewer, context, rendered_for != context["rendered_for"])
