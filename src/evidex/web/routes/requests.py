"""The requests: a desk's list (filters, sorting, pages, search on references) and a request's page
(its document, the latest verdict, deadlines, four eyes, conditions, one timeline of events, receipts
and decisions) with only the actions the lifecycle allows this person now, each with its form.

The same service functions as api/routes/requests.py, with the same role rules: every signed-in
person may read (the services scope what each role sees; another Party's request is not found), the
lifecycle table decides who may move a request, and cases.service.review_send who may review."""

from __future__ import annotations

import contextlib
import datetime as dt
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.datastructures import FormData, QueryParams
from starlette.responses import Response

from evidex.api.deps import LawDep, NowDep, SessionDep
from evidex.cases import service as cases
from evidex.core.errors import Conflict, Invalid, NotFound
from evidex.documents import service as documents
from evidex.exchange import service as exchange
from evidex.parties.roles import Principal, Role
from evidex.requests.lifecycle import TransitionNotAllowed, TransitionSpec
from evidex.requests.models import Request as RequestRow
from evidex.rules.document import RequestDocument
from evidex.web import i18n, law_text
from evidex.web.i18n import _, lazy
from evidex.web.law_text import readable
from evidex.web.page import ALL_PEOPLE, SignedIn, Viewer, page, redirect, require_role

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
# The list's orders (web name -> cases.list_requests sort) and their words, in the order offered.
SORTS: dict[str, tuple[str | None, str]] = {
    "changed": (None, lazy("Last changed first")),
    "due": ("due", lazy("Next deadline first")),
    "urgency": ("urgency", lazy("Urgent first, then next deadline")),
    "newest": ("-created", lazy("Newest first")),
    "oldest": ("created", lazy("Oldest first")),
}
DIRECTIONS = {"outgoing": lazy("Sent by us (outgoing)"), "incoming": lazy("Received by us (incoming)")}
SEARCH_MAX = 120  # as GET /api/v1/requests
REASONS_MAX = 20000  # as the API's TransitionIn and ReviewIn
CONDITION_TEXT_MAX = 4000  # as the API's ConditionIn
CONDITION_SLOTS_MAX = 50  # as the API's TransitionIn
NOTICES = {
    "done": lazy("Done: %(action)s. The request is now: %(state)s."),
    "outside": lazy("Recorded: you sent this request outside evidex (%(means)s). evidex did not deliver it and "
                    "holds no receipt of it: record the requested Party's answers here yourself."),
    "reviewed": lazy("Your review of the emergency send is recorded."),
}
# Words for the parts of a request document that are not elements of its type (rules/document.py),
# and for the keys inside its nested values.
FIELD_LABELS = {
    "case_reference": lazy("Case reference"),
    "issued_on": lazy("Issued on"),
    "received_on": lazy("Received on"),
    "language": lazy("Language of the request"),
    "translation_language": lazy("Language of the translation"),
    "urgent": lazy("Urgent"),
    "sent_by": lazy("Sent by"),
    "issuing_authority": lazy("Issuing authority"),
    "addressee": lazy("Addressee"),
    "data_category": lazy("Category of data"),
    "name": lazy("Name"),
    "kind": lazy("Kind"),
    "contact": lazy("Contact"),
    "address": lazy("Address"),
    "email": lazy("Email"),
    "phone": lazy("Telephone"),
    "accepted_languages": lazy("Accepted languages"),
    "independent_supervision": lazy("Under independent supervision"),
    "days": lazy("Days"),
    "manner": lazy("Manner"),
    "sought": lazy("Sought"),
}
# Values that are names from a closed list: shown as words.
RECEIPT_LABELS = {
    "submission": lazy("Submission receipt: the sending node took the message"),
    "delivery": lazy("Delivery receipt: the receiving node has the message"),
    "retrieval": lazy("Retrieval receipt: the message was opened"),
    "package": lazy("Evidence package receipt: the files arrived as the signed manifest lists them"),
}
REGISTERED = lazy("Registered as received")  # an incoming request entered by hand
NEGATIVE_RECEIPT_LABELS = {
    "submission": lazy("Negative receipt: the sending node did not take the message"),
    "delivery": lazy("Negative receipt: the message could not be delivered"),
    "retrieval": lazy("Negative receipt: the message was not opened in time"),
    "package": lazy("Evidence package receipt: the files do not match the signed manifest"),
}
HISTORY_ONLY = {  # events the history records besides the lifecycle table's
    "create": lazy("Drafted"),
    "receive": lazy("Received from the requesting Party's node"),
    "review": lazy("Reviewed by a second person (emergency sent alone)"),
}


