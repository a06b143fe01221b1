"""Cases and requests: plain functions taking the session, the acting principal and the time.

Party scoping lives in the queries: another Party's (or another provider's) objects are never
loaded, and asking for one answers NotFound. Every change and every read of a request's
document (personal data) is written to the audit chain in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from evidex.audit import service as audit
from evidex.cases.models import Case
from evidex.core.errors import Conflict, Forbidden, Invalid, InvalidInput, NotFound
from evidex.core.jsontext import unstorable_text
from evidex.parties.roles import Principal, Role
from evidex.requests.lifecycle import Direction, Lifecycle, TransitionSpec, default_lifecycle
from evidex.requests.models import Deadline, Decision, Request, RequestCondition, RequestEvent
from evidex.rules import Parties, Rulebook, Verdict, check, default_parties, default_rulebook

PRESERVATION_DAYS = 60  # ETS185 Art 29(7): preserved for a period of not less than 60 days
PRESERVATION_WARNING_DAYS = 10  # warn 10 days before a preservation lapses
DRAFTING_ROLES = frozenset({Role.competent_authority, Role.central_authority, Role.contact_24_7})
REGISTERING_ROLES = frozenset({Role.central_authority, Role.contact_24_7})
CONDITION_KINDS = frozenset({"confidentiality", "use_limitation", "other"})
CONDITION_ARTICLES = {"confidentiality": "ETS185 Art 28(2)(a)", "use_limitation": "ETS185 Art 28(2)(b)"}
DECISION_KIND = {"refused": "refusal", "postponed": "postponement", "partly_executed": "partial_execution",
                 "conditions_proposed": "conditions"}
FINAL_LIKE = frozenset({"closed", "withdrawn", "expired", "released", "data_transmitted", "refused",
                        "conditions_declined"})


@dataclass(frozen=True)
class Domain:
    """The law and the lifecycle a node works with (built once, passed explicitly)."""

    parties: Parties = field(default_factory=default_parties)
    rulebook: Rulebook = field(default_factory=default_rulebook)
    lifecycle: Lifecycle = field(default_factory=default_lifecycle)
    # Called in the same transaction after each transition (event name) and each audited read
    # ("read"): federation hooks its outbox here, so this package never imports the exchange.
    announce: Callable[[Session, Request, str, dt.datetime], None] | None = None

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


def list_cases(db: Session, *, actor: Principal, limit: int = 50, offset: int = 0) -> tuple[list[Case], int]:
    if actor.role is Role.service_provider:
        return [], 0
    q = sa.select(Case).where(Case.party == actor.party)
    total = db.execute(sa.select(sa.func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(Case.created_at.desc(), Case.id).limit(limit).offset(offset)).scalars().all()
    return list(rows), total


# --------------------------------------------------------------------------- requests
def _visible(actor: Principal) -> sa.ColumnElement[bool]:
    """The rows a principal may see, as a query condition (unauthorised rows never load)."""
    cond = Request.party == actor.party
    if actor.role is Role.service_provider:
        cond = sa.and_(cond, Request.direction == "incoming", Request.provider == actor.provider)
    elif actor.role is Role.notified_authority:
        cond = sa.and_(cond, Request.direction == "incoming", Request.request_type == "subscriber_order")
    return cond


def visible_to(actor: Principal) -> sa.ColumnElement[bool]:
    """The requests `actor` may see, as a query condition: for services reading what hangs off a
    request (notifications, deadlines), so another Party's rows never load."""
    return _visible(actor)


def get_request(db: Session, *, actor: Principal, request_id: uuid.UUID, now: dt.datetime | None = None,
                for_update: bool = False, audit_read: bool = True, domain: Domain | None = None) -> Request:
    q = sa.select(Request).where(Request.id == request_id, _visible(actor))
    if for_update:
        q = q.with_for_update()
    req = db.execute(q).scalar_one_or_none()
    if req is None:
        raise NotFound("request not found")
    if audit_read and now is not None:
        # CETS224 Art 14(8): every read of a record holding personal data is logged.
        audit.record(db, actor=actor, action="request.read", object_type="request", object_id=str(req.id),
                     at=now, personal_data=True)
        if domain is not None and domain.announce is not None and actor.role is not Role.system:
            domain.announce(db, req, "read", now)  # e.g. the retrieval receipt to the sending node
    return req


