"""Cases and requests: plain functions taking the session, the acting principal and the time.

Party scoping lives in the queries: another Party's (or another provider's) objects are never
loaded, and asking for one answers NotFound. Every change and every read of a request's
document (personal data) is written to the audit chain in the same transaction, which the
service commits (`@command`; a failure rolls it all back).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from evidex.audit import service as audit
from evidex.cases.models import Case
from evidex.core.db import command, transaction
from evidex.core.errors import Conflict, Forbidden, Invalid, InvalidInput, NotFound, RuleDataError
from evidex.core.jsontext import unstorable_text
from evidex.parties.roles import Principal, Role
from evidex.requests.lifecycle import (
    DELIVERY_GUARDS,
    Direction,
    Lifecycle,
    TransitionNotAllowed,
    TransitionSpec,
    default_lifecycle,
)
from evidex.requests.models import Deadline, Decision, Notification, Request, RequestCondition, RequestEvent
from evidex.requests.texts import default_texts
from evidex.rules import Parties, Rulebook, Verdict, check, default_parties, default_rulebook
from evidex.rules import form as rule_form
from evidex.rules.form import DraftForm
from evidex.rules.texts import Texts

# The one deadline of a preservation (ETS185 Art 29(7)): the rules engine's earliest end until the data
# is preserved, then the end of the period actually running (`preserved_until`).
PRESERVATION_DEADLINE = "preservation_minimum"
# The second person's review of a request a 24/7 contact sent alone (lifecycle four_eyes_waiver): set
# by that send and closed by the review, never by the recomputation from the verdict.
REVIEW_DEADLINE = "four_eyes_review"
SENDS_ALONE = ("send_alone", "send_outside")  # the events that may send alone (guard four_eyes_waived)
DRAFTING_ROLES = frozenset({Role.competent_authority, Role.central_authority, Role.contact_24_7})
REGISTERING_ROLES = frozenset({Role.central_authority, Role.contact_24_7})
DECISION_KIND = {"refused": "refusal", "postponed": "postponement", "partly_executed": "partial_execution",
                 "conditions_proposed": "conditions"}
# Ids of named periods in rules/data/periods.yaml: the values and their articles live there.
PRESERVATION_PERIOD = "preservation_minimum"  # how long preserved data is kept at least
REMINDER_LEAD = "reminder_lead"  # how long before a deadline its reminder is written
DOCUMENT_EDITABLE = ("draft", "checked", "approved")  # an outgoing request's document may change (then: draft)
# What a send outside evidex records besides who and when (lifecycle guard outside_evidex): the means,
# one of those the route's channel allows, and the dispatch's own reference (a registered-mail or fax
# number, an Interpol message reference ...).
MEANS, DISPATCH_REFERENCE = "means", "dispatch_reference"
DISPATCH_REFERENCE_MAX = 200


@dataclass(frozen=True)
class Law:
    """The law a node works with: the rulebook, the Party profiles, the lifecycle and their labels
    (built once, passed explicitly). Not called a law: in CETS224 Art 6 a law is a law name."""

    parties: Parties = field(default_factory=default_parties)
    rulebook: Rulebook = field(default_factory=default_rulebook)
    lifecycle: Lifecycle = field(default_factory=default_lifecycle)
    # The law's labels in every language (rules/data/i18n/), checked against the shipped rule data
    # and lifecycle when the law is built: a stale or missing translation stops the node at start-up.
    texts: Texts = field(default_factory=default_texts)
    # Called in the same transaction after each transition (event name) and each audited read
    # ("read"): federation hooks its outbox here, so this package never imports the exchange.
    announce: Callable[[Session, Request, str, dt.datetime], None] | None = None
    # Whether evidex delivers to a Party's node now (it is in this node's trust list): hooked by the
    # federation, as `announce`. None: this node is not federated, and evidex delivers to no one.
    reaches: Callable[[Session, str, dt.datetime], bool] | None = None

    def __post_init__(self) -> None:
        # The periods this node reads by id must be in the law it was given: a start-up error, not a
        # KeyError on the first preservation.
        missing = [p for p in (PRESERVATION_PERIOD, REMINDER_LEAD) if p not in self.rulebook.periods]
        if missing:
            raise RuleDataError(f"periods.yaml: periods: no {', '.join(repr(m) for m in missing)}; the node "
                                "reads it by id (requests/service.py)")

    def party_timezones(self) -> dict[str, str]:
        return {code: self.parties.versions(code)[-1].timezone for code in self.parties.codes()}

    def retention_days(self) -> dict[str, int]:
        """Each Party's retention period for personal data (CETS224 Art 14(5)), from its profile."""
        out = {}
        for code in self.parties.codes():
            days = self.parties.versions(code)[-1].retention_days
            if days:
                out[code] = days
        return out

    def today(self, party: str, now: dt.datetime) -> dt.date:
        """Calendar date in a Party's time zone (LEGAL.md §5: deadlines are calendar days there)."""
        versions = self.parties.versions(party)
        tz = versions[-1].timezone if versions else "UTC"
        return now.astimezone(zoneinfo.ZoneInfo(tz)).date()


# --------------------------------------------------------------------------- cases
@command
def create_case(db: Session, *, actor: Principal, reference: str, title: str, now: dt.datetime) -> Case:
    if actor.role not in DRAFTING_ROLES:
        raise Forbidden(f"role {actor.role} may not open cases")
    reference, title = reference.strip(), title.strip()
    if not reference or not title:
        raise Invalid("a case needs a reference and a title")
    if db.execute(sa.select(Case.id).where(Case.party == actor.party, Case.reference == reference)).first():
        raise Conflict(f"case {reference!r} already exists")
    case = Case(party=actor.party, reference=reference, title=title, created_by=actor.user_id, created_at=now)
    db.add(case)
    db.flush()
    audit.record(db, actor=actor, action="case.create", object_type="case", object_id=str(case.id), at=now,
                 details={"reference": reference})
    return case


def get_case(db: Session, *, actor: Principal, case_id: uuid.UUID) -> Case:
    case = db.execute(sa.select(Case).where(Case.id == case_id, Case.party == actor.party)).scalar_one_or_none()
    if case is None or actor.role is Role.service_provider:
        raise NotFound("case not found")
    return case


@dataclass(frozen=True)
class CaseListing:
    """A case as a desk lists it: how many requests it holds and when the next of their deadlines falls."""

    case: Case
    request_count: int
    next_due_on: dt.date | None


