"""What an official document shows, in its one or two languages: a request document and the rules
engine's verdict on it, turned into labelled parts (a `Sheet`) that the template lays out.

Every label of the law comes from the rule data's translations (rules/texts.py: type titles,
element labels, articles, channels, deadlines, actors); the document's own fixed text from its
catalog (i18n.py). A value a person wrote (free text) is shown once, as written, marked with the
language the document says it is in (CETS224 Art 4): evidex never translates it."""

from __future__ import annotations

import datetime as dt
import functools
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evidex.cases.service import Law, json_safe
from evidex.core.canonical import canonical_sha256
from evidex.documents.i18n import N_, Bi, Languages, locale_of
from evidex.rules.document import RequestDocument, parse_document
from evidex.rules.elements import element_value, is_present
from evidex.rules.form import DraftElement, draft_form
from evidex.rules.refs import parse_reference
from evidex.rules.texts import readable

_ = N_  # messages of the document's catalog, translated where shown (Languages.gettext)

# The document format's closed vocabularies (rules/schema.py) and the keys of its nested values, in words.
VALUE_WORDS: dict[str, str] = {
    "prosecutor": _("Prosecutor"), "judge": _("Judge"), "court": _("Court"), "police": _("Police"),
    "other": _("Other"),
    "subscriber": _("Subscriber information"), "traffic": _("Traffic data"), "content": _("Content data"),
    "registration": _("Domain name registration information"),
    "service_provider": _("Service provider"), "registrar": _("Registrar (domain names)"),
    "static_ip_address": _("Static IP address"), "dynamic_ip_address": _("Dynamic IP address"),
}
KEY_WORDS: dict[str, str] = {
    "name": _("Name"), "kind": _("Kind"), "contact": _("Contact"), "address": _("Address"), "email": _("Email"),
    "phone": _("Telephone"), "days": _("Days"), "manner": _("Manner"), "sought": _("Sought"), "on": _("Date"),
    "reference": _("Reference"), "accepted_languages": _("Accepted languages"),
    "independent_supervision": _("Under independent supervision"),
}
# Fields of the document outside the type's elements, shown under "Other particulars".
FIELD_WORDS: dict[str, str] = {"received_on": _("Received on"), "data_category": _("Category of data")}
NAMED_VALUES = frozenset({"kind", "data_category", "access_number_type"})
# Values that are identifiers, not text in a language (no language is stated for them).
CODES = frozenset({"case_reference", "domain_name"})
CONDITION_WORDS: dict[str, str] = {
    "confidentiality": _("Confidentiality"), "use_limitation": _("Limitation of use"), "other": _("Other condition"),
}
_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
QR_ALT = _("QR code: the request's SHA-256, identifier and reference, to check it against the signed copy")
# Outgoing requests not yet approved for sending (requests/data/lifecycle.yaml): their document is a draft.
DRAFT_STATES = frozenset({"draft", "checked"})


# --------------------------------------------------------------------------- values
@dataclass(frozen=True)
class Value:
    """One value of the document as shown: `text` a person wrote (`free`), or words of the law."""

    kind: str  # "free" | "code" | "words" | "pairs" | "items" | "missing"
    text: str = ""
    words: Bi | None = None
    pairs: tuple[tuple[Bi, Value], ...] = ()
    items: tuple[Value, ...] = ()

    @property
    def has_free(self) -> bool:
        """Whether any part of it was written by a person (its language is then stated)."""
        return (self.kind == "free" or any(v.has_free for _k, v in self.pairs)
                or any(v.has_free for v in self.items))


@dataclass(frozen=True)
class Row:
    number: int
    label: Bi
    article: str  # a canonical reference, or "" (a field of the format, not of the treaty)
    note: Bi | None  # why the element is there when the treaty itself does not name it
    value: Value


@dataclass(frozen=True)
class Party:
    code: str
    name: Bi


@dataclass(frozen=True)
class Endpoint:
    party: Party
    role: Bi  # the authority's role (central authority, 24/7 point of contact, addressee …)
    name: str  # its name, as registered or written
    lines: tuple[str, ...]  # address, e-mail, telephone


@dataclass(frozen=True)
class Notice:
    to: Endpoint
    article: str
    what: Bi


@dataclass(frozen=True)
class DeadlineLine:
    description: Bi
    period: Bi | None
    due: Bi | None
    article: str


@dataclass(frozen=True)
class ConditionLine:
    kind: Bi
    article: str
    text: str


@dataclass(frozen=True)
class ProblemLine:
    article: str
    title: Bi | None