# ---------------------------------------------------------------------------------- the list
@dataclass
class Filters:
    values: dict[str, str]  # as entered, kept in the form
    errors: dict[str, str]  # field id -> message
    query: dict[str, Any] = field(default_factory=dict)  # for cases.list_requests
    case: Any = None  # the case filtered on (cases.get_case)
    page: int = 1


def _filters(params: QueryParams, law: cases.Law) -> Filters:
    keys = ("type", "state", "party", "direction", "due_before", "search", "sort", "case")
    values = {k: (params.get(k) or "").strip() for k in keys}
    f = Filters(values=values, errors={})
    if values["type"]:
        if values["type"] in law.rulebook.types:
            f.query["request_type"] = values["type"]
        else:
            f.errors["type"] = _("Choose a type of request from the list")
    if values["state"]:
        if values["state"] in law.lifecycle.states:
            f.query["status"] = values["state"]
        else:
            f.errors["state"] = _("Choose a state from the list")
    if values["party"]:
        if values["party"].upper() in law.parties:
            f.query["party"] = values["party"].upper()
        else:
            f.errors["party"] = _("Choose a Party from the list")
    if values["direction"]:
        if values["direction"] in DIRECTIONS:
            f.query["direction"] = values["direction"]
        else:
            f.errors["direction"] = _("Choose sent or received")
    if values["due_before"]:
        try:
            f.query["due_before"] = dt.date.fromisoformat(values["due_before"])
        except ValueError:
            f.errors["due_before"] = _("Enter the date as year-month-day, for example 2026-12-31")
    if values["search"]:
        if len(values["search"]) > SEARCH_MAX:
            f.errors["search"] = _("Enter at most %(num)d characters", num=SEARCH_MAX)
        else:
            f.query["search"] = values["search"]
    if values["sort"] and values["sort"] not in SORTS:
        values["sort"] = ""  # an order no longer offered: the default
    f.query["sort"] = SORTS[values["sort"] or "changed"][0]
    if values["case"]:
        try:
            f.query["case_id"] = uuid.UUID(values["case"])
        except ValueError as e:
            raise NotFound("case not found") from e  # as a case of another Party: no such case here
    try:
        f.page = max(1, min(int(params.get("page") or 1), 100_000))
    except ValueError:
        f.page = 1
    return f


def _url(path: str, values: dict[str, str], **changes: Any) -> str:
    """`path` with the current filters and `changes` (a value of None removes one)."""
    merged = {**values, **changes}
    query = urllib.parse.urlencode({k: v for k, v in merged.items() if v not in (None, "")})
    return path + ("?" + query if query else "")


def _page_links(current: int, last: int) -> list[int | None]:
    """Page numbers to link (None: an ellipsis): the first, the last and the two beside the current."""
    wanted = sorted({1, last, current - 1, current, current + 1} & set(range(1, last + 1)))
    out: list[int | None] = []
    for n in wanted:
        if out and n - (out[-1] or 0) > 1:
            out.append(None)
        out.append(n)
    return out