def list_cases(db: Session, *, actor: Principal, limit: int = 50, offset: int = 0) -> tuple[list[CaseListing], int]:
    """One query for the page (request counts and next due dates joined in), one for the total."""
    if actor.role is Role.service_provider:
        return [], 0
    counts = (sa.select(Request.case_id, sa.func.count().label("n")).where(visible_to(actor))
              .group_by(Request.case_id).subquery())
    due = (sa.select(Request.case_id, sa.func.min(Request.next_due_on).label("due"))  # the soonest of theirs
           .where(visible_to(actor), Request.next_due_on.is_not(None)).group_by(Request.case_id).subquery())
    total = db.execute(sa.select(sa.func.count()).select_from(Case).where(Case.party == actor.party)).scalar_one()
    rows = db.execute(
        sa.select(Case, sa.func.coalesce(counts.c.n, 0), due.c.due)
        .outerjoin(counts, counts.c.case_id == Case.id).outerjoin(due, due.c.case_id == Case.id)
        .where(Case.party == actor.party)
        .order_by(Case.created_at.desc(), Case.id).limit(limit).offset(offset)).all()
    return [CaseListing(case, int(n), d) for case, n, d in rows], total


# --------------------------------------------------------------------------- requests
def visible_to(actor: Principal) -> sa.ColumnElement[bool]:
    """The requests `actor` may see, as a query condition (unauthorised rows never load); also for
    services reading what hangs off a request (notifications, deadlines, receipts)."""
    cond = Request.party == actor.party
    if actor.role is Role.service_provider:
        cond = sa.and_(cond, Request.direction == "incoming", Request.provider == actor.provider)
    elif actor.role is Role.notified_authority:
        cond = sa.and_(cond, Request.direction == "incoming", Request.request_type == "subscriber_order")
    return cond


def get_request(db: Session, *, actor: Principal, request_id: uuid.UUID, now: dt.datetime | None = None,
                for_update: bool = False, audit_read: bool = True, law: Law | None = None) -> Request:
    q = sa.select(Request).where(Request.id == request_id, visible_to(actor))
    if for_update:
        q = q.with_for_update()
    req = db.execute(q).scalar_one_or_none()
    if req is None:
        raise NotFound("request not found")
    if audit_read and now is not None:
        # CETS224 Art 14(8): every read of a record holding personal data is logged, and the log
        # committed with the read (joining the command that reads, if any).
        with transaction(db):
            audit.record(db, actor=actor, action="request.read", object_type="request", object_id=str(req.id),
                         at=now, personal_data=True)
            if law is not None and law.announce is not None and actor.role is not Role.system:
                law.announce(db, req, "read", now)  # e.g. the retrieval receipt to the sending node
    return req


OPEN_DEADLINE = ("open", "overdue")  # not met nor cancelled: still to be done
REQUEST_SORTS = ("due", "-due", "urgency", "created", "-created")


def shown_reference(req: Request, case_reference: str) -> str:
    """The reference a desk shows for `req` (in the case of `case_reference`): for a received request,
    the one its document gives, the requesting Party's own, which the officers on both sides quote
    (the case the node opens on receipt is named after the conversation: `RS:<conversation id>`);
    otherwise, or when the document gives none, its case's. The case itself stays as it is."""
    # From its column (kept with the document): a list reads the page without loading each document.
    given = req.document_case_reference if req.direction == "incoming" else None
    return given if isinstance(given, str) and given.strip() else case_reference


@dataclass(frozen=True)
class RequestListing:
    """A request as a desk lists it: with its case reference and its next due deadline (name and date)."""

    request: Request
    case_reference: str
    next_due_on: dt.date | None
    next_due_name: str | None

    @property
    def reference(self) -> str:
        """The reference shown for it (`shown_reference`)."""
        return shown_reference(self.request, self.case_reference)


def list_requests(db: Session, *, actor: Principal, status: str | None = None, request_type: str | None = None,
                  direction: str | None = None, case_id: uuid.UUID | None = None, party: str | None = None,
                  due_before: dt.date | None = None, search: str | None = None, sort: str | None = None,
                  limit: int = 50, offset: int = 0) -> tuple[list[RequestListing], int]:
    """One query for the page (the case reference joined in), one for the total. The next due deadline
    is the request's own (kept with its deadlines): a page is read from an index in its order
    (requests/models.py). `party`: the requesting or the requested Party. `due_before`: the next open
    deadline falls before that day. `search`: part of a reference, any case: the case's, the one the
    document gives, the conversation's (shared with the other node), or the request's id in full.
    `sort`: due | -due (requests without an open deadline last) | urgency (urgent first, then due) |
    created | -created; by default the last changed first. Ties are broken by id: the order is stable."""
    if sort is not None and sort not in REQUEST_SORTS:
        raise Invalid(f"unknown sort {sort!r}; one of {', '.join(REQUEST_SORTS)}")
    cond = [visible_to(actor)]
    if status:
        cond.append(Request.status == status)
    if request_type:
        cond.append(Request.request_type == request_type)
    if direction:
        cond.append(Request.direction == direction)
    if case_id:
        cond.append(Request.case_id == case_id)
    if party:
        code = party.strip().upper()
        cond.append(sa.or_(Request.requesting_party == code, Request.requested_party == code))
    if due_before:
        # The earliest open deadline is before the day exactly when any open deadline is.
        cond.append(Request.next_due_on < due_before)
    needle = (search or "").strip().lower()
    if needle:
        cond.append(_reference_matches(needle))
    counted = sa.select(sa.func.count()).select_from(Request)
    if needle:  # the case's reference is searched: the count needs the case too
        counted = counted.join(Case, Case.id == Request.case_id)
    total = db.execute(counted.where(*cond)).scalar_one()
    # Requests without an open deadline last: PostgreSQL's order of NULLs in an ascending index, which
    # SQLite reads from its index too (first the dated, then the NULLs).
    due = Request.next_due_on.asc().nulls_last()
    order: dict[str | None, tuple[Any, ...]] = {
        None: (Request.updated_at.desc(),),
        "due": (due, Request.created_at),
        "-due": (Request.next_due_on.desc().nulls_last(), Request.created_at),
        "urgency": (Request.urgent.desc(), due, Request.created_at),
        "created": (Request.created_at,),
        "-created": (Request.created_at.desc(),),
    }
    rows = db.execute(
        sa.select(Request, Case.reference).join(Case, Case.id == Request.case_id)
        .where(*cond).order_by(*order[sort], Request.id).limit(limit).offset(offset)
        # A row of the list shows neither the document nor the verdict: not read, not parsed.
        .options(orm.defer(Request.document), orm.defer(Request.verdict))).all()
    return [RequestListing(req, ref, req.next_due_on, req.next_due_name) for req, ref in rows], total


