"""Official documents: the one entry point of the API, the web application and the command line.

`official_document` renders a request this node holds (scoped and audited like reading it);
`document_from_file` a request document given as data (the command line's FILE form: nothing is
read from or written to the database). Both choose the language the receiving side accepts unless
told (CETS224 Art 4), and pass the PDF through `_finish` — the single place where the node's seal
(the request embedded as a PDF/A-3 attachment and signed, documents/seal.py) is applied: by the node
of the Party that issues the request (its requesting Party), on a request past its draft, when the
node has its identity. A draft, a received request or a node without keys gives the document unsealed,
and the document says so.

`letters_of` lists the letters a request's history gives (lifecycle.yaml `letters`: the requested
Party's acknowledgement, refusal, postponement, conditions, preservation), `official_letter` renders
one — in the requesting Party's language by default — sealed by this node, the requested Party's, with
the letter's own content embedded (documents/letter.py).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from evidex.audit import service as audit
from evidex.cases import service as cases
from evidex.cases.service import Law
from evidex.core.db import transaction
from evidex.core.errors import Invalid, InvalidInput, NotFound
from evidex.documents.i18n import Languages, locale_of
from evidex.documents.letter import (
    LetterEvent,
    LetterSheet,
    build_letter,
    condition_article,
    letter_cites,
    treaty_route,
)
from evidex.documents.render import render_pdf
from evidex.documents.seal import SealedKind, seal_pdf
from evidex.documents.sheet import DRAFT_STATES, Sheet, Stored, build_sheet
from evidex.exchange.keys import NodeIdentity
from evidex.parties.roles import Principal, Role
from evidex.rules import check
from evidex.rules.document import RequestDocument, parse_document
from evidex.rules.schema import language_key
from evidex.rules.texts import LOCALES

NO_TRANSLATION = "none"  # translation_lang: a document in one language, whatever the request says


@dataclass(frozen=True)
class OfficialDocument:
    pdf: bytes
    filename: str  # ASCII, safe in a header and on every file system
    lang: str  # the locale of the labels and fixed text
    translation_lang: str | None  # the second locale of a bilingual document
    document: dict[str, Any]  # the request document shown (JSON: dates as YYYY-MM-DD): what a seal embeds
    digest: str  # SHA-256 of its canonical JSON (RFC 8785), printed on the document and in its QR code
    request_id: uuid.UUID | None = None
    sealed: bool = False  # the request embedded and signed by this node (documents/seal.py)
    letter: str | None = None  # a letter of the lifecycle: its kind (then `document` is the letter's content)


def accepted_languages(law: Law, doc: RequestDocument, as_of: dt.date) -> list[str]:
    """The language tags the receiving side accepts (CETS224 Art 4): for an order to a provider or registrar
    (Art 6, 7: 4(2)) the addressee's first, then the requested Party's (its profile's `languages`)."""
    spec = law.rulebook.types[doc.type]
    tags: list[str] = []
    if spec.language_rule == "addressee" and doc.addressee is not None:
        tags += doc.addressee.accepted_languages
    profile = law.parties.get(doc.requested_party, as_of)
    if profile is None and law.parties.versions(doc.requested_party):
        profile = law.parties.versions(doc.requested_party)[-1]
    if profile is not None:
        tags += profile.languages
    return tags


def requesting_languages(law: Law, doc: RequestDocument, as_of: dt.date) -> list[str]:
    """The language tags the requesting Party accepts (its profile's `languages`): a letter answering
    its request is written in one of them."""
    profile = law.parties.get(doc.requesting_party, as_of)
    if profile is None and law.parties.versions(doc.requesting_party):
        profile = law.parties.versions(doc.requesting_party)[-1]
    return list(profile.languages) if profile is not None else []


def choose_languages(law: Law, doc: RequestDocument, as_of: dt.date, lang: str | None = None,
                     translation_lang: str | None = None, *, tags: list[str] | None = None) -> tuple[str, str | None]:
    """(the language of the labels, the second language or None). Given ones are checked; by default a
    language the receiving side accepts (`tags`; default: those of the request's receiving side) — the
    request's own if it is one (Serbian in either script), so labels and free text agree — and, when the
    request names a translation (`translation_language`), that language beside it."""
    if lang is not None:
        primary = _locale(lang, "lang")
    else:
        tags = accepted_languages(law, doc, as_of) if tags is None else tags
        accepted = [loc for loc in dict.fromkeys(locale_of(t) for t in tags) if loc]
        own = locale_of(doc.language)
        if own is not None and doc.language and language_key(doc.language) in {language_key(t) for t in tags}:
            primary = own
        else:
            primary = accepted[0] if accepted else own or "en"
    if translation_lang == NO_TRANSLATION:
        return primary, None
    second = (_locale(translation_lang, "translation_lang") if translation_lang is not None
              else locale_of(doc.translation_language))
    return primary, second if second and second != primary else None


def _locale(value: str, name: str) -> str:
    if value not in LOCALES:
        raise InvalidInput(f"{name}: unknown language {value!r}; official documents are written in "
                           f"{', '.join(LOCALES)}")
    return value


def _filename(doc: RequestDocument, languages: Languages) -> str:
    reference = re.sub(r"[^A-Za-z0-9._-]+", "_", doc.case_reference or "").strip("._")[:60]
    parts = [doc.type, reference, "-".join(languages.locales)]
    return "-".join(p for p in parts if p) + ".pdf"


def sealer(identity: NodeIdentity | None, doc: RequestDocument, stored: Stored | None) -> NodeIdentity | None:
    """The identity that seals this document, or None: only the node of the issuing (requesting) Party seals
    what its authority issues — a received request is the other Party's document, a draft is no official
    act yet."""
    if identity is None or identity.party != doc.requesting_party:
        return None
    if stored is not None and (stored.direction != "outgoing" or stored.status in DRAFT_STATES):
        return None
    return identity


def _authority(doc: RequestDocument) -> str:
    """The issuing authority a request's seal names, as the document does."""
    issuing = doc.issuing_authority
    return (issuing.name if issuing and issuing.name else None) or f"{doc.requesting_party} central authority"


def _finish(sheet: Sheet | LetterSheet, document: dict[str, Any], languages: Languages,
            identity: NodeIdentity | None, now: dt.datetime, request_id: uuid.UUID | None, *, authority: str,
            kind: SealedKind = "request") -> bytes:
    """THE place where an official document is sealed: rendered without attachments, then, with a
    sealing identity (`sealer`, `letter_sealer`), the request (or the letter's content) embedded and
    signed by the node (documents/seal.py), naming the authority that issues it as the document does."""
    pdf = render_pdf(sheet)
    if identity is None:
        return pdf
    second = languages.locales[1] if len(languages.locales) > 1 else None
    return seal_pdf(pdf, document=document, lang=languages.locales[0], translation_lang=second, identity=identity,
                    authority=authority, signed_at=now, request_id=str(request_id) if request_id else None,
                    kind=kind)


def _read(document: Any) -> tuple[dict[str, Any], RequestDocument]:
    try:
        data = cases.json_safe(document)
        doc, _dropped = parse_document(data)
    except (Invalid, InvalidInput) as e:
        raise InvalidInput(str(e).removeprefix("the request document cannot be read: ")) from e
    return data, doc


def document_from_file(law: Law, document: Any, *, now: dt.datetime, lang: str | None = None,
                       translation_lang: str | None = None, as_of: dt.date | None = None,
                       identity: NodeIdentity | None = None) -> OfficialDocument:
    """The official document of a request document given as data (the command line's FILE form), with the
    rules engine's verdict as of `as_of` (default: today in the requested Party's time zone). Nothing is
    stored or audited: the document never was in the node."""
    data, doc = _read(document)
    day = as_of or law.today(doc.requested_party, now)
    primary, second = choose_languages(law, doc, day, lang, translation_lang)
    languages = Languages([primary, *([second] if second else [])])
    verdict = check(data, law.parties, day, rulebook=law.rulebook).to_json_dict()
    signer = sealer(identity, doc, None)
    sheet = build_sheet(law, data, verdict, languages, now=now, sealed=signer is not None)
    return OfficialDocument(pdf=_finish(sheet, data, languages, signer, now, None, authority=_authority(doc)),
                            filename=_filename(doc, languages), lang=primary, translation_lang=second, document=data,
                            digest=sheet.digest, sealed=signer is not None)


def official_document(db: Session, *, actor: Principal, law: Law, request_id: uuid.UUID, now: dt.datetime,
                      lang: str | None = None, translation_lang: str | None = None,
                      identity: NodeIdentity | None = None) -> OfficialDocument:
    """The official document of a request this node holds, for whoever may read it (another Party's, or
    one a provider may not see: NotFound). Producing it is a read of the request's personal data: audited
    (CETS224 Art 14(8)), with the languages and the digest of what was shown, and announced as a read
    (the retrieval receipt of an incoming request)."""
    req = cases.get_request(db, actor=actor, request_id=request_id, audit_read=False)
    data, doc = _read(req.document or {})
    verdict = req.verdict or cases.check_document(law, data, now).to_json_dict()
    day = _day(verdict.get("as_of")) or law.today(doc.requested_party, now)
    primary, second = choose_languages(law, doc, day, lang, translation_lang)
    languages = Languages([primary, *([second] if second else [])])
    binding = [(c.kind, c.text, c.article) for c in cases.conditions_of(db, actor=actor, request_id=request_id)
               if c.binding]
    stored = Stored(request_id=str(req.id), status=req.status, direction=req.direction, conditions=binding)
    signer = sealer(identity, doc, stored)
    sheet = build_sheet(law, data, verdict, languages, now=now, stored=stored, sealed=signer is not None)
    pdf = _finish(sheet, data, languages, signer, now, req.id, authority=_authority(doc))
    with transaction(db):
        audit.record(db, actor=actor, action="request.document", object_type="request", object_id=str(req.id),
                     at=now, personal_data=True,
                     details={"lang": primary, "translation_lang": second, "sha256": sheet.digest,
                              "sealed": signer is not None})
        if law.announce is not None and actor.role is not Role.system:
            law.announce(db, req, "read", now)  # e.g. the retrieval receipt to the sending node
    return OfficialDocument(pdf=pdf, filename=_filename(doc, languages), lang=primary, translation_lang=second,
                            document=data, digest=sheet.digest, request_id=req.id, sealed=signer is not None)


# --------------------------------------------------------------------------- letters of the lifecycle
@dataclass(frozen=True)
class LetterListing:
    """A letter a request's history gives: the event it answers (its number in the history), its kind,
    its date and title (in the language asked), the articles it cites."""

    event_id: int
    event: str
    kind: str
    at: dt.datetime
    title: str
    cites: list[str]


def _gives_letters(req: Any) -> bool:
    """Letters are written by the requested Party (lifecycle.yaml `letters`): on a request this node received."""
    return bool(req.direction == "incoming")


def letter_kind(law: Law, req: Any, event: str) -> str | None:
    """The kind of letter an event of `req`'s history gives the requesting Party, or None."""
    spec = law.lifecycle.letters.get(event) if _gives_letters(req) else None
    return spec.kind if spec is not None else None


def letters_of(db: Session, *, actor: Principal, law: Law, request_id: uuid.UUID,
               lang: str = "en") -> list[LetterListing]:
    """The letters the history of a request this node holds gives, oldest first (another Party's request,
    or one the actor may not read: NotFound). Lists no personal data: not audited."""
    req = cases.get_request(db, actor=actor, request_id=request_id, audit_read=False)
    locale = _locale(lang, "lang")
    if not _gives_letters(req):
        return []
    out = []
    for e in cases.history(db, actor=actor, request_id=request_id):
        kind = letter_kind(law, req, e.event)
        if kind is not None:
            out.append(LetterListing(event_id=e.seq, event=e.event, kind=kind, at=e.at,
                                     title=law.texts.letter_title(kind, locale),
                                     cites=letter_cites(law, e.event, req.request_type, req.verdict or {})))
    return out


def letter_sealer(identity: NodeIdentity | None, req: Any) -> NodeIdentity | None:
    """The identity that seals a letter, or None: the node of the requested Party, which writes it."""
    if identity is None or identity.party != req.requested_party or not _gives_letters(req):
        return None
    return identity


def _letter_event(db: Session, actor: Principal, law: Law, req: Any, event_id: int) -> LetterEvent:
    """The recorded event `event_id` of `req` and what the node holds beside it, read for its letter;
    NotFound if the history has no such event, Invalid if it gives no letter (saying which do)."""
    events = cases.history(db, actor=actor, request_id=req.id)
    e = next((x for x in events if x.seq == event_id), None)
    if e is None:
        raise NotFound(f"no event {event_id} in the history of this request")
    kind = letter_kind(law, req, e.event)
    if kind is None:
        given = [f"{x.seq} ({k})" for x in events if (k := letter_kind(law, req, x.event)) is not None]
        why = ("letters are written by the requested Party, and this node's Party requested this one"
               if not _gives_letters(req) else
               f"letters are given by the events {', '.join(law.lifecycle.letters)}")
        raise Invalid(f"event {event_id} ({e.event}) gives no letter: {why}; "
                      + (f"this request's letters: events {', '.join(given)}" if given else "this request has none yet"))
    # The event's own record says what was decided (its grounds, reasons and conditions): exact, where the
    # decision and condition rows could be told apart only by their time.
    data = e.data or {}
    treaty = treaty_route(law, req.request_type, req.verdict or {})
    # Each condition's article as _effects recorded it, else its kind's; under an MLA treaty none (28(1)).
    conditions = [(str(c.get("kind")), str(c.get("text", "")).strip(),
                   condition_article(law, str(c.get("kind")), c.get("article"), treaty))
                  for c in data.get("conditions") or [] if isinstance(c, dict)]
    preserved_on, preserved_until = _day(data.get("preserved_on")), _day(data.get("preserved_until"))
    period = cases.PRESERVATION_PERIOD if preserved_on or preserved_until else None
    if preserved_until is None and preserved_on is not None:  # recorded before the end was: as the node counts it
        preserved_until = preserved_on + dt.timedelta(days=law.rulebook.value(cases.PRESERVATION_PERIOD, on=preserved_on))
    days = (law.rulebook.value(cases.PRESERVATION_PERIOD, on=preserved_on or law.today(req.requested_party, e.at))
            if period else None)
    return LetterEvent(
        kind=kind, event=e.event, seq=e.seq, at=e.at, from_status=e.from_status, to_status=e.to_status,
        request_id=str(req.id), conversation_id=req.conversation_id, document=req.document or {},
        verdict=req.verdict or {}, cites=letter_cites(law, e.event, req.request_type, req.verdict or {}),
        actor_role=e.actor_role, decision=cases.DECISION_KIND.get(e.to_status),
        grounds=[str(g) for g in data.get("grounds") or []], reasons=e.reasons, conditions=conditions,
        received_at=events[0].at if events else None, preserved_on=preserved_on, preserved_until=preserved_until,
        period=period, period_days=days)


def _writer(law: Law, endpoint: dict[str, Any]) -> str:
    """The authority that writes a letter, as its seal names it: its name, else its Party and role."""
    if endpoint.get("name"):
        return str(endpoint["name"])
    role = str(endpoint.get("authority") or "")
    label = next((law.texts.text(k) for k in (f"actor.{role}", f"role.{role}") if k in law.texts.source), role)
    return f"{endpoint.get('party')} {label}".strip()


def _letter_filename(kind: str, doc: RequestDocument, event_id: int, languages: Languages) -> str:
    reference = re.sub(r"[^A-Za-z0-9._-]+", "_", doc.case_reference or "").strip("._")[:60]
    parts = [kind, reference, str(event_id), "-".join(languages.locales)]
    return "-".join(p for p in parts if p) + ".pdf"


def official_letter(db: Session, *, actor: Principal, law: Law, request_id: uuid.UUID, event_id: int,
                    now: dt.datetime, lang: str | None = None, translation_lang: str | None = None,
                    identity: NodeIdentity | None = None) -> OfficialDocument:
    """The letter that event `event_id` of a request this node holds gives the requesting Party, for whoever
    may read the request (another Party's: NotFound; an event that gives no letter: Invalid). In the
    requesting Party's language unless told — the request's own when that Party accepts it (CETS224 Art 4)
    — and sealed by this node, the requested Party's. Producing it reads the request's reasons and
    conditions: audited (CETS224 Art 14(8)) as the request's document is."""
    req = cases.get_request(db, actor=actor, request_id=request_id, audit_read=False)
    _data, doc = _read(req.document or {})
    e = _letter_event(db, actor, law, req, event_id)
    day = law.today(doc.requested_party, e.at)
    primary, second = choose_languages(law, doc, day, lang, translation_lang,
                                       tags=requesting_languages(law, doc, day))
    languages = Languages([primary, *([second] if second else [])])
    signer = letter_sealer(identity, req)
    sheet, content = build_letter(law, e, languages, date=day, now=now, sealed=signer is not None)
    pdf = _finish(sheet, content, languages, signer, now, req.id, kind="letter",
                  authority=_writer(law, content["from"]))
    with transaction(db):
        audit.record(db, actor=actor, action="request.letter", object_type="request", object_id=str(req.id),
                     at=now, personal_data=True,
                     details={"event": e.seq, "letter": e.kind, "lang": primary, "translation_lang": second,
                              "sha256": sheet.digest, "sealed": signer is not None})
        if law.announce is not None and actor.role is not Role.system:
            law.announce(db, req, "read", now)  # e.g. the retrieval receipt to the sending node
    return OfficialDocument(pdf=pdf, filename=_letter_filename(e.kind, doc, e.seq, languages), lang=primary,
                            translation_lang=second, document=content, digest=sheet.digest, request_id=req.id,
                            sealed=signer is not None, letter=e.kind)


def _day(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


__all__ = ["LOCALES", "NO_TRANSLATION", "LetterListing", "OfficialDocument", "accepted_languages",
           "choose_languages", "document_from_file", "letter_kind", "letter_sealer", "letters_of", "official_document",
           "official_letter", "requesting_languages", "sealer"]
