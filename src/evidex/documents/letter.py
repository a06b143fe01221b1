"""A letter of the lifecycle (issue 15 item 6): what the requested Party answers a request it received —
an acknowledgement, a refusal with its grounds and reasons, a postponement, conditions, a confirmation of
preservation with the date until which the data is kept — as an official document of its node.

Which event gives which letter, its title, what it states and the articles it cites are the lifecycle's
data (requests/data/lifecycle.yaml `letters`, translated in rules/data/i18n/ as letter.<kind>); a ground's
meaning comes from the request type's catalogue, a condition's article from its kind, the preservation
period from periods.yaml. The letter's own content (`letter_content`) is what the node seals: the kind,
the request it answers, the event, the decision, grounds, reasons, conditions and dates. Text a person
wrote (reasons, conditions) is shown as written, never translated."""

from __future__ import annotations

import datetime as dt
import functools
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evidex.cases.service import Law, json_safe
from evidex.core.canonical import canonical_sha256
from evidex.documents.i18n import N_, Bi, Languages
from evidex.documents.sheet import CONDITION_WORDS, ConditionLine, Endpoint, Party, _Words
from evidex.rules.document import parse_document
from evidex.rules.schema import MlaTreatyRoute

_ = N_  # messages of the document's catalog, translated where shown (Languages.gettext)

LETTER_TEMPLATE = "letter.html"
QR_ALT = _("QR code: the letter's SHA-256, and the identifier and reference of the request it answers, to check "
           "it against the signed copy")


@dataclass(frozen=True)
class LetterEvent:
    """The recorded event a letter is made from, and what the node holds beside it (the service reads it)."""

    kind: str  # the letter's kind (lifecycle.yaml letters)
    event: str  # the lifecycle event
    seq: int  # its number in the request's history: the letter's identifier
    at: dt.datetime
    from_status: str | None
    to_status: str
    request_id: str
    conversation_id: str | None
    document: Mapping[str, Any]  # the request document (JSON)
    verdict: Mapping[str, Any]  # the rules engine's latest verdict on it (JSON): its route
    cites: Sequence[str]
    actor_role: str
    decision: str | None = None  # the decision's kind (refusal, postponement, conditions ...), if any
    grounds: Sequence[str] = ()
    reasons: str | None = None
    conditions: Sequence[tuple[str, str, str | None]] = ()  # (kind, text, article)
    received_at: dt.datetime | None = None  # when the request was received (registered)
    preserved_on: dt.date | None = None
    preserved_until: dt.date | None = None
    period: str | None = None  # the named period a preservation runs for (periods.yaml)
    period_days: int | None = None


@dataclass(frozen=True)
class Cite:
    article: str
    title: Bi | None


@dataclass(frozen=True)
class GroundLine:
    number: int
    meaning: Bi
    article: str


@dataclass(frozen=True)
class Fact:
    """A date or period the letter states (received, preserved on, preserved until ...)."""

    label: Bi
    value: Bi
    article: str = ""
    note: Bi | None = None


@dataclass
class LetterSheet:
    """Everything a letter shows (the template letter.html lays it out)."""

    languages: Languages
    kind: str
    title: Bi
    statement: Bi
    cites: list[Cite]
    subject: Bi  # the request it answers: its type's title
    subject_article: str
    request_issued: Bi | None
    request_received: Bi | None  # when the requested Party received it, in its time zone
    reference: str  # the request's case reference
    request_id: str
    event_id: int
    state: Bi  # the state the event led to (lifecycle.yaml state_names)
    dated: Bi
    place: str
    requesting: Party
    requested: Party
    issuing: Endpoint  # the requested Party's authority, that writes
    to: Endpoint | None  # the requesting Party's authority the request came from
    attention: str  # the requesting Party's issuing authority, when another than `to`
    grounds: list[GroundLine]
    reasons: str | None
    conditions: list[ConditionLine]
    facts: list[Fact]
    digest: str  # SHA-256 of the letter's canonical JSON (RFC 8785)
    qr_text: str
    generated_at: dt.datetime
    sealed: bool
    authority_name: str

    template = LETTER_TEMPLATE
    qr_alt = QR_ALT

    @property
    def article(self) -> str:
        """The article in the running footer: the first the letter cites, else the request's."""
        return self.cites[0].article if self.cites else self.subject_article

    @property
    def free_lang(self) -> str:
        return "und"  # the language of text an officer wrote is not recorded: not guessed


# --------------------------------------------------------------------------- what a letter cites
def treaty_route(law: Law, request_type: str, verdict: Mapping[str, Any]) -> MlaTreatyRoute | None:
    """The rule of the MLA treaty that governs the request, if its route says one does (ETS185 Art
    27(1), 28(1): Art 27 and 28 do not apply between Parties with such a treaty in force)."""
    spec = law.rulebook.types.get(request_type)
    return spec.governing_treaty(verdict.get("route")) if spec is not None else None