@dataclass
class Sheet:
    """Everything the official document shows."""

    languages: Languages
    title: Bi
    article: str
    article_title: Bi | None
    instrument: Bi
    urgent: bool
    reference: str
    request_id: str | None
    issued_on: dt.date | None
    issued: Bi | None
    place: str
    requesting: Party
    requested: Party
    issuing: Endpoint | None
    to: Endpoint | None
    copies: list[tuple[Endpoint, Endpoint, str]]
    notices: list[Notice]
    channel: Bi | None
    route_article: str
    sent_by: Bi | None
    deadlines: list[DeadlineLine]
    rows: list[Row]
    others: list[Row]
    conditions: list[ConditionLine]
    written_in: str | None  # the document's language tag: its free text is in it
    written_in_name: Bi | None
    translation_name: Bi | None
    draft: bool
    admissible: bool
    problems: list[ProblemLine]
    digest: str  # SHA-256 of the request document's canonical JSON (RFC 8785)
    qr_text: str
    generated_at: dt.datetime
    sealed: bool
    authority_name: str

    template = "request.html"
    qr_alt = QR_ALT

    @property
    def free_lang(self) -> str:
        """The `lang` attribute of free text: the document's language, or undetermined."""
        return self.written_in if self.written_in and _TAG.match(self.written_in) else "und"

    @property
    def note_free_language(self) -> bool:
        """Whether each free-text value says its language: in a bilingual document always, else when it
        is not the language of the labels."""
        return self.languages.bilingual or locale_of(self.written_in) != self.languages.primary


# --------------------------------------------------------------------------- building
class _Words:
    """The law's labels of one request type in the document's languages."""

    def __init__(self, law: Law, langs: Languages, request_type: str) -> None:
        self.law, self.langs, self.type = law, langs, request_type
        self.texts = law.texts
        self.spec = law.rulebook.types[request_type]

    def each(self, text_of: Callable[[str], str]) -> Bi:
        return self.langs.each(text_of)

    def _(self, message: str, **variables: object) -> Bi:
        return self.langs.gettext(message, **variables)

    def party(self, code: str) -> Party:
        versions = self.law.parties.versions(code)
        if not versions:
            return Party(code, self.langs.bi((loc, code) for loc in self.langs.locales))
        profile = versions[-1]
        return Party(code, self.each(profile.display_name))

    def article_title(self, reference: str) -> Bi | None:
        try:
            parse_reference(reference)
        except ValueError:
            return None
        if self.texts.article_title(reference) is None:
            return None
        return self.each(lambda loc: self.texts.article_title(reference, loc) or "")

    def authority(self, role: str) -> Bi:
        """An authority a route or a document names: an actor of the rule data, a lifecycle role, else its name."""
        for key in (f"actor.{role}", f"role.{role}"):
            if key in self.texts.source:
                return self.each(functools.partial(self.texts.text, key))
        return self.english(readable(role))

    def english(self, text: str) -> Bi:
        """A text the data has only in English (a fallback): marked as English, whatever the document's language."""
        return self.langs.bi([("en", text)])

    def element_label(self, element: DraftElement | None, name: str) -> Bi:
        if self.texts.element_label(self.type, name) is not None:
            return self.each(lambda loc: self.texts.element_label(self.type, name, loc) or "")
        if self.texts.element_words(name) is not None:  # required only by a Party's own law (rule data)
            return self.each(lambda loc: self.texts.element_words(name, loc) or "")
        if f"actor.{name}" in self.texts.source:
            return self.authority(name)
        return self.english(readable(name))  # named only by a Party's data: the name is all there is

    def channel(self, route: Mapping[str, Any], requesting: str, requested: str) -> Bi:
        """The route's channel in words: the type's channel (and its urgent means), or the route an MLA
        treaty sets, as the route says it is (rules/texts.py route_channel); a verdict stored before routes
        said it: the engine's English."""
        said = {loc: self.texts.route_channel(self.spec, route, requesting, requested, loc) for loc in self.langs.locales}
        if any(words is None for words in said.values()):
            return self.english(str(route.get("channel")))

        def words(loc: str) -> str:
            w = said[loc]
            assert w is not None
            return w.means if w.urgent_means is None else f"{w.means}; {w.urgent_article}: {w.urgent_means}"

        return self.each(words)

    def notification(self, notification: Mapping[str, Any]) -> Bi:
        """What a route's notification tells the requesting Party; one stored before it said its key: its English."""
        said = {loc: self.texts.route_notification(notification, loc) for loc in self.langs.locales}
        if any(text is None for text in said.values()):
            return self.english(str(notification.get("message") or ""))
        return self.each(lambda loc: str(said[loc]))

    def deadline(self, name: str, article: str) -> Bi:
        if self.texts.deadline_text(self.type, name, article) is None:
            return self.english(readable(name))
        return self.each(lambda loc: self.texts.deadline_text(self.type, name, article, loc) or "")

    def value(self, value: Any, key: str | None = None) -> Value:
        """A document value as shown: dates in the languages' forms, names from a closed list as words,
        nested objects as labelled pairs, booleans as yes/no; text as written."""
        if isinstance(value, dict):
            pairs = []
            for k, v in value.items():
                if not is_present(v, nested=True):
                    continue
                label = self._(KEY_WORDS[str(k)]) if str(k) in KEY_WORDS else self.english(readable(str(k)))
                pairs.append((label, self.value(v, str(k))))
            return Value("pairs", pairs=tuple(pairs))
        if isinstance(value, list | tuple):
            items = tuple(self.value(v, key) for v in value if is_present(v, nested=True))
            return Value("items", items=items)
        if isinstance(value, bool):
            return Value("words", words=self._(_("Yes") if value else _("No")))
        if isinstance(value, dt.date):
            return Value("words", words=self.langs.date(value))
        if isinstance(value, str):
            text = value.strip()
            if len(text) == 10 and text[4:5] == "-" and text[7:8] == "-":
                try:
                    return Value("words", words=self.langs.date(dt.date.fromisoformat(text)))
                except ValueError:
                    pass
            if key in NAMED_VALUES and text in VALUE_WORDS:
                return Value("words", words=self._(VALUE_WORDS[text]))
            if key == "sent_by":
                return Value("words", words=self.authority(text))
            return Value("code" if key in CODES else "free", text=text)
        return Value("free", text=str(value))