@router.get("/requests")
def request_list(request: Request, viewer: SignedIn, db: SessionDep, now: NowDep, law: LawDep) -> Response:
    # GET /api/v1/requests: every signed-in person; the service shows each role what it may see.
    actor = require_role(viewer, *ALL_PEOPLE)
    with i18n.using(viewer.locale):
        f = _filters(request.query_params, law)
        title = _("Requests")
    if "case_id" in f.query:
        f.case = cases.get_case(db, actor=actor, case_id=f.query["case_id"])  # another Party's case: 404
    rows: list[cases.RequestListing] = []
    total = 0
    if not f.errors:
        rows, total = cases.list_requests(db, actor=actor, **f.query, limit=PAGE_SIZE,
                                          offset=(f.page - 1) * PAGE_SIZE)
    last = max(1, -(-total // PAGE_SIZE))
    context = {
        "filters": f, "filtered": any(v for k, v in f.values.items() if k != "sort"), "rows": rows, "total": total,
        "page_number": f.page, "last_page": last,
        "page_links": _page_links(f.page, last), "url": lambda **kw: _url("/requests", f.values, **kw),
        "sorts": SORTS, "directions": DIRECTIONS, "today": law.today(actor.party, now),
        "party_codes": law.parties.codes(), "type_codes": list(law.rulebook.types),
        "state_codes": list(law.lifecycle.states),
    }
    fragment = request.headers.get("hx-request") and not request.headers.get("hx-history-restore-request")
    if fragment and f.errors:  # HTMX swaps no 4xx answer: the whole page shows the error summary
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Response(status_code=204, headers={"HX-Redirect": here})
    return page(request, viewer, "requests/_results.html" if fragment else "requests/list.html", title=title,
                status_code=422 if f.errors else 200, error_count=len(f.errors), **context)


# ---------------------------------------------------------------------------------- the request page
@dataclass
class Action:
    """One event this person may apply now, with what its form asks for (the guards of the table)."""

    event: str
    to: str = ""  # the state it leads to
    reasons: bool = False
    grounds: list[tuple[str, str]] = field(default_factory=list)  # (article, meaning)
    grounds_kind: str = ""  # refusal | postponement
    conditions: bool = False
    preserved_on: bool = False
    checks_admissible: bool = False
    ends: bool = False  # the request's deadlines are cancelled: refusing, withdrawing, releasing ...
    waiver_article: str | None = None  # an emergency sent alone: the article that allows it
    review_days: int | None = None
    outside: bool = False  # sent outside evidex: the requested Party has no node evidex trusts
    means: list[str] = field(default_factory=list)  # the means the route allows outside evidex
    open: bool = False  # shown opened (after an error, or an "add another condition")
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # field id -> message
    condition_slots: int = 1

    @property
    def asks(self) -> bool:
        return self.reasons or bool(self.grounds_kind) or self.conditions or self.preserved_on or self.outside

    def error(self, name: str) -> dict[str, str] | None:
        """The GOV.UK errorMessage of the field `name` of this form (called while rendering)."""
        message = self.errors.get(f"{self.event}-{name}")
        return {"text": message, "visuallyHiddenText": _("Error")} if message else None


def _action(req: RequestRow, spec: TransitionSpec, law: cases.Law, now: dt.datetime) -> Action:
    """The form of one transition: a field for each guard that judges what the person gives."""
    rtype = law.rulebook.types.get(req.request_type)
    a = Action(event=spec.event, to=spec.to, reasons="reasons" in spec.guards, conditions="conditions" in spec.guards,
               checks_admissible="admissible" in spec.guards,
               preserved_on=spec.to == "preserved",  # the day the period starts (cases.service._effects)
               ends=law.lifecycle.deadlines_end(spec.to) == "cancelled")
    if "outside_evidex" in spec.guards:  # the means the route allows (request_types.yaml outside_evidex)
        a.outside, a.means, a.open = True, cases.outside_means(law, req, now), True
    for guard, kind in (("refusal_grounds", "refusal"), ("postponement_grounds", "postponement")):
        if guard in spec.guards and rtype is not None:
            catalogue = rtype.answer_grounds(kind, (req.verdict or {}).get("route"))  # type: ignore[arg-type]
            a.grounds, a.grounds_kind = [(g.article, g.message) for g in catalogue], kind
    if "four_eyes_waived" in spec.guards:
        waiver = law.lifecycle.waiver(req.request_type, req.urgent)
        a.waiver_article = waiver.article if waiver else None
        a.review_days = law.lifecycle.spec.four_eyes_waiver.review_within_days
    return a


def _actions(db: Session, req: RequestRow, actor: Principal, law: cases.Law, now: dt.datetime) -> list[Action]:
    return [_action(req, law.lifecycle.table[(req.direction, req.status, event)], law, now)  # type: ignore[index]
            for event in cases.actions_now(db, req, actor=actor, law=law, now=now)]


@dataclass
class Entry:
    """One line of the timeline: an event of the history (with its decision) or a signed receipt."""

    at: dt.datetime
    order: tuple[int, int]
    title: str
    who: str = ""
    role: str = ""
    from_state: str | None = None
    to_state: str | None = None
    reasons: str | None = None
    basis: list[str] = field(default_factory=list)  # articles the step rests on
    grounds: list[str] = field(default_factory=list)
    conditions: list[dict[str, Any]] = field(default_factory=list)
    decision: Any = None
    preserved_on: dt.date | None = None
    receipt: Any = None
    sent_outside: str | None = None  # the means of a send outside evidex (evidex did not deliver it)
    dispatch_reference: str | None = None
    letter: int | None = None  # the event's number, when it gives the requesting Party a letter (documents/)
    letter_title: str | None = None


def _timeline(req: RequestRow, events: list[Any], decisions: list[Any], receipts: list[Any],
              law: cases.Law, event_label: Any, locale: str = "en") -> list[Entry]:
    rtype = law.rulebook.types.get(req.request_type)
    route = (req.verdict or {}).get("route") or {}
    unmatched = list(decisions)
    table_events = {t.event for t in law.lifecycle.spec.transitions}
    out: list[Entry] = []
    for e in events:
        data = e.data or {}
        label = REGISTERED if e.event == "create" and req.direction == "incoming" else HISTORY_ONLY.get(e.event)
        if label is not None:
            title = _(label)
        elif e.event in table_events:
            title = event_label(e.event)
        else:  # not an event of today's table (history is never rewritten)
            title = readable(e.event)
        entry = Entry(at=e.at, order=(0, e.seq), title=title,
                      who=e.actor, role=e.actor_role, from_state=e.from_status, to_state=e.to_status,
                      reasons=e.reasons, grounds=[str(g) for g in data.get("grounds") or []],
                      conditions=[c for c in data.get("conditions") or [] if isinstance(c, dict)])
        if e.event in ("create", "receive") and rtype is not None:
            entry.basis.append(rtype.article)
        if e.event in ("send", "send_alone") and route.get("article"):
            entry.basis.append(str(route["article"]))
        if isinstance(data.get(cases.MEANS), str):  # sent outside evidex, on the route of its article
            entry.sent_outside = data[cases.MEANS]
            entry.dispatch_reference = data.get(cases.DISPATCH_REFERENCE)
            if data.get("route_article"):
                entry.basis.append(str(data["route_article"]))
        for key in ("waiver_article", "article"):
            if data.get(key):
                entry.basis.append(str(data[key]))
        if isinstance(data.get("preserved_on"), str):
            with contextlib.suppress(ValueError):
                entry.preserved_on = dt.date.fromisoformat(data["preserved_on"])
        letter = documents.letter_kind(law, req, e.event)
        if letter is not None:
            entry.letter, entry.letter_title = e.seq, law.texts.letter_title(letter, locale)
        kind = cases.DECISION_KIND.get(e.to_status or "")
        for d in unmatched:
            if kind == d.kind and abs((d.at - e.at).total_seconds()) < 1:  # written by the same transition
                entry.decision = d
                unmatched.remove(d)
                break
        out.append(entry)
    for d in unmatched:  # a decision without its event (none today): still shown
        out.append(Entry(at=d.at, order=(1, 0), title=_("Decision"), decision=d, grounds=list(d.grounds),
                         reasons=d.reasons))
    for i, r in enumerate(receipts):
        label = (RECEIPT_LABELS if r.positive else NEGATIVE_RECEIPT_LABELS).get(r.kind)
        title = _(label) if label else readable(r.kind)
        out.append(Entry(at=r.at, order=(2, i), title=title, who=r.issuer, receipt=r))
    out.sort(key=lambda x: (x.at, x.order))
    return out


LANGUAGE_FIELDS = frozenset({"language", "translation_language", "accepted_languages"})  # tags, named in words


def _display(value: Any, key: str | None = None, named: Mapping[str, Callable[[str], str]] | None = None) -> Any:
    """A document value as the page shows it: dates as dates, names from a list as words (`named`),
    nested objects as (label, value) pairs; empty parts left out."""
    if isinstance(value, dict):
        pairs = []
        for k, v in value.items():
            if v in (None, "", [], {}):
                continue
            label = FIELD_LABELS.get(str(k))
            pairs.append((_(label) if label else readable(str(k)), _display(v, str(k), named)))
        return ("map", pairs)
    if isinstance(value, list):
        items = [_display(v, key, named) for v in value if v not in (None, "", [], {})]
        if all(kind == "text" for kind, _v in items):
            return ("text", ", ".join(str(v) for _k, v in items))
        return ("list", items)
    if isinstance(value, bool):
        return ("text", _("Yes") if value else _("No"))
    if isinstance(value, str):
        if len(value) == 10 and value[4:5] == "-" and value[7:8] == "-":
            try:
                return ("date", dt.date.fromisoformat(value))
            except ValueError:
                pass
        if key in LANGUAGE_FIELDS:
            return ("text", i18n.language_name(value))
        say = (named or {}).get(key or "")
        return ("text", say(value) if say else value)
    return ("text", str(value))


def _document_rows(req: RequestRow, law: cases.Law, words: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(label, article, value) for each part of the document: the top-level fields in the order of the
    document format, then the type's elements in the order of the rule data, then any others."""
    element_label, element_article = words["element_label"], words["element_article"]
    authority = words["authority_label"]

    def kind(v: str) -> str:  # an issuing authority's kind (prosecutor, judge ...) or an addressee's
        if v in law_text.AUTHORITY_KIND_LABELS:
            return str(words["authority_kind_label"](v))
        if v in law_text.ADDRESSEE_KIND_LABELS:
            return str(words["addressee_kind_label"](v))
        return str(authority(v))

    def data_category(v: str) -> str:
        return str(words["data_category_label"](v)) if v in law_text.DATA_CATEGORY_LABELS else str(authority(v))

    # The closed vocabularies of the document, each in the reader's words.
    as_words = {"sent_by": authority, "kind": kind, "data_category": data_category,
                "access_number_type": words["access_number_type_label"]}
    doc = req.document or {}
    rtype = law.rulebook.types.get(req.request_type)
    of_type = {e.name for e in (*rtype.elements, *rtype.optional_elements)} if rtype else set()
    shown_above = {"type", "requesting_party", "requested_party", "elements"}
    rows: list[tuple[str, str, Any]] = []
    for name in [*RequestDocument.model_fields, *(k for k in doc if k not in RequestDocument.model_fields)]:
        if name in shown_above or doc.get(name) in (None, "", [], {}):
            continue
        if name in of_type:
            label, article = element_label(req.request_type, name), element_article(req.request_type, name)
        else:
            known = FIELD_LABELS.get(name)
            label, article = (_(known) if known else readable(name)), ""
        rows.append((label, article, _display(doc[name], name, as_words)))
    elements: dict[str, Any] = doc["elements"] if isinstance(doc.get("elements"), dict) else {}
    order = [e.name for e in (*rtype.elements, *rtype.optional_elements)] if rtype else []
    for name in [*(n for n in order if n in elements), *(n for n in elements if n not in order)]:
        if elements[name] in (None, "", [], {}):
            continue
        rows.append((element_label(req.request_type, name), element_article(req.request_type, name),
                     _display(elements[name], name, as_words)))
    return rows


def _verdict_view(verdict: dict[str, Any] | None) -> dict[str, Any]:
    """The stored verdict (JSON) with its dates as dates, for the date filter."""
    if not verdict:
        return {}
    out = dict(verdict)
    try:
        out["as_of"] = dt.date.fromisoformat(str(verdict.get("as_of")))
    except ValueError:
        out["as_of"] = None
    deadlines = []
    for d in verdict.get("deadlines") or []:
        d = dict(d)
        try:
            d["due"] = dt.date.fromisoformat(d["due"]) if d.get("due") else None
        except (TypeError, ValueError):
            d["due"] = None
        deadlines.append(d)
    out["deadlines"] = deadlines
    return out


def _request_page(request: Request, viewer: Viewer, db: Session, now: dt.datetime, law: cases.Law,
                  request_id: uuid.UUID, *, status_code: int = 200, failed: Action | None = None,
                  problem: str | None = None, problems: list[dict[str, Any]] | None = None,
                  review_values: dict[str, str] | None = None) -> Response:
    """The request page; after a refused form, with the form's values and errors (`failed`) or the
    service's refusal in words (`problem`, and the rules engine's `problems`)."""
    actor = require_role(viewer, *ALL_PEOPLE)  # GET /api/v1/requests/{id}: every signed-in person
    # The same reads as the API's, audited the same way (CETS224 Art 14(8)): the request (its
    # retrieval receipt to the sending node), its history and its decisions (reasons may hold personal data).
    req = cases.get_request(db, actor=actor, request_id=request_id, now=now, law=law)
    cases.history(db, actor=actor, request_id=request_id, now=now)
    cases.decisions_of(db, actor=actor, request_id=request_id, now=now)
    # Each of those reads committed its log entry, so the node may have applied a step in between (a
    # message from the other node changes the state, the conditions and the history at once). What the
    # page shows is read after them, and again if the request changed meanwhile: never half a step, such
    # as a condition proposed beside a state that offers no answer to it.
    for _attempt in range(3):
        db.refresh(req)
        version = req.version
        events = cases.history(db, actor=actor, request_id=request_id)
        decisions = cases.decisions_of(db, actor=actor, request_id=request_id)
        conditions = cases.conditions_of(db, actor=actor, request_id=request_id)
        deadlines = cases.deadlines_of(db, actor=actor, request_id=request_id)
        receipts = exchange.receipts_of_request(db, actor=actor, request_id=request_id)
        db.refresh(req)
        if req.version == version:
            break
        db.expire_all()  # a step landed while the page was read: all of it again, as it is now
    # A service provider sees the requests addressed to it, not the cases they belong to.
    case = cases.get_case(db, actor=actor, case_id=req.case_id) if actor.role is not Role.service_provider else None
    # A received request under the reference its document gives (the one both sides quote), not the
    # name of the case the node opened for its conversation on receipt; that case holds this conversation
    # alone, so the page offers no list of "its" requests.
    reference = cases.shown_reference(req, case.reference) if case is not None else None
    own_case = case if case is not None and case.created_by is not None else None
    four_eyes = cases.four_eyes_of(req, events, deadlines, actor=actor, law=law)
    actions = _actions(db, req, actor, law, now)
    # The last send outside evidex, if the request went so: the page says plainly evidex did not deliver it.
    sent_outside = next((e for e in reversed(events) if isinstance((e.data or {}).get(cases.MEANS), str)), None)
    offered = {a.event for a in actions}
    # What the table allows this role but a guard withholds now (four eyes, a preservation not yet
    # lapsed): the page says why.
    allowed = law.lifecycle.events_from(req.direction, req.status, actor.role,  # type: ignore[arg-type]
                                        req.request_type, req.urgent)
    withheld = {g for ev in allowed if ev not in offered
                for g in law.lifecycle.table[(req.direction, req.status, ev)].guards}  # type: ignore[index]
    if failed is not None:
        for a in actions:
            if a.event == failed.event:
                a.values, a.errors, a.open, a.condition_slots = (failed.values, failed.errors, True,
                                                                 failed.condition_slots)
    with i18n.using(viewer.locale):
        words = law_text.helpers(law, viewer.locale)
        timeline = _timeline(req, events, decisions, receipts, law, words["event_label"], viewer.locale)
        rows = _document_rows(req, law, words)
        notice = None
        key, event = request.query_params.get("notice"), request.query_params.get("event", "")
        if status_code == 200 and key == "done" and any(t.event == event for t in law.lifecycle.spec.transitions):
            notice = _(NOTICES[key], action=words["event_label"](event), state=words["state_label"](req.status))
        elif status_code == 200 and key == "outside" and sent_outside is not None:
            notice = _(NOTICES[key], means=words["means_label"](sent_outside.data[cases.MEANS]))
        elif status_code == 200 and key in NOTICES and key not in ("done", "outside"):
            notice = _(NOTICES[key])
        title = words["type_title"](req.request_type)
    errors: list[dict[str, str]] = []
    if failed is not None:
        errors = [{"text": msg, "href": f"#{fid}"} for fid, msg in failed.errors.items()]
    if review_values and review_values.get("error"):
        errors.append({"text": review_values["error"], "href": "#review-reasons"})
    return page(request, viewer, "requests/detail.html", title=title, status_code=status_code,
                error_count=len(errors) + (1 if problem else 0), req=req, case=own_case, reference=reference,
                events=events,
                conditions=conditions, deadlines=deadlines, four_eyes=four_eyes, actions=actions,
                timeline=timeline, document_rows=rows, verdict=_verdict_view(req.verdict), notice=notice,
                withheld=withheld, errors=errors, problem=problem, problems=problems or [],
                review_values=review_values or {}, today=law.today(actor.party, now), sent_outside=sent_outside,
                editable=cases.document_editable(req, actor), condition_kinds=law.lifecycle.condition_kinds)


@router.get("/requests/{request_id:uuid}")
def request_detail(request: Request, request_id: uuid.UUID, viewer: SignedIn, db: SessionDep, now: NowDep,
                   law: LawDep) -> Response:
    return _request_page(request, viewer, db, now, law, request_id)


def _form(request: Request) -> FormData:
    form = getattr(request.state, "form", None)  # read by page.read_form, before the CSRF check
    return form if form is not None else FormData()


def _date_parts(form: FormData, prefix: str) -> tuple[dict[str, str], dt.date | None, bool]:
    """A GOV.UK date input's three fields: (their values, the date, whether anything was entered)."""
    parts = {p: str(form.get(f"{prefix}-{p}") or "").strip() for p in ("day", "month", "year")}
    if not any(parts.values()):
        return parts, None, False
    try:
        return parts, dt.date(int(parts["year"]), int(parts["month"]), int(parts["day"])), True
    except ValueError:
        return parts, None, True


def _read_action(form: FormData, action: Action, law: cases.Law) -> cases.Command:
    """The transition form's values into `action` (kept for a second try) and the command; the
    errors found in `action.errors`, by field id."""
    e = action.event
    reasons = str(form.get("reasons") or "").strip()
    grounds = [str(g) for g in form.getlist("grounds")]
    action.values.update(reasons=reasons, grounds=grounds)
    if action.reasons and not reasons:
        action.errors[f"{e}-reasons"] = _("Enter the reasons")
    elif len(reasons) > REASONS_MAX:
        action.errors[f"{e}-reasons"] = _("Enter at most %(num)d characters", num=REASONS_MAX)
    if action.grounds_kind and not grounds:
        action.errors[f"{e}-grounds"] = _("Select at least one ground")
    try:
        slots = max(1, min(int(str(form.get("condition_slots") or 1)), CONDITION_SLOTS_MAX))
    except ValueError:
        slots = 1
    action.condition_slots = slots
    conditions = []
    if action.conditions:
        for i in range(1, slots + 1):
            kind, text = str(form.get(f"condition-{i}-kind") or ""), str(form.get(f"condition-{i}-text") or "").strip()
            action.values[f"condition-{i}-kind"], action.values[f"condition-{i}-text"] = kind, text
            if not text:
                continue
            if kind not in law.lifecycle.condition_kinds:
                action.errors[f"{e}-condition-{i}-kind"] = _("Choose the kind of condition")
            elif len(text) > CONDITION_TEXT_MAX:
                action.errors[f"{e}-condition-{i}-text"] = _("Enter at most %(num)d characters", num=CONDITION_TEXT_MAX)
            else:
                conditions.append({"kind": kind, "text": text})
        if not conditions and not any(k.startswith(f"{e}-condition-") for k in action.errors):
            action.errors[f"{e}-condition-1-text"] = _("Enter at least one condition")
    data: dict[str, Any] = {}
    if action.preserved_on:
        parts, day, given = _date_parts(form, "preserved_on")
        action.values["preserved_on"] = parts
        if given and day is None:
            action.errors[f"{e}-preserved_on-day"] = _("Enter a real date, for example 23 11 2026")
        elif day is not None:
            data["preserved_on"] = day.isoformat()
    if action.outside:
        means, reference = str(form.get("means") or ""), str(form.get("dispatch_reference") or "").strip()
        action.values.update(means=means, dispatch_reference=reference)
        if means not in action.means:
            action.errors[f"{e}-means"] = _("Choose the means by which you send the request")
        if len(reference) > cases.DISPATCH_REFERENCE_MAX:
            action.errors[f"{e}-dispatch_reference"] = _("Enter at most %(num)d characters",
                                                         num=cases.DISPATCH_REFERENCE_MAX)
        data[cases.MEANS] = means
        if reference:
            data[cases.DISPATCH_REFERENCE] = reference
    return cases.Command(reasons=reasons or None, grounds=grounds, conditions=conditions, data=data)


@router.post("/requests/{request_id:uuid}/transitions")
def transition(request: Request, request_id: uuid.UUID, viewer: SignedIn, db: SessionDep, now: NowDep,
               law: LawDep) -> Response:
    # POST /api/v1/requests/{id}/transitions: every signed-in person; the lifecycle table decides.
    actor = require_role(viewer, *ALL_PEOPLE)
    form = _form(request)
    event = str(form.get("event") or "")
    try:
        expected = int(str(form.get("expected_version") or ""))
    except ValueError:
        expected = None
    with i18n.using(viewer.locale):
        req = cases.get_request(db, actor=actor, request_id=request_id, audit_read=False)  # another Party's: 404
        # The fields follow the table's guards for the request's state now; whether this person may do
        # it now (role, four eyes, a state changed meanwhile) the service judges, and says why not.
        spec = law.lifecycle.table.get((req.direction, req.status, event))  # type: ignore[arg-type]
        action = _action(req, spec, law, now) if spec is not None else Action(event=event)
        command = _read_action(form, action, law)
        if form.get("add_condition") and action.conditions:
            action.condition_slots = min(action.condition_slots + 1, CONDITION_SLOTS_MAX)
            action.errors.clear()
            return _request_page(request, viewer, db, now, law, request_id, failed=action)
        if action.errors:
            return _request_page(request, viewer, db, now, law, request_id, status_code=422, failed=action)
        try:
            cases.transition(db, actor=actor, law=law, request_id=request_id, event=event, now=now, command=command,
                             expected_version=expected)
        except (Conflict, StaleDataError):
            problem = _("This request changed since you opened the page (someone else acted on it, or the form "
                        "was sent twice). Nothing was done now. Check its state below and act again if still needed.")
            return _request_page(request, viewer, db, now, law, request_id, status_code=409, failed=action,
                                 problem=problem)
        except TransitionNotAllowed as exc:
            return _request_page(request, viewer, db, now, law, request_id, status_code=409, failed=action,
                                 problem=_("This cannot be done now: %(why)s", why=str(exc)))
        except Invalid as exc:
            return _request_page(request, viewer, db, now, law, request_id, status_code=422, failed=action,
                                 problem=_("This was refused: %(why)s", why=str(exc)), problems=exc.problems)
    if action.outside:
        return redirect(f"/requests/{request_id}?notice=outside")
    return redirect(_url(f"/requests/{request_id}", {}, notice="done", event=event))


@router.post("/requests/{request_id:uuid}/review")
def review(request: Request, request_id: uuid.UUID, viewer: SignedIn, db: SessionDep, now: NowDep,
           law: LawDep) -> Response:
    # POST /api/v1/requests/{id}/review: every signed-in person; the service allows the waiver's review roles.
    actor = require_role(viewer, *ALL_PEOPLE)
    reasons = str(_form(request).get("reasons") or "").strip()
    with i18n.using(viewer.locale):
        if len(reasons) > REASONS_MAX:
            return _request_page(request, viewer, db, now, law, request_id, status_code=422, review_values={
                "reasons": reasons, "error": _("Enter at most %(num)d characters", num=REASONS_MAX)})
        try:
            cases.review_send(db, actor=actor, law=law, request_id=request_id, now=now, reasons=reasons or None)
        except (Conflict, Invalid) as exc:
            return _request_page(request, viewer, db, now, law, request_id,
                                 status_code=409 if isinstance(exc, Conflict) else 422,
                                 problem=_("The review was refused: %(why)s", why=str(exc)),
                                 review_values={"reasons": reasons})
    return redirect(f"/requests/{request_id}?notice=reviewed")