def _reference_matches(needle: str) -> sa.ColumnElement[bool]:
    """`needle` (lower case) within one of a request's references; `%` and `_` are plain characters."""
    def within(column: Any) -> sa.ColumnElement[bool]:
        return sa.func.lower(column).contains(needle, autoescape=True)

    found = [within(Case.reference), within(Request.document_case_reference), within(Request.conversation_id)]
    with contextlib.suppress(ValueError):
        found.append(Request.id == uuid.UUID(needle))
    return sa.or_(*found)


def list_deadlines(db: Session, *, actor: Principal, status: str | None = None, due_before: dt.date | None = None,
                   limit: int = 50, offset: int = 0) -> tuple[list[Deadline], int]:
    """The deadlines of the requests the principal may see, the soonest first (undated last)."""
    q = sa.select(Deadline).join(Request, Request.id == Deadline.request_id).where(visible_to(actor))
    if status:
        q = q.where(Deadline.status == status)
    if due_before:
        q = q.where(Deadline.due_on < due_before)
    total = db.execute(sa.select(sa.func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(Deadline.due_on.is_(None), Deadline.due_on, Deadline.id)
                      .limit(limit).offset(offset)).scalars().all()
    return list(rows), total


def json_safe(document: Any) -> dict[str, Any]:
    """The document as it will be stored and sent: plain JSON (dates as YYYY-MM-DD)."""
    if not isinstance(document, dict):
        raise Invalid("a request document must be an object")
    try:
        out: dict[str, Any] = json.loads(json.dumps(
            document, default=lambda o: o.isoformat() if isinstance(o, dt.date) else str(o)))
    except (ValueError, RecursionError) as e:
        raise Invalid(f"the request document cannot be stored as JSON: {e}") from e
    bad = unstorable_text(out)  # checked before it is stored: no stored row may break a later read
    if bad is not None:
        raise Invalid(f"the request document cannot be stored: {bad[0] or 'document'}: {bad[1]}",
                      problems=[{"element": bad[0], "message": bad[1]}])
    return out


def _run_check(law: Law, document: dict[str, Any], now: dt.datetime) -> Verdict:
    requested = document.get("requested_party") if isinstance(document, dict) else None
    as_of = law.today(str(requested or "").upper(), now)
    try:
        return check(document, law.parties, as_of, rulebook=law.rulebook)
    except InvalidInput as e:
        raise Invalid(f"the request document cannot be read: {e}") from e


def check_document(law: Law, document: dict[str, Any], now: dt.datetime) -> Verdict:
    """The rules engine's verdict on a document that is not stored (a draft still being written).
    Pure: nothing is written nor audited, as the document has not left the officer's screen."""
    return _run_check(law, json_safe(document), now)


def draft_form(law: Law, *, request_type: str, requesting: str, requested: str, now: dt.datetime) -> DraftForm:
    """What a document of `request_type` from `requesting` to `requested` must or may show today
    (in the requested Party's time zone), with the article requiring each element."""
    try:
        return rule_form.draft_form(law.rulebook, law.parties, request_type, requesting, requested,
                                    law.today(requested, now))
    except InvalidInput as e:
        raise Invalid(str(e)) from e


@command
def create_request_in_new_case(db: Session, *, actor: Principal, law: Law, reference: str, title: str,
                               document: dict[str, Any], now: dt.datetime) -> Request:
    """A new case and its first (outgoing) request, in one unit of work: never the case without it."""
    case = create_case(db, actor=actor, reference=reference, title=title, now=now)
    return create_request(db, actor=actor, law=law, case_id=case.id, document=document, now=now)


@command
def create_request(db: Session, *, actor: Principal, law: Law, case_id: uuid.UUID,
                   document: dict[str, Any], now: dt.datetime, direction: Direction = "outgoing") -> Request:
    if direction == "outgoing" and actor.role not in DRAFTING_ROLES:
        raise Forbidden(f"role {actor.role} may not draft requests")
    if direction == "incoming" and actor.role not in REGISTERING_ROLES:
        raise Forbidden(f"role {actor.role} may not register incoming requests")
    case = get_case(db, actor=actor, case_id=case_id)
    document = json_safe(document)
    verdict = _run_check(law, document, now)
    ours = verdict.requesting_party if direction == "outgoing" else verdict.requested_party
    if ours != actor.party:
        side = "requesting" if direction == "outgoing" else "requested"
        raise Invalid(f"an {direction} request of this node must name {actor.party} as the {side} Party")
    addressee = document.get("addressee") if isinstance(document.get("addressee"), dict) else None
    request_id = uuid.uuid4()  # chosen here, so the conversation is named in the same INSERT
    req = Request(
        id=request_id, conversation_id=str(request_id),  # the requesting node names the conversation
        party=actor.party, case_id=case.id, direction=direction, request_type=verdict.request_type,
        requesting_party=verdict.requesting_party, requested_party=verdict.requested_party,
        provider=(addressee or {}).get("name") if isinstance((addressee or {}).get("name"), str) else None,
        status=law.lifecycle.initial(direction), urgent=document.get("urgent") is True,
        document=document, document_case_reference=_given_reference(document), verdict=verdict.to_json_dict(),
        admissible=verdict.admissible, checked_at=now, created_by=actor.user_id, created_at=now, updated_at=now,
    )
    _add_new(db, req, verdict, now, law)
    _event(db, req, actor, "create", None, req.status, now, None, {"admissible": verdict.admissible}, first=True)
    audit.record(db, actor=actor, action="request.create", object_type="request", object_id=str(req.id), at=now,
                 details={"type": req.request_type, "direction": direction, "status": req.status}, personal_data=True)
    return req


@command
def register_incoming(db: Session, *, law: Law, party: str, sender: str, document: dict[str, Any],
                      conversation_id: str, now: dt.datetime) -> Request:
    """A request that arrived from another Party's node (signature already verified): registered as
    received, under a case of its own, by the node itself."""
    node = Principal(user_id=None, username=f"node:{sender}", party=party, role=Role.system)
    document = json_safe(document)
    verdict = _run_check(law, document, now)
    if verdict.requested_party != party or verdict.requesting_party != sender:
        raise Invalid(f"the request names {verdict.requesting_party}→{verdict.requested_party}, "
                      f"but came from {sender} to {party}")
    reference = f"{sender}:{conversation_id}"[:120]
    case = db.execute(sa.select(Case).where(Case.party == party, Case.reference == reference)).scalar_one_or_none()
    if case is None:
        case = Case(party=party, reference=reference, title=f"{verdict.request_type} from {sender}",
                    created_by=None, created_at=now)
        db.add(case)
        db.flush()
    addressee: dict[str, Any] = document["addressee"] if isinstance(document.get("addressee"), dict) else {}
    req = Request(
        id=uuid.uuid4(),  # chosen here, so its deadlines are made before its INSERT
        party=party, case_id=case.id, direction="incoming", request_type=verdict.request_type,
        requesting_party=sender, requested_party=party, conversation_id=conversation_id,
        provider=addressee.get("name") if isinstance(addressee.get("name"), str) else None,
        status=law.lifecycle.initial("incoming"), urgent=document.get("urgent") is True, document=document,
        document_case_reference=_given_reference(document), verdict=verdict.to_json_dict(),
        admissible=verdict.admissible, checked_at=now, created_by=None, created_at=now, updated_at=now)
    _add_new(db, req, verdict, now, law)
    _event(db, req, node, "receive", None, req.status, now, None, {"from": sender}, first=True)
    audit.record(db, actor=node, action="request.receive", object_type="request", object_id=str(req.id), at=now,
                 details={"from": sender, "conversation": conversation_id}, personal_data=True)
    return req


def _given_reference(document: dict[str, Any]) -> str | None:
    """The reference the document itself gives (its case_reference), kept on the request's row for the
    list's search (a document the rules engine reads has a string or none there)."""
    given = document.get("case_reference")
    return given if isinstance(given, str) else None


def find_by_conversation(db: Session, *, party: str, conversation_id: str) -> Request | None:
    return db.execute(sa.select(Request).where(Request.party == party, Request.conversation_id == conversation_id)
                      ).scalar_one_or_none()




def is_editable(req: Request) -> bool:
    """Whether the request's document may still be changed: an outgoing one not yet sent."""
    return req.direction == "outgoing" and req.status in DOCUMENT_EDITABLE


@command
def update_document(db: Session, *, actor: Principal, law: Law, request_id: uuid.UUID,
                    document: dict[str, Any], now: dt.datetime) -> Request:
    req = get_request(db, actor=actor, request_id=request_id, for_update=True, audit_read=False)
    if not is_editable(req):
        raise Conflict(f"the document can be changed only while drafting, not in status {req.status}")
    if actor.role not in DRAFTING_ROLES:
        raise Forbidden(f"role {actor.role} may not edit requests")
    document = json_safe(document)
    verdict = _run_check(law, document, now)
    if verdict.requesting_party != req.requesting_party or verdict.request_type != req.request_type:
        raise Invalid("the request type and the requesting Party cannot change; draft a new request")
    previous = req.status
    req.document, req.verdict, req.admissible, req.checked_at = document, verdict.to_json_dict(), verdict.admissible, now
    req.document_case_reference = _given_reference(document)
    req.requested_party = verdict.requested_party
    req.status, req.updated_at = "draft", now  # any change needs a new check and approval
    _event(db, req, actor, "edit", previous, "draft", now, None, {"admissible": verdict.admissible})
    audit.record(db, actor=actor, action="request.update", object_type="request", object_id=str(req.id), at=now,
                 personal_data=True)
    _recompute_deadlines(db, req, verdict, now, law)
    return req


def document_editable(req: Request, actor: Principal) -> bool:
    """May `actor` change the document of `req` now (update_document would accept it)?"""
    return is_editable(req) and actor.role in DRAFTING_ROLES


@command
def check_request(db: Session, *, actor: Principal, law: Law, request_id: uuid.UUID,
                  now: dt.datetime) -> Verdict:
    """Run the rules engine on the stored document now; store and return the verdict."""
    req = get_request(db, actor=actor, request_id=request_id, for_update=True, audit_read=False)
    verdict = _run_check(law, req.document, now)
    req.verdict, req.admissible, req.checked_at, req.updated_at = verdict.to_json_dict(), verdict.admissible, now, now
    audit.record(db, actor=actor, action="request.check", object_type="request", object_id=str(req.id), at=now,
                 details={"admissible": verdict.admissible})
    _recompute_deadlines(db, req, verdict, now, law)
    return verdict


@dataclass
class Command:
    """What a transition may carry besides the event (each checked by the table's guards)."""

    reasons: str | None = None
    grounds: list[str] = field(default_factory=list)
    conditions: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


@command
def transition(db: Session, *, actor: Principal, law: Law, request_id: uuid.UUID, event: str,
               now: dt.datetime, command: Command | None = None, expected_version: int | None = None) -> Request:
    """Apply one event of the lifecycle table, with its guards, effects, deadlines and audit."""
    cmd = command or Command()
    req = get_request(db, actor=actor, request_id=request_id, for_update=True, audit_read=False)
    if expected_version is not None and req.version != expected_version:
        raise Conflict(f"the request changed meanwhile (version {req.version}, expected {expected_version})")
    spec = law.lifecycle.find(req.direction, req.status, event, actor.role,  # type: ignore[arg-type]
                              req.request_type, req.urgent)
    verdict = _guards(db, req, spec, actor, law, cmd, now)
    outside = _outside_record(law, req, spec, cmd, verdict, now)
    source = req.status
    req.status, req.updated_at = spec.to, now
    noted, period_days = _effects(db, req, spec, actor, law, cmd, now)
    waived = _waiver_record(law, req, spec)
    given = {k: v for k, v in cmd.data.items() if k not in (MEANS, DISPATCH_REFERENCE)}
    _event(db, req, actor, event, source, spec.to, now, cmd.reasons,
           {k: v for k, v in {"grounds": cmd.grounds, "conditions": cmd.conditions, **given, **noted,
                              **waived, **outside}.items() if v})
    _recompute_deadlines(db, req, verdict or _run_check(law, req.document, now), now, law,
                         preservation_days=period_days)
    if waived:
        _review_due(db, req, actor, law, str(waived["waiver_article"]), now)
    # Last, so the audit chain's head stays locked only until the commit that follows.
    audit.record(db, actor=actor, action=f"request.{event}", object_type="request", object_id=str(req.id), at=now,
                 details={"from": source, "to": spec.to, "grounds": cmd.grounds, **waived,
                          **({"means": outside[MEANS], "delivered_by_evidex": False} if outside else {})})
    if law.announce is not None and actor.role is not Role.system:
        law.announce(db, req, event, now)
    return req


def _guards(db: Session, req: Request, spec: TransitionSpec, actor: Principal, law: Law, cmd: Command,
            now: dt.datetime) -> Verdict | None:
    verdict = None
    if set(spec.guards) & DELIVERY_GUARDS:
        _delivery_guard(db, req, spec, actor, law, now)
    for guard in spec.guards:
        if guard == "admissible":
            # A request the rules engine finds inadmissible cannot be checked, approved or sent.
            verdict = _run_check(law, req.document, now)
            req.verdict, req.admissible, req.checked_at = verdict.to_json_dict(), verdict.admissible, now
            if not verdict.admissible:
                raise Invalid(f"'{spec.event}' needs an admissible request; the rules engine found "
                              f"{len(verdict.problems)} problem(s)",
                              [{"code": p.code, "article": p.article, "element": p.element, "message": p.message}
                               for p in verdict.problems])
        elif guard == "reasons":
            if not (cmd.reasons and cmd.reasons.strip()):
                article = law.lifecycle.guard_article("reasons")
                raise Invalid(f"'{spec.event}' needs written reasons" + (f" ({article})" if article else ""))
        elif guard in ("refusal_grounds", "postponement_grounds"):
            rtype = law.rulebook.types[req.request_type]
            route = (req.verdict or {}).get("route")
            known = [g.article for g in rtype.answer_grounds(
                "refusal" if guard == "refusal_grounds" else "postponement", route)]
            treaty = rtype.governing_treaty(route)
            under = (f" between {req.requesting_party} and {req.requested_party}, whose mutual assistance treaty "
                     f"applies ({treaty.article})" if treaty is not None else "")
            if not cmd.grounds:
                raise Invalid(f"'{spec.event}' needs at least one ground; for {req.request_type}{under}: "
                              f"{', '.join(known) or 'none in the treaties'}")
            unknown = [g for g in cmd.grounds if g not in known]
            if unknown:
                raise Invalid(f"not a ground for {req.request_type}{under}: {', '.join(unknown)}; "
                              f"grounds: {', '.join(known) or 'none in the treaties'}")
        elif guard == "conditions":
            if not cmd.conditions:
                raise Invalid(f"'{spec.event}' needs at least one condition")
            for c in cmd.conditions:
                kinds = law.lifecycle.condition_kinds
                if not isinstance(c, dict) or c.get("kind") not in kinds or not str(c.get("text", "")).strip():
                    raise Invalid(f"a condition is {{kind: {'|'.join(sorted(kinds))}, text}}")
        elif guard == "four_eyes":
            if not _four_eyes_kept(req, actor):
                raise Invalid(f"'{spec.event}' must be done by someone other than the drafter (four eyes)")
        elif guard == "lapsed" and not _lapsed(req, law, now):
            today = law.today(req.requested_party, now)
            until = req.preserved_until.isoformat() if req.preserved_until else "a date not yet known"
            article = law.rulebook.article_of(PRESERVATION_PERIOD)
            raise Invalid(f"'{spec.event}': the preservation runs until {until}"
                          + (f" ({article})" if article else "")
                          + f"; today is {today.isoformat()} in {req.requested_party}")
    return verdict


def evidex_delivers(db: Session, law: Law, party: str, now: dt.datetime) -> bool:
    """Whether evidex delivers to `party` now: its node is in this node's trust list (law.reaches).
    Judged at the moment of sending: a node added or removed after drafting counts as it is then."""
    return law.reaches is not None and law.reaches(db, party, now)


def _refused_by_delivery(spec: TransitionSpec, delivers: bool) -> bool:
    """The delivery guards of the lifecycle: `send` only through a node evidex trusts, `send_outside`
    only without one."""
    return ("evidex_node" in spec.guards and not delivers) or ("outside_evidex" in spec.guards and delivers)


def allowed_events(db: Session, req: Request, *, actor: Principal, law: Law, now: dt.datetime) -> list[str]:
    """The events the lifecycle offers `actor` on `req` now (for its direction, state, type, urgency and
    the actor's role), less a send the requested Party's node (or its absence) rules out."""
    events = law.lifecycle.events_from(req.direction, req.status, actor.role,  # type: ignore[arg-type]
                                       req.request_type, req.urgent)
    table = law.lifecycle.table
    specs = {ev: table[(req.direction, req.status, ev)] for ev in events}  # type: ignore[index]
    if not any(set(t.guards) & DELIVERY_GUARDS for t in specs.values()):
        return events
    delivers = evidex_delivers(db, law, req.requested_party, now)
    return [ev for ev in events if not _refused_by_delivery(specs[ev], delivers)]


def _delivery_guard(db: Session, req: Request, spec: TransitionSpec, actor: Principal, law: Law,
                    now: dt.datetime) -> None:
    delivers = evidex_delivers(db, law, req.requested_party, now)
    if not _refused_by_delivery(spec, delivers):
        return
    allowed = allowed_events(db, req, actor=actor, law=law, now=now)
    party = req.requested_party
    if delivers:
        raise TransitionNotAllowed(req.status, spec.event, allowed, (
            f"{party} has an evidex node this node trusts: evidex delivers the request, signed, with receipts "
            f"('send'); it is not also sent outside evidex"))
    raise TransitionNotAllowed(req.status, spec.event, allowed, (
        f"{party} has no evidex node this node trusts (none, or removed from the trust list): evidex cannot "
        f"deliver this request. Send the official document yourself by a means the route allows and record it "
        f"('send_outside' with the means)"))


def outside_means(law: Law, req: Request, now: dt.datetime, verdict: Verdict | None = None) -> list[str]:
    """The means by which `req` may be sent outside evidex: those its route's channel allows
    (request_types.yaml outside_evidex; ETS185 Art 25(3) adds fax and e-mail to an urgent request),
    as the rules engine finds the route now."""
    verdict = verdict or _run_check(law, req.document, now)
    return list(verdict.route.outside_evidex) if verdict.route is not None else []


def _outside_record(law: Law, req: Request, spec: TransitionSpec, cmd: Command, verdict: Verdict | None,
                    now: dt.datetime) -> dict[str, Any]:
    """What a send outside evidex records (empty for any other event): the means, one the route
    allows, and the dispatch's reference if given. Either given to another event is refused."""
    means, reference = cmd.data.get(MEANS), cmd.data.get(DISPATCH_REFERENCE)
    if "outside_evidex" not in spec.guards:
        if means is not None or reference is not None:
            raise Invalid(f"'{MEANS}' and '{DISPATCH_REFERENCE}' are recorded only when a request is sent "
                          "outside evidex (send_outside)")
        return {}
    offered = outside_means(law, req, now, verdict)
    route = verdict.route.article if verdict is not None and verdict.route is not None else None
    where = f" (the route of {route} allows: {', '.join(offered)})" if route else ""
    if not means:
        raise Invalid(f"'{spec.event}' needs the means by which you send the request: one of "
                      f"{', '.join(offered) or 'none'}{where}")
    if means not in offered:
        raise Invalid(f"{means!r} is not a means this request's route allows: one of {', '.join(offered) or 'none'}"
                      f"{where}")
    out: dict[str, Any] = {MEANS: means}
    if reference is not None:
        text = str(reference).strip()
        if len(text) > DISPATCH_REFERENCE_MAX:
            raise Invalid(f"the dispatch reference is longer than {DISPATCH_REFERENCE_MAX} characters")
        bad = unstorable_text({DISPATCH_REFERENCE: text})
        if bad is not None:
            raise Invalid(f"the dispatch reference cannot be stored: {bad[1]}")
        if text:
            out[DISPATCH_REFERENCE] = text
    if route:
        out["route_article"] = route
    return out


def _four_eyes_kept(req: Request, actor: Principal) -> bool:
    """The actor is not the person who drafted the request (four eyes)."""
    return req.created_by is None or req.created_by != actor.user_id


def _lapsed(req: Request, law: Law, now: dt.datetime) -> bool:
    """ETS185 Art 29(7): preserved at least 60 days; it lapses only once that period has run out,
    counted in calendar days where the data is held (the requested Party, LEGAL.md §5)."""
    return req.preserved_until is not None and law.today(req.requested_party, now) > req.preserved_until


def actions_now(db: Session, req: Request, *, actor: Principal, law: Law, now: dt.datetime) -> list[str]:
    """The events `actor` may apply to `req` now: the lifecycle's for its direction, state, type and
    urgency and the actor's role, less those a guard needing no input refuses already (four eyes: not
    by the drafter; lapsed: not before the preservation period has run out; a send through evidex to
    a Party without a node evidex trusts, or outside evidex to one with). The other guards judge
    what the actor gives (reasons, grounds, conditions, means) or the document, when the event is applied."""
    out = []
    for event in allowed_events(db, req, actor=actor, law=law, now=now):
        guards = law.lifecycle.table[(req.direction, req.status, event)].guards  # type: ignore[index]
        if ("four_eyes" in guards and not _four_eyes_kept(req, actor)) or (
                "lapsed" in guards and not _lapsed(req, law, now)):
            continue
        out.append(event)
    return out


@dataclass(frozen=True)
class FourEyes:
    """Who drafted, who approved, and an emergency's send alone with its review (four_eyes_waiver)."""

    drafted_by: str | None  # None: registered by the node (an incoming request)
    drafted_at: dt.datetime | None
    approved_by: str | None  # the approval in force (an edit voids it)
    approved_at: dt.datetime | None
    sent_alone_by: str | None
    sent_alone_at: dt.datetime | None
    waiver_article: str | None
    review: Deadline | None  # the review's deadline (open, overdue or met)
    reviewed_by: str | None
    reviewed_at: dt.datetime | None
    viewer_drafted: bool  # the viewer drafted it: someone else approves
    viewer_sent_alone: bool  # the viewer sent it alone: someone else reviews
    viewer_may_review: bool  # a review is due and the viewer may give it now


def four_eyes_of(req: Request, events: list[RequestEvent], deadlines: list[Deadline], *, actor: Principal,
                 law: Law) -> FourEyes:
    """The four-eyes state of a request from its history and deadlines (as history() and deadlines_of()
    return them): no query of its own."""
    drafted: RequestEvent | None = None
    approved: RequestEvent | None = None
    alone: RequestEvent | None = None
    reviewed: RequestEvent | None = None
    for e in events:
        if e.event == "create":
            drafted = e
        elif e.event == "edit":
            approved = None  # a changed document needs a new approval
        elif e.event == "approve":
            approved = e
        elif e.event == "send_alone" or (e.data or {}).get("four_eyes") == "waived":  # also sent outside evidex
            alone, reviewed = e, None
        elif e.event == "review":
            reviewed = e
    review = next((d for d in deadlines if d.name == REVIEW_DEADLINE), None)
    waiver = law.lifecycle.spec.four_eyes_waiver
    sent_alone_by_viewer = alone is not None and alone.actor_id is not None and alone.actor_id == actor.user_id
    due = review is not None and review.status in OPEN_DEADLINE
    return FourEyes(
        drafted_by=drafted.actor if drafted and drafted.actor_id else None, drafted_at=drafted.at if drafted else None,
        approved_by=approved.actor if approved else None, approved_at=approved.at if approved else None,
        sent_alone_by=alone.actor if alone else None, sent_alone_at=alone.at if alone else None,
        waiver_article=(alone.data or {}).get("waiver_article") if alone else None, review=review,
        reviewed_by=reviewed.actor if reviewed else None, reviewed_at=reviewed.at if reviewed else None,
        viewer_drafted=req.created_by is not None and not _four_eyes_kept(req, actor),
        viewer_sent_alone=sent_alone_by_viewer,
        viewer_may_review=due and actor.role in waiver.review_roles and not sent_alone_by_viewer)


def _waiver_record(law: Law, req: Request, spec: TransitionSpec) -> dict[str, Any]:
    """What the event and the audit entry say of a send without a second person (empty otherwise)."""
    if "four_eyes_waived" not in spec.guards:
        return {}
    case = law.lifecycle.waiver(req.request_type, req.urgent)
    assert case is not None  # Lifecycle.find refuses the event otherwise
    return {"four_eyes": "waived", "waiver_article": case.article}


def _review_due(db: Session, req: Request, actor: Principal, law: Law, article: str, now: dt.datetime) -> None:
    """The second person's review of a send done alone: a deadline, and a notification at once."""
    days = law.lifecycle.spec.four_eyes_waiver.review_within_days
    due = law.today(req.party, now) + dt.timedelta(days=days)
    d = db.execute(sa.select(Deadline).where(Deadline.request_id == req.id, Deadline.name == REVIEW_DEADLINE)
                   ).scalar_one_or_none()
    if d is None:
        d = Deadline(request_id=req.id, party=req.party, name=REVIEW_DEADLINE, created_at=now)
        db.add(d)
    d.article, d.days, d.due_on, d.remind_on, d.status, d.updated_at = article, days, due, None, "open", now
    d.reminded_at = now  # the notification below is its reminder
    db.flush()
    _keep_next_due(db, req)
    db.add(Notification(party=req.party, request_id=req.id, deadline_id=d.id, kind="review_due", article=article,
                        message=f"{actor.username} sent {req.request_type} {req.id} alone as an emergency ({article}); "
                                f"a second person's review is due by {due.isoformat()}.", created_at=now))


@command
def review_send(db: Session, *, actor: Principal, law: Law, request_id: uuid.UUID, now: dt.datetime,
                reasons: str | None = None) -> Request:
    """The second person's review of a request a 24/7 contact sent alone: closes the review deadline.
    The state does not change; the history and the audit chain record who reviewed."""
    req = get_request(db, actor=actor, request_id=request_id, for_update=True, audit_read=False)
    waiver = law.lifecycle.spec.four_eyes_waiver
    if actor.role not in waiver.review_roles:
        raise Forbidden(f"role {actor.role} may not review a send (roles: {', '.join(waiver.review_roles)})")
    d = db.execute(sa.select(Deadline).where(Deadline.request_id == req.id, Deadline.name == REVIEW_DEADLINE,
                                             Deadline.status.in_(("open", "overdue")))).scalar_one_or_none()
    if d is None:
        raise Conflict("no review is due on this request: it was not sent alone, or has been reviewed")
    sender = db.execute(sa.select(RequestEvent.actor_id).where(
        RequestEvent.request_id == req.id, RequestEvent.event.in_(SENDS_ALONE)).order_by(RequestEvent.seq.desc())
        .limit(1)).scalar_one_or_none()
    if sender is not None and sender == actor.user_id:
        raise Invalid("the send must be reviewed by someone other than the person who sent it (four eyes)")
    d.status, d.updated_at = "met", now
    req.updated_at = now
    _keep_next_due(db, req)
    _event(db, req, actor, "review", req.status, req.status, now, reasons,
           {"reviews": "send_alone", "article": d.article})
    audit.record(db, actor=actor, action="request.review", object_type="request", object_id=str(req.id), at=now,
                 details={"article": d.article, "late": d.due_on is not None and law.today(req.party, now) > d.due_on})
    return req


def _effects(db: Session, req: Request, spec: TransitionSpec, actor: Principal, law: Law, cmd: Command,
             now: dt.datetime) -> tuple[dict[str, Any], int | None]:
    """Apply what the new state implies; returns what the event records besides the command, and
    the days of a preservation period it started (counted by the period in force on its first day)."""
    kind = DECISION_KIND.get(spec.to)
    if kind:
        db.add(Decision(request_id=req.id, kind=kind, grounds=list(cmd.grounds), reasons=cmd.reasons,
                        decided_by=actor.user_id, at=now))
    if spec.to == "conditions_proposed":
        for c in cmd.conditions:
            db.add(RequestCondition(request_id=req.id, kind=c["kind"], text=str(c["text"]).strip(),
                                    article=c.get("article") or law.lifecycle.condition_kinds.get(c["kind"]),
                                    status="proposed", binding=False, proposed_at=now))
    if spec.to in ("conditions_accepted", "conditions_declined"):
        accepted = spec.to == "conditions_accepted"
        for row in db.execute(sa.select(RequestCondition).where(
                RequestCondition.request_id == req.id, RequestCondition.status == "proposed")).scalars():
            # ETS185 Art 28(3), CETS224 Art 8(9)(b), 9(7): accepted conditions bind.
            row.status, row.binding, row.answered_at = ("accepted" if accepted else "declined"), accepted, now
    if spec.to == "preserved":
        start = law.today(req.requested_party, now)
        if isinstance(cmd.data.get("preserved_on"), str):
            try:
                start = dt.date.fromisoformat(cmd.data["preserved_on"])
            except ValueError as e:
                raise Invalid("preserved_on is not a date (YYYY-MM-DD)") from e
        days = law.rulebook.value(PRESERVATION_PERIOD, on=start)
        req.preserved_until = start + dt.timedelta(days=days)
        # The other node counts from the same day; the end is recorded for the letter that confirms it.
        return {"preserved_on": start.isoformat(), "preserved_until": req.preserved_until.isoformat()}, days
    if spec.to == "renewed":
        base = max(req.preserved_until or law.today(req.requested_party, now), law.today(req.requested_party, now))
        days = law.rulebook.value(PRESERVATION_PERIOD, on=base)
        req.preserved_until = base + dt.timedelta(days=days)
        return {"preserved_until": req.preserved_until.isoformat()}, days
    return {}, None


def _event(db: Session, req: Request, actor: Principal, event: str, source: str | None, target: str,
           now: dt.datetime, reasons: str | None, data: dict[str, Any], first: bool = False) -> None:
    """`first`: the request was created in this transaction (its history starts here: no query)."""
    seq = 1 if first else (db.execute(sa.select(sa.func.max(RequestEvent.seq)).where(
        RequestEvent.request_id == req.id)).scalar_one_or_none() or 0) + 1
    db.add(RequestEvent(request_id=req.id, seq=seq, event=event, from_status=source, to_status=target,
                        actor_id=actor.user_id, actor=actor.username, actor_role=actor.role.value, at=now,
                        reasons=reasons, data=data))


def _remind_on(rulebook: Rulebook, due: dt.date, days: int | None) -> dt.date:
    """The reminder's day: the lead time before `due`; a period shorter than twice the lead is
    reminded a third of the way before its end, at least one day (periods.yaml, reminder_lead)."""
    lead = rulebook.value(REMINDER_LEAD, on=due)
    return due - dt.timedelta(days=lead if (days or 0) >= 2 * lead else max(1, (days or 2) // 3))


def _add_new(db: Session, req: Request, verdict: Verdict, now: dt.datetime, law: Law) -> None:
    """A new request (its id chosen) with its deadlines: its next due deadline goes into its INSERT,
    which comes before theirs (no query: it has none yet)."""
    added = _deadlines_for(req, verdict, now, law, [])
    _keep_next_due(db, req, added)
    db.add(req)
    db.flush()
    db.add_all(added)


def _recompute_deadlines(db: Session, req: Request, verdict: Verdict, now: dt.datetime, law: Law,
                         preservation_days: int | None = None) -> None:
    """Deadlines follow the rules engine's verdict and the lifecycle; recomputed on every change.
    `preservation_days`: the period a preservation (or renewal) in this transaction started."""
    existing = list(db.execute(sa.select(Deadline).where(Deadline.request_id == req.id)).scalars())
    added = _deadlines_for(req, verdict, now, law, existing, preservation_days)
    db.add_all(added)
    _keep_next_due(db, req, existing + added)


def _deadlines_for(req: Request, verdict: Verdict, now: dt.datetime, law: Law, existing: list[Deadline],
                   preservation_days: int | None = None) -> list[Deadline]:
    """Sets the request's `existing` deadlines (all of them) as the verdict and the lifecycle want them;
    returns those it lacks, new, for the caller to add."""
    wanted: dict[str, tuple[str, int | None, dt.date | None]] = {
        d.name: (d.article, d.days, d.due) for d in verdict.deadlines
    }
    by_name = {d.name: d for d in existing}
    added = []
    if req.preserved_until is not None:  # preserved: the period actually running replaces the estimate
        kept = by_name.get(PRESERVATION_DEADLINE)
        days = preservation_days or (kept.days if kept is not None and kept.due_on == req.preserved_until else
                                     law.rulebook.value(PRESERVATION_PERIOD, on=req.preserved_until))
        article = (wanted[PRESERVATION_DEADLINE][0] if PRESERVATION_DEADLINE in wanted
                   else law.rulebook.article_of(PRESERVATION_PERIOD) or "")
        wanted[PRESERVATION_DEADLINE] = (article, days, req.preserved_until)
    ending = law.lifecycle.deadlines_end(req.status)
    closed = ending is not None
    for name, (article, days, due) in wanted.items():
        d = by_name.get(name)
        if d is None:
            d = Deadline(request_id=req.id, party=req.party, name=name, article=article, status="open",
                         created_at=now, updated_at=now)
            added.append(d)
        if d.status in ("met", "cancelled") and not closed and d.due_on == due:
            continue
        d.article, d.days, d.due_on, d.updated_at = article, days, due, now
        d.remind_on = _remind_on(law.rulebook, due, days) if due else None
        if ending is not None and d.status in ("open", "overdue"):
            d.status = ending
        elif not closed and d.status == "cancelled":
            d.status = "open"
    for name, d in by_name.items():
        if name not in wanted and name != REVIEW_DEADLINE and d.status == "open":
            d.status, d.updated_at = "cancelled", now
    return added


def _next_due(deadlines: Iterable[Deadline]) -> tuple[dt.date | None, str | None]:
    """A request's next due deadline among all its `deadlines`: the earliest open one with a date, by
    name on the same day (date and name; none: None, None)."""
    dated = [(d.due_on, d.name) for d in deadlines if d.status in OPEN_DEADLINE and d.due_on is not None]
    if not dated:
        return None, None
    due, name = min(dated)
    return due, name


def _keep_next_due(db: Session, req: Request, deadlines: Iterable[Deadline] | None = None) -> None:
    """Keep the request's next due deadline on its row (Request.next_due_on, next_due_name: the list
    sorts and filters on them), from all its `deadlines` (None: read them), in the transaction that
    changed them. Not a change of the request: its version (optimistic locking) stays as it is."""
    if deadlines is None:
        deadlines = db.execute(sa.select(Deadline).where(Deadline.request_id == req.id)).scalars()
    due, name = _next_due(deadlines)
    if (req.next_due_on, req.next_due_name) == (due, name):
        return
    if not sa.inspect(req).persistent:  # not yet written: in its INSERT
        req.next_due_on, req.next_due_name = due, name
        return
    db.execute(sa.update(Request).where(Request.id == req.id).values(next_due_on=due, next_due_name=name)
               .execution_options(synchronize_session=False))
    set_committed_value(req, "next_due_on", due)
    set_committed_value(req, "next_due_name", name)


@command
def history(db: Session, *, actor: Principal, request_id: uuid.UUID,
            now: dt.datetime | None = None) -> list[RequestEvent]:
    """The request's events in order. With `now`, the read is logged (CETS224 Art 14(8)): the
    reasons given for a step may hold personal data."""
    get_request(db, actor=actor, request_id=request_id, now=now, audit_read=now is not None)
    return list(db.execute(sa.select(RequestEvent).where(RequestEvent.request_id == request_id)
                           .order_by(RequestEvent.seq)).scalars())


@command
def decisions_of(db: Session, *, actor: Principal, request_id: uuid.UUID,
                 now: dt.datetime | None = None) -> list[Decision]:
    """The decisions taken on a request, oldest first. With `now`, the read is logged (CETS224
    Art 14(8)): their reasons may hold personal data."""
    get_request(db, actor=actor, request_id=request_id, now=now, audit_read=now is not None)
    return list(db.execute(sa.select(Decision).where(Decision.request_id == request_id)
                           .order_by(Decision.at)).scalars())


def conditions_of(db: Session, *, actor: Principal, request_id: uuid.UUID) -> list[RequestCondition]:
    """The conditions proposed or set on a request, in the order they were proposed."""
    get_request(db, actor=actor, request_id=request_id, audit_read=False)
    return list(db.execute(sa.select(RequestCondition).where(RequestCondition.request_id == request_id)
                           .order_by(RequestCondition.proposed_at, RequestCondition.id)).scalars())


def deadlines_of(db: Session, *, actor: Principal, request_id: uuid.UUID) -> list[Deadline]:
    """The deadlines of one request, by name."""
    get_request(db, actor=actor, request_id=request_id, audit_read=False)
    return list(db.execute(sa.select(Deadline).where(Deadline.request_id == request_id)
                           .order_by(Deadline.name)).scalars())
