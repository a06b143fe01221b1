"""Official documents: the one entry point of the API, the web application and the command line.

`official_document` renders a request this node holds (scoped and audited like reading it);
`document_from_file` a request document given as data (the command line's FILE form: nothing is
read from or written to the database). Both choose the language the receiving side accepts unless
told (CETS224 Art 4), and pass the PDF through `_finish` — the single place where the node's seal
(the request embedded as a PDF/A-3 attachment and signed, documents/seal.py) is applied: by the node
of the Party that issues the request (its requesting Party), on a request past its draft, when the
node has its identity. A draft, a received request or a node without keys gives the document unsealed,
and the document says so.
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
from evidex.core.errors import Invalid, InvalidInput
from evidex.documents.i18n import Languages, locale_of
from evidex.documents.render import render_pdf
from evidex.documents.seal import seal_pdf
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


def choose_languages(law: Law, doc: RequestDocument, as_of: dt.date, lang: str | None = None,
                     translation_lang: str | None = None) -> tuple[str, str | None]:
    """(the language of the labels, the second language or None). Given ones are checked; by default a
    language the receiving side accepts — the request's own if it is one (Serbian in either script), so
    labels and free text agree — and, when the request names a translation (`translation_language`), that
    language beside it."""
    if lang is not None:
        primary = _locale(lang, "lang")
    else:
        tags = accepted_languages(law, doc, as_of)
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


def _finish(sheet: Sheet, document: dict[str, Any], doc: RequestDocument, languages: Languages,
            identity: NodeIdentity | None, now: dt.datetime, request_id: uuid.UUID | None) -> bytes:
    """THE place where an official document is sealed: rendered without attachments, then, with a
    sealing identity (`sealer`), the request embedded and signed by the node (documents/seal.py),
    naming the issuing authority as the document does."""
    pdf = render_pdf(sheet)
    if identity is None:
        return pdf
    issuing = doc.issuing_authority
    authority = (issuing.name if issuing and issuing.name else None) or f"{doc.requesting_party} central authority"
    second = languages.locales[1] if len(languages.locales) > 1 else None
    return seal_pdf(pdf, document=document, lang=languages.locales[0], translation_lang=second, identity=identity,
                    authority=authority, signed_at=now, request_id=str(request_id) if request_id else None)


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
    return OfficialDocument(pdf=_finish(sheet, data, doc, languages, signer, now, None),
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
    pdf = _finish(sheet, data, doc, languages, signer, now, req.id)
    with transaction(db):
        audit.record(db, actor=actor, action="request.document", object_type="request", object_id=str(req.id),
                     at=now, personal_data=True,
                     details={"lang": primary, "translation_lang": second, "sha256": sheet.digest,
                              "sealed": signer is not None})
        if law.announce is not None and actor.role is not Role.system:
            law.announce(db, req, "read", now)  # e.g. the retrieval receipt to the sending node
    return OfficialDocument(pdf=pdf, filename=_filename(doc, languages), lang=primary, translation_lang=second,
                            document=data, digest=sheet.digest, request_id=req.id, sealed=signer is not None)


def _day(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


__all__ = ["LOCALES", "NO_TRANSLATION", "OfficialDocument", "accepted_languages", "choose_languages",
           "document_from_file", "official_document", "sealer"]