def _endpoint(w: _Words, ep: Mapping[str, Any] | None) -> Endpoint | None:
    if not isinstance(ep, Mapping):
        return None
    contact = ep.get("contact") or {}
    lines = tuple(str(contact[k]) for k in ("address", "email", "phone") if isinstance(contact, Mapping) and contact.get(k))
    return Endpoint(party=w.party(str(ep.get("party") or "")), role=w.authority(str(ep.get("authority") or "")),
                    name=str(ep.get("name") or ""), lines=lines)


def _place(doc: RequestDocument, requesting: Party) -> str:
    """Where the document is issued: the town of the issuing authority's address (its last part, without
    the postcode), else the requesting Party."""
    contact = doc.issuing_authority.contact if doc.issuing_authority else None
    if contact is not None and contact.address and contact.address.strip():
        last = contact.address.split(",")[-1].strip()
        town = re.sub(r"^[\d\s-]+", "", last).strip()
        if town:
            return town
    return requesting.name.first


def qr_text(digest: str, reference: str, request_id: str | None) -> str:
    """What the QR code on every page says: no address to follow, only what identifies the request —
    the SHA-256 of its canonical document (RFC 8785), the node's request id and the case reference."""
    ref = urllib.parse.quote(reference, safe=" /-._")
    return f"EVIDEX-REQUEST;sha256={digest};id={request_id or '-'};ref={ref}"


@dataclass(frozen=True)
class Stored:
    """What a node holds beside the document of a stored request (None: a document from a file)."""

    request_id: str
    status: str
    direction: str
    conditions: Sequence[tuple[str, str, str | None]] = ()  # binding ones: (kind, text, article)