def displaced(reference: str | None, treaty: MlaTreatyRoute | None) -> bool:
    """Whether `reference` is an article the governing treaty displaces (none governs: never)."""
    return treaty is not None and treaty.displaces_reference(reference)


def condition_article(law: Law, kind: str, article: str | None, treaty: MlaTreatyRoute | None) -> str | None:
    """The article a condition of the letter cites: its own as recorded, else its kind's (ETS185 Art
    28(2)(a), (b)); none under an MLA treaty that displaces it (28(1))."""
    said = article or law.lifecycle.condition_kinds.get(kind)
    return None if displaced(said, treaty) else said


def letter_cites(law: Law, event: str, request_type: str, verdict: Mapping[str, Any]) -> list[str]:
    """The articles the letter of `event` cites (the lifecycle's `letters`); where an MLA treaty governs
    the request, those it displaces give way to the article that says the treaty applies."""
    cites = law.lifecycle.letter_cites(event, request_type)
    treaty = treaty_route(law, request_type, verdict)
    kept = [c for c in cites if not displaced(c, treaty)]
    if treaty is None or len(kept) == len(cites):
        return cites
    return [treaty.article, *(c for c in kept if c != treaty.article)]


# --------------------------------------------------------------------------- the content sealed
def letter_content(law: Law, e: LetterEvent, *, date: dt.date, issuing: Mapping[str, Any],
                   to: Mapping[str, Any]) -> dict[str, Any]:
    """The letter's own content, as JSON (what the seal embeds and signs): its kind and the articles it
    cites, the request it answers (with the SHA-256 of its document), the event, the authorities, the
    decision with its grounds and reasons, the conditions, the preservation's dates."""
    doc = e.document
    request = {"id": e.request_id, "type": doc.get("type"), "case_reference": doc.get("case_reference"),
               "issued_on": doc.get("issued_on"), "requesting_party": doc.get("requesting_party"),
               "requested_party": doc.get("requested_party"), "conversation_id": e.conversation_id,
               "sha256": canonical_sha256(json_safe(dict(doc)))}
    content: dict[str, Any] = {
        "letter": e.kind, "cites": list(e.cites), "date": date.isoformat(),
        "request": request,
        "event": {"id": e.seq, "name": e.event, "at": e.at.astimezone(dt.UTC).isoformat(),
                  "from": e.from_status, "to": e.to_status},
        "from": dict(issuing), "to": dict(to),
    }
    if e.decision is not None:
        content["decision"] = {"kind": e.decision, "grounds": list(e.grounds), "reasons": e.reasons}
    elif e.reasons:
        content["reasons"] = e.reasons
    if e.conditions:
        content["conditions"] = [{"kind": k, "text": t, "article": a} for k, t, a in e.conditions]
    if e.received_at is not None:
        content["received_at"] = e.received_at.astimezone(dt.UTC).isoformat()
    if e.preserved_until is not None or e.preserved_on is not None:
        content["preservation"] = {
            "preserved_on": e.preserved_on.isoformat() if e.preserved_on else None,
            "preserved_until": e.preserved_until.isoformat() if e.preserved_until else None,
            "days": e.period_days, "article": law.rulebook.article_of(e.period) if e.period else None}
    return _clean(content)


def _clean(value: dict[str, Any]) -> dict[str, Any]:
    """`value` without its empty (None) fields, at any depth: the content says only what is known."""
    out: dict[str, Any] = _without_none(value)
    return out


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def qr_text(kind: str, digest: str, reference: str, request_id: str, event_id: int) -> str:
    """What the QR code on every page of a letter says: what identifies it, no address to follow."""
    ref = urllib.parse.quote(reference, safe=" /-._")
    return f"EVIDEX-LETTER;kind={kind};sha256={digest};id={request_id};event={event_id};ref={ref}"