def list_requests(db: Session, *, actor: Principal, status: str | None = None, request_type: str | None = None,
                  direction: str | None = None, case_id: uuid.UUID | None = None, limit: int = 50,
                  offset: int = 0) -> tuple[list[Request], int]:
    q = sa.select(Request).where(_visible(actor))
    if status:
        q = q.where(Request.status == status)
    if request_type:
        q = q.where(Request.request_type == request_type)
    if direction:
        q = q.where(Request.direction == direction)
    if case_id:
        q = q.where(Request.case_id == case_id)
    total = db.execute(sa.select(sa.func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(Request.updated_at.desc(), Request.id).limit(limit).offset(offset)).scalars().all()
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


def _run_check(domain: Domain, document: dict[str, Any], now: dt.datetime) -> Verdict:
    requested = document.get("requested_party") if isinstance(document, dict) else None
    as_of = domain.today(str(requested or "").upper(), now)
    try:
        return check(document, domain.parties, as_of)
    except InvalidInput as e:
        raise Invalid(f"the request document cannot be read: {e}") from e


def create_request(db: Session, *, actor: Principal, domain: Domain, case_id: uuid.UUID,
                   document: dict[str, Any], now: dt.datetime, direction: Direction = "outgoing") -> Request:
    if direction == "outgoing" and actor.role not in DRAFTING_ROLES:
        raise Forbidden(f"role {actor.role} may not draft requests")
    if direction == "incoming" and actor.role not in REGISTERING_ROLES:
        raise Forbidden(f"role {actor.role} may not register incoming requests")
    case = get_case(db, actor=actor, case_id=case_id)
    document = json_safe(document)
    verdict = _run_check(domain, document, now)
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
        status=domain.lifecycle.initial(direction), urgent=document.get("urgent") is True,
        document=document, verdict=verdict.to_json_dict(), admissible=verdict.admissible, checked_at=now,
        created_by=actor.user_id, created_at=now, updated_at=now,
    )
    db.add(req)
    db.flush()
    _event(db, req, actor, "create", None, req.status, now, None, {"admissible": verdict.admissible}, first=True)
    _recompute_deadlines(db, req, verdict, now, new=True)
    audit.record(db, actor=actor, action="request.create", object_type="request", object_id=str(req.id), at=now,
                 details={"type": req.request_type, "direction": direction, "status": req.status}, personal_data=True)
    return req


def register_incoming(db: Session, *, domain: Domain, party: str, sender: str, document: dict[str, Any],
                      conversation_id: str, now: dt.datetime) -> Request:
    """A request that arrived from another Party's node (signature already verified): registered as
    received, under a case of its own, by the node itself."""
    node = Principal(user_id=None, username=f"node:{sender}", party=party, role=Role.system)
    document = json_safe(document)
    verdict = _run_check(domain, document, now)
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
        party=party, case_id=case.id, direction="incoming", request_type=verdict.request_type,
        requesting_party=sender, requested_party=party, conversation_id=conversation_id,
        provider=addressee.get("name") if isinstance(addressee.get("name"), str) else None,
        status=domain.lifecycle.initial("incoming"), urgent=document.get("urgent") is True, document=document,
        verdict=verdict.to_json_dict(), admissible=verdict.admissible, checked_at=now, created_by=None,
        created_at=now, updated_at=now)
    db.add(req)
    db.flush()
    _event(db, req, node, "receive", None, req.status, now, None, {"from": sender}, first=True)
    _recompute_deadlines(db, req, verdict, now, new=True)
    audit.record(db, actor=node, action="request.receive", object_type="request", object_id=str(req.id), at=now,
                 details={"from": sender, "conversation": conversation_id}, personal_data=True)
    return req


def find_by_conversation(db: Session, *, party: str, conversation_id: str) -> Request | None:
    return db.execute(sa.select(Request).where(Request.party == party, Request.conversation_id == conversation_id)
                      ).scalar_one_or_none()


def update_document(db: Session, *, actor: Principal, domain: Domain, request_id: uuid.UUID,
                    document: dict[str, Any], now: dt.datetime) -> Request:
    req = get_request(db, actor=actor, request_id=request_id, for_update=True, audit_read=False)
    if req.direction != "outgoing" or req.status not in ("draft", "checked", "approved"):
        raise Conflict(f"the document can be changed only while drafting, not in status {req.status}")
    if actor.role not in DRAFTING_ROLES:
        raise Forbidden(f"role {actor.role} may not edit requests")
    document = json_safe(document)
    verdict = _run_check(domain, document, now)
    if verdict.requesting_party != req.requesting_party or verdict.request_type != req.request_type:
        raise Invalid("the request type and the requesting Party cannot change; draft a new request")
    previous = req.status
    req.document, req.verdict, req.admissible, req.checked_at = document, verdict.to_json_dict(), verdict.admissible, now
    req.requested_party = verdict.requested_party
    req.status, req.updated_at = "draft", now  # any change needs a new check and approval
    _event(db, req, actor, "edit", previous, "draft", now, None, {"admissible": verdict.admissible})
    audit.record(db, actor=actor, action="request.update", object_type="request", object_id=str(req.id), at=now,
                 personal_data=True)
    _recompute_deadlines(db, req, verdict, now)
    return req