def build_sheet(law: Law, document: Mapping[str, Any], verdict: Mapping[str, Any], languages: Languages, *,
                now: dt.datetime, stored: Stored | None = None, sealed: bool = False) -> Sheet:
    """The sheet of `document` (JSON-safe: dates as YYYY-MM-DD) with the engine's `verdict` (its JSON form)."""
    doc, _dropped = parse_document(dict(document))
    w = _Words(law, languages, doc.type)
    spec = w.spec
    instrument, _number = parse_reference(spec.article)
    requesting, requested = w.party(doc.requesting_party), w.party(doc.requested_party)
    route = verdict.get("route") or {}
    as_of = _date(verdict.get("as_of")) or now.date()

    # The elements: the type's, the requested Party's own law's and its declarations', then the optional.
    form = draft_form(law.rulebook, law.parties, doc.type, doc.requesting_party, doc.requested_party, as_of)
    rows: list[Row] = []
    shown: set[str] = set()
    for e in form.elements:
        raw = element_value(doc, e.name)
        present = is_present(raw)
        if not present and not (e.always and e.kind in ("required", "party_law", "declared")):
            continue
        note = None
        if e.kind == "party_law":
            note = w._(_("required by the law of %(party)s"), party=requested.name)
        elif e.kind == "declared" and e.reference and e.reference != e.article:
            note = w._(_("declared by %(party)s (%(reference)s)"), party=requested.name, reference=e.reference)
        rows.append(Row(len(rows) + 1, w.element_label(e, e.name), e.article, note,
                        w.value(raw, e.name) if present else Value("missing")))
        shown.add(e.name)
    others: list[Row] = []
    for name, raw in doc.elements.items():
        if name not in shown and is_present(raw):
            others.append(Row(len(rows) + len(others) + 1, w.element_label(None, name), "", None, w.value(raw, name)))
    for name in ("data_category", "received_on"):
        raw = element_value(doc, name)
        if name not in shown and is_present(raw):
            others.append(Row(len(rows) + len(others) + 1, w._(FIELD_WORDS[name]), "", None, w.value(raw, name)))

    ia = doc.issuing_authority
    issuing = _endpoint(w, route.get("from")) if route.get("from") else None
    if ia is not None and ia.name:  # the letterhead: the document's own issuing authority, as it writes itself
        c = ia.contact
        issuing = Endpoint(party=requesting, role=w.authority("issuing_authority"), name=ia.name,
                           lines=tuple(x for x in ((c.address, c.email, c.phone) if c else ()) if x))
    deadlines = []
    for d in verdict.get("deadlines") or []:
        due = _date(d.get("due"))
        deadlines.append(DeadlineLine(
            description=w.deadline(str(d.get("name")), str(d.get("article"))),
            period=w.langs.ngettext("%(num)d day", "%(num)d days", int(d["days"])) if d.get("days") else None,
            due=w.langs.date(due) if due else None, article=str(d.get("article") or "")))
    notices = []
    for n in route.get("notifications") or []:
        to = _endpoint(w, n.get("to"))
        ref = str(n.get("article") or "")
        if to is None:
            continue
        notices.append(Notice(to, ref, w.notification(n)))
    copies = []
    for c in route.get("copies") or []:
        a, b = _endpoint(w, c.get("from")), _endpoint(w, c.get("to"))
        if a is not None and b is not None:
            copies.append((a, b, str(c.get("article") or "")))

    to = _endpoint(w, route.get("to"))
    addressee_kind = doc.addressee.kind if doc.addressee else None
    if to is not None and route["to"].get("authority") == "addressee" and addressee_kind in VALUE_WORDS:
        to = Endpoint(to.party, w._(VALUE_WORDS[addressee_kind]), to.name, to.lines)  # what it is, not the role's long name
    conditions = [ConditionLine(kind=w._(CONDITION_WORDS.get(kind, CONDITION_WORDS["other"])), article=article or "",
                                text=text) for kind, text, article in (stored.conditions if stored else ())]
    digest = canonical_sha256(json_safe(dict(document)))
    reference = doc.case_reference or ""
    issued = doc.issued_on
    written_in = (doc.language or "").strip() or None
    translation = (doc.translation_language or "").strip() or None
    problems = [ProblemLine(str(p.get("article") or ""), w.article_title(str(p.get("article") or "")))
                for p in verdict.get("problems") or []]
    return Sheet(
        languages=languages, title=w.each(lambda loc: law.texts.type_title(doc.type, loc)), article=spec.article,
        article_title=w.article_title(spec.article),
        instrument=w.each(lambda loc: law.texts.instrument_title(instrument, loc)),
        urgent=doc.urgent, reference=reference, request_id=stored.request_id if stored else None,
        issued_on=issued, issued=languages.date(issued) if issued else None, place=_place(doc, requesting),
        requesting=requesting, requested=requested, issuing=issuing, to=to,
        copies=copies, notices=notices,
        channel=w.channel(route, doc.requesting_party, doc.requested_party) if route.get("channel") else None,
        route_article=str(route.get("article") or ""),
        sent_by=w.authority(doc.sent_by) if doc.sent_by else None,
        deadlines=deadlines, rows=rows, others=others, conditions=conditions,
        written_in=written_in, written_in_name=languages.language_name(written_in) if written_in else None,
        translation_name=languages.language_name(translation) if translation else None,
        draft=stored is not None and stored.direction == "outgoing" and stored.status in DRAFT_STATES,
        admissible=bool(verdict.get("admissible")), problems=problems,
        digest=digest, qr_text=qr_text(digest, reference, stored.request_id if stored else None),
        generated_at=now, sealed=sealed, authority_name=ia.name if ia and ia.name else "",
    )


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