# --------------------------------------------------------------------------- the sheet
def endpoints(e: LetterEvent) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the requested Party's authority that writes, the requesting Party's it writes to), as JSON: the
    ends of the request's route (the authority it was addressed to answers the one that sent it); an
    authority outside the route (a provider addressed directly, a notified authority) by its role."""
    doc = e.document
    route = e.verdict.get("route") or {}
    requesting, requested = str(doc.get("requesting_party") or ""), str(doc.get("requested_party") or "")
    ours: Mapping[str, Any] = route["to"] if isinstance(route.get("to"), Mapping) else {}
    if ours.get("party") != requested or ours.get("authority") == "addressee":
        ours = {"party": requested, "authority": e.actor_role}
    theirs: Mapping[str, Any] = route["from"] if isinstance(route.get("from"), Mapping) else {}
    if theirs.get("party") != requesting:
        theirs = {"party": requesting, "authority": "issuing_authority"}
    return _clean(dict(ours)), _clean(dict(theirs))


def _endpoint(w: _Words, ep: Mapping[str, Any]) -> Endpoint:
    contact: Mapping[str, Any] = ep["contact"] if isinstance(ep.get("contact"), Mapping) else {}
    lines = tuple(str(contact[k]) for k in ("address", "email", "phone") if contact.get(k))
    return Endpoint(party=w.party(str(ep.get("party") or "")), role=w.authority(str(ep.get("authority") or "")),
                    name=str(ep.get("name") or ""), lines=lines)


def _place(issuing: Mapping[str, Any], requested: Party) -> str:
    """Where the letter is written: the town of the writing authority's address, else its Party."""
    contact: Mapping[str, Any] = issuing["contact"] if isinstance(issuing.get("contact"), Mapping) else {}
    address = str(contact.get("address") or "").strip()
    if address:
        town = address.split(",")[-1].strip().lstrip("0123456789- ").strip()
        if town:
            return town
    return requested.name.first


def build_letter(law: Law, e: LetterEvent, languages: Languages, *, date: dt.date, now: dt.datetime,
                 sealed: bool = False) -> tuple[LetterSheet, dict[str, Any]]:
    """The letter of event `e` in `languages`, dated `date` (the event's day where the requested Party is),
    and its content (JSON) that the seal embeds."""
    doc, _dropped = parse_document(dict(e.document))
    w = _Words(law, languages, doc.type)
    texts = law.texts
    ours, theirs = endpoints(e)
    content = letter_content(law, e, date=date, issuing=ours, to=theirs)
    digest = canonical_sha256(content)
    requesting, requested = w.party(doc.requesting_party), w.party(doc.requested_party)
    issuing, to = _endpoint(w, ours), _endpoint(w, theirs)
    ia = doc.issuing_authority
    attention = ia.name if ia is not None and ia.name and ia.name != to.name else ""

    treaty = treaty_route(law, doc.type, e.verdict)

    def cite(reference: str) -> Cite:
        if treaty is not None and reference == treaty.article:  # the treaty, named as the route names it
            route = e.verdict.get("route") or {}
            said = {loc: texts.route_channel(w.spec, route, doc.requesting_party, doc.requested_party, loc)
                    for loc in languages.locales}
            if all(said.values()):
                return Cite(reference, w.each(lambda loc: said[loc].means))  # type: ignore[union-attr]
        return Cite(reference, w.article_title(reference))

    grounds: list[GroundLine] = []
    for article in e.grounds:
        key = f"type.{doc.type}.{e.decision}.{article}"
        meaning = (w.each(functools.partial(texts.text, key)) if key in texts.source
                   else w.english(article))  # a ground the catalogue no longer has: its article alone
        grounds.append(GroundLine(len(grounds) + 1, meaning, article))
    conditions = [ConditionLine(kind=w._(CONDITION_WORDS.get(kind, CONDITION_WORDS["other"])),
                                article=article or "", text=text)  # decided with the event (condition_article)
                  for kind, text, article in e.conditions]
    facts: list[Fact] = []
    if e.preserved_on is not None:
        facts.append(Fact(w._(_("Data preserved on")), languages.date(e.preserved_on)))
    if e.preserved_until is not None:
        article = (law.rulebook.article_of(e.period) or "") if e.period else ""
        note = w.each(functools.partial(texts.period_text, e.period)) if e.period else None
        facts.append(Fact(w._(_("Data kept at least until")), languages.date(e.preserved_until), article, note))
    if e.period_days:
        facts.append(Fact(w._(_("Period")), languages.ngettext("%(num)d day", "%(num)d days", e.period_days)))
    sheet = LetterSheet(
        languages=languages, kind=e.kind, title=w.each(functools.partial(texts.letter_title, e.kind)),
        statement=w.each(functools.partial(texts.letter_statement, e.kind)),
        cites=[cite(c) for c in e.cites],
        subject=w.each(lambda loc: texts.type_title(doc.type, loc)), subject_article=w.spec.article,
        request_issued=languages.date(doc.issued_on) if doc.issued_on else None,
        request_received=(languages.date(law.today(doc.requested_party, e.received_at))
                          if e.received_at is not None else None),
        reference=doc.case_reference or "", request_id=e.request_id, event_id=e.seq,
        state=w.each(lambda loc: texts.state_label(e.to_status, loc)),
        dated=languages.date(date), place=_place(ours, requested),
        requesting=requesting, requested=requested, issuing=issuing, to=to, attention=attention,
        grounds=grounds, reasons=(e.reasons or "").strip() or None, conditions=conditions, facts=facts,
        digest=digest, qr_text=qr_text(e.kind, digest, doc.case_reference or "", e.request_id, e.seq),
        generated_at=now, sealed=sealed, authority_name=issuing.name)
    return sheet, content