def check_request(db: Session, *, actor: Principal, domain: Domain, request_id: uuid.UUID,
                  now: dt.datetime) -> Verdict:
    """Run the rules engine on the stored document now; store and return the verdict."""
    req = get_request(db, actor=actor, request_id=request_id, for_update=True, audit_read=False)
    verdict = _run_check(domain, req.document, now)
    req.verdict, req.admissible, req.checked_at, req.updated_at = verdict.to_json_dict(), verdict.admissible, now, now
    audit.record(db, actor=actor, action="request.check", object_type="request", object_id=str(req.id), at=now,
                 details={"admissible": verdict.admissible})
    _recompute_deadlines(db, req, verdict, now)
    return verdict


@dataclass
class Command:
    """What a transition may carry besides the event (each checked by the table's guards)."""

    reasons: str | None = None
    grounds: list[str] = field(default_factory=list)
    conditions: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def transition(db: Session, *, actor: Principal, domain: Domain, request_id: uuid.UUID, event: str,
               now: dt.datetime, command: Command | None = None, expected_version: int | None = None) -> Request:
    """Apply one event of the lifecycle table, with its guards, effects, deadlines and audit."""
    cmd = command or Command()
    req = get_request(db, actor=actor, request_id=request_id, for_update=True, audit_read=False)
    if expected_version is not None and req.version != expected_version:
        raise Conflict(f"the request changed meanwhile (version {req.version}, expected {expected_version})")
    spec = domain.lifecycle.find(req.direction, req.status, event, actor.role)  # type: ignore[arg-type]
    verdict = _guards(db, req, spec, actor, domain, cmd, now)
    source = req.status
    req.status, req.updated_at = spec.to, now
    _effects(db, req, spec, actor, domain, cmd, now)
    _event(db, req, actor, event, source, spec.to, now, cmd.reasons,
           {k: v for k, v in {"grounds": cmd.grounds, "conditions": cmd.conditions, **cmd.data}.items() if v})
    _recompute_deadlines(db, req, verdict or _run_check(domain, req.document, now), now)
    # Last, so the audit chain's head stays locked only until the commit that follows.
    audit.record(db, actor=actor, action=f"request.{event}", object_type="request", object_id=str(req.id), at=now,
                 details={"from": source, "to": spec.to, "grounds": cmd.grounds})
    if domain.announce is not None and actor.role is not Role.system:
        domain.announce(db, req, event, now)
    return req


def _guards(db: Session, req: Request, spec: TransitionSpec, actor: Principal, domain: Domain, cmd: Command,
            now: dt.datetime) -> Verdict | None:
    verdict = None
    for guard in spec.guards:
        if guard == "admissible":
            # A request the rules engine finds inadmissible cannot be checked, approved or sent.
            verdict = _run_check(domain, req.document, now)
            req.verdict, req.admissible, req.checked_at = verdict.to_json_dict(), verdict.admissible, now
            if not verdict.admissible:
                raise Invalid(f"'{spec.event}' needs an admissible request; the rules engine found "
                              f"{len(verdict.problems)} problem(s)",
                              [{"code": p.code, "article": p.article, "element": p.element, "message": p.message}
                               for p in verdict.problems])
        elif guard == "reasons":
            if not (cmd.reasons and cmd.reasons.strip()):
                raise Invalid(f"'{spec.event}' needs written reasons (ETS185 Art 27(7))")
        elif guard in ("refusal_grounds", "postponement_grounds"):
            rtype = domain.rulebook.types[req.request_type]
            known = [g.article for g in (rtype.refusal_grounds if guard == "refusal_grounds"
                                         else rtype.postponement_grounds)]
            if not cmd.grounds:
                raise Invalid(f"'{spec.event}' needs at least one ground; for {req.request_type}: "
                              f"{', '.join(known) or 'none in the treaties'}")
            unknown = [g for g in cmd.grounds if g not in known]
            if unknown:
                raise Invalid(f"not a ground for {req.request_type}: {', '.join(unknown)}; "
                              f"grounds: {', '.join(known) or 'none in the treaties'}")
        elif guard == "conditions":
            if not cmd.conditions:
                raise Invalid(f"'{spec.event}' needs at least one condition")
            for c in cmd.conditions:
                if not isinstance(c, dict) or c.get("kind") not in CONDITION_KINDS or not str(c.get("text", "")).strip():
                    raise Invalid(f"a condition is {{kind: {'|'.join(sorted(CONDITION_KINDS))}, text}}")
        elif guard == "four_eyes":
            if req.created_by is not None and req.created_by == actor.user_id:
                raise Invalid(f"'{spec.event}' must be done by someone other than the drafter (four eyes)")
        elif guard == "preservation" and req.request_type != "preservation":
            raise Invalid(f"'{spec.event}' applies only to preservation requests")
    return verdict


def _effects(db: Session, req: Request, spec: TransitionSpec, actor: Principal, domain: Domain, cmd: Command,
             now: dt.datetime) -> None:
    kind = DECISION_KIND.get(spec.to)
    if kind:
        db.add(Decision(request_id=req.id, kind=kind, grounds=list(cmd.grounds), reasons=cmd.reasons,
                        decided_by=actor.user_id, at=now))
    if spec.to == "conditions_proposed":
        for c in cmd.conditions:
            db.add(RequestCondition(request_id=req.id, kind=c["kind"], text=str(c["text"]).strip(),
                                    article=c.get("article") or CONDITION_ARTICLES.get(c["kind"]),
                                    status="proposed", binding=False, proposed_at=now))
    if spec.to in ("conditions_accepted", "conditions_declined"):
        accepted = spec.to == "conditions_accepted"
        for row in db.execute(sa.select(RequestCondition).where(
                RequestCondition.request_id == req.id, RequestCondition.status == "proposed")).scalars():
            # ETS185 Art 28(3), CETS224 Art 8(9)(b), 9(7): accepted conditions bind.
            row.status, row.binding, row.answered_at = ("accepted" if accepted else "declined"), accepted, now
    if spec.to == "preserved":
        start = domain.today(req.requested_party, now)
        if isinstance(cmd.data.get("preserved_on"), str):
            try:
                start = dt.date.fromisoformat(cmd.data["preserved_on"])
            except ValueError as e:
                raise Invalid("preserved_on is not a date (YYYY-MM-DD)") from e
        req.preserved_until = start + dt.timedelta(days=PRESERVATION_DAYS)
    if spec.to == "renewed":
        base = max(req.preserved_until or domain.today(req.requested_party, now), domain.today(req.requested_party, now))
        req.preserved_until = base + dt.timedelta(days=PRESERVATION_DAYS)


def _event(db: Session, req: Request, actor: Principal, event: str, source: str | None, target: str,
           now: dt.datetime, reasons: str | None, data: dict[str, Any], first: bool = False) -> None:
    """`first`: the request was created in this transaction (its history starts here: no query)."""
    seq = 1 if first else (db.execute(sa.select(sa.func.max(RequestEvent.seq)).where(
        RequestEvent.request_id == req.id)).scalar_one_or_none() or 0) + 1
    db.add(RequestEvent(request_id=req.id, seq=seq, event=event, from_status=source, to_status=target,
                        actor_id=actor.user_id, actor=actor.username, actor_role=actor.role.value, at=now,
                        reasons=reasons, data=data))


def _remind_on(due: dt.date, days: int | None) -> dt.date:
    lead = PRESERVATION_WARNING_DAYS if (days or 0) >= 20 else max(1, (days or 2) // 3)
    return due - dt.timedelta(days=lead)


def _recompute_deadlines(db: Session, req: Request, verdict: Verdict, now: dt.datetime, new: bool = False) -> None:
    """Deadlines follow the rules engine's verdict and the lifecycle; recomputed on every change.
    `new`: the request was created in this transaction (it has none yet: no query)."""
    wanted: dict[str, tuple[str, int | None, dt.date | None]] = {
        d.name: (d.article, d.days, d.due) for d in verdict.deadlines
    }
    if req.preserved_until is not None:
        wanted["preservation_expiry"] = ("ETS185 Art 29(7)", PRESERVATION_DAYS, req.preserved_until)
    existing = {} if new else {
        d.name: d for d in db.execute(sa.select(Deadline).where(Deadline.request_id == req.id)).scalars()}
    closed = req.status in FINAL_LIKE
    for name, (article, days, due) in wanted.items():
        d = existing.get(name)
        if d is None:
            d = Deadline(request_id=req.id, party=req.party, name=name, article=article, status="open",
                         created_at=now, updated_at=now)
            db.add(d)
        if d.status in ("met", "cancelled") and not closed and d.due_on == due:
            continue
        d.article, d.days, d.due_on, d.updated_at = article, days, due, now
        d.remind_on = _remind_on(due, days) if due else None
        if closed and d.status in ("open", "overdue"):
            d.status = "met" if req.status in ("data_transmitted", "closed") else "cancelled"
        elif not closed and d.status == "cancelled":
            d.status = "open"
    for name, d in existing.items():
        if name not in wanted and d.status == "open":
            d.status, d.updated_at = "cancelled", now


def history(db: Session, *, actor: Principal, request_id: uuid.UUID) -> list[RequestEvent]:
    get_request(db, actor=actor, request_id=request_id, audit_read=False)
    return list(db.execute(sa.select(RequestEvent).where(RequestEvent.request_id == request_id)
                           .order_by(RequestEvent.seq)).scalars())
