"""The seal of an official document, and its verification (issue 15 item 4).

An official document is a PDF/A-3 that carries the request it shows and the node's signature:

- `request.json`, the request document in canonical JSON (RFC 8785), a PDF/A-3 associated file
  (AFRelationship /Source: the document is rendered from it); for a letter of the lifecycle (an
  acknowledgement, a refusal ...: documents/letter.py) `letter.json`, the letter's own content;
- `signature.jws`, a JWS (Ed25519, RFC 9864) by the node over the seal: who signed (Party, key,
  issuing authority), when, in which languages, the request itself, and what each page shows — its
  visible text, line by line, and a digest of everything that draws it (content, fonts, images,
  annotations, page size): AFRelationship /Supplement.

Anyone holding the document and the signer's public key (its `node.json`, or a node that trusts it)
can check it offline. `verify_pdf` answers valid, altered (saying what differs: a request field, a
page and line, the element the line belongs to), unknown signer (a key outside the trust list, with
the Party the seal claims), or not sealed.

Why the page digests beside the text: the text alone does not bind what a reader sees. A white box
drawn over a line, a font whose glyph for "5" draws an "8", or a note laid over the page leaves the
extracted text unchanged. The digests are over the decoded objects (not the file's bytes), so an
archive that rewrites the file without changing what it draws keeps the document valid; and a page
whose digests match is unchanged whatever a later text extractor makes of it. The text lines are
signed so that a verifier can say what changed, not only that something did.

Both sides read a PDF's structure with pikepdf (qpdf) and decode its streams themselves under tight
limits (an uploaded file is untrusted input: a small file must not decompress into gigabytes); the
pages' text is read by PDFium (pypdfium2), and only from pages whose every stream was decoded within
those limits. One reading for both sides: what the seal signs is what the verifier compares. (The
text was read with pypdf until December 2026: its pure-Python extraction was 80 % of a seal's cost;
the digests are computed exactly as before, so documents sealed then verify as before, and only the
lines a verifier quotes from a changed page may be split differently.)"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import datetime as dt
import difflib
import hashlib
import io
import json
import logging
import re
import threading
import unicodedata
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import pikepdf
import pypdfium2 as pdfium
from joserfc import jws
from joserfc.errors import JoseError
from pikepdf.models.metadata import encode_pdf_date

from evidex.core.canonical import NotCanonical, canonical_json
from evidex.core.errors import EvidexError, InvalidInput
from evidex.exchange.envelope import SIGNATURE_ALG, EnvelopeRejected, ExpiredKey, RevokedKey, Trust
from evidex.exchange.keys import NodeIdentity

SEAL_TYPE, SEAL_VERSION = "evidex.document_seal", 1
JWS_TYPE = "evidex-seal+jws"
REQUEST_FILE, SIGNATURE_FILE = "request.json", "signature.jws"
LETTER_FILE = "letter.json"
SealedKind = Literal["request", "letter"]
# What a seal embeds, by the kind of document: the file, and what the verifier calls it.
EMBEDDED: dict[str, tuple[str, str]] = {"request": (REQUEST_FILE, "request"), "letter": (LETTER_FILE, "letter")}
MAX_PDF_BYTES = 16_000_000  # 16 MB, as the pages say it; an official document is a few pages: far below this
MAX_PAGES = 500
MAX_DECODED_BYTES = 256 * 1024 * 1024  # all streams of one document, decoded (fonts, images, content)
MAX_STREAM_BYTES = 32 * 1024 * 1024  # one stream, decoded
MAX_DIFFERENCES = 40  # said one by one; beyond, counted
_QUOTE = 160  # a line is quoted up to this many characters

REGISTRY = jws.JWSRegistry(algorithms=[SIGNATURE_ALG])
REGISTRY.max_header_length = 1024
REGISTRY.max_payload_length = 8 * 1024 * 1024  # the request and the lines of every page

Status = Literal["valid", "altered", "unknown_signer", "not_sealed"]
DifferenceKind = Literal["signature", "request", "request_field", "page_count", "page_added", "page_missing",
                         "line_changed", "line_added", "line_removed", "appearance", "document"]
# What draws a page, digested apart so that a verifier can say which part changed.
COMPONENTS: dict[str, str] = {
    "content": "drawing instructions",
    "fonts": "fonts",
    "images": "images and embedded drawings",
    "resources": "colours and graphics settings",
    "annotations": "annotations (notes, links or form fields shown over the page)",
    "geometry": "page size, boxes or rotation",
}
_GEOMETRY = ("/MediaBox", "/CropBox", "/BleedBox", "/TrimBox", "/ArtBox", "/Rotate", "/UserUnit", "/Group")
# Catalog entries that change what a reader shows or does beyond the pages (layers, forms, actions).
_DOCUMENT_KEYS = ("/OCProperties", "/AcroForm", "/OpenAction", "/AA", "/Collection")
# Not part of what is drawn: back-links, structure, dates, and how a stream is encoded.
_SKIP = frozenset({"/Parent", "/P", "/StructParent", "/StructParents", "/M", "/Metadata", "/PieceInfo", "/LastModified"})
_STREAM_SKIP = _SKIP | {"/Length", "/Filter", "/DecodeParms", "/DL"}
_PARTY = re.compile(r"^[A-Z]{2}$")
# qpdf warns (through pikepdf's logging) about each flaw of a damaged file; the verifier answers for the file as a whole.
logging.getLogger("pikepdf").addHandler(logging.NullHandler())
logging.getLogger("pikepdf._core").propagate = False
# PDFium is not thread-safe: one page's text at a time in a process (a page takes about 5 ms).
_PDFIUM = threading.Lock()
# Filters the digest decodes itself, within the limits; any other is digested as written. Image codecs
# are never decoded: no text is read from an image, and they change only when an image does.
_FLATE = ("/FlateDecode", "/Fl")
# Not text: C0 and C1 controls but line breaks and tabs, noncharacters, a soft hyphen's mark.
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\ufffe\uffff]")
_IMAGE_CODECS = frozenset({"/DCTDecode", "/DCT", "/JPXDecode", "/JBIG2Decode", "/CCITTFaxDecode", "/CCF"})


ENCRYPTED = "the PDF is protected with a password or encrypted: not an official document"
UNREADABLE = "the PDF's text cannot be read: it is encoded in a way official documents never are"


class NotAPdf(InvalidInput):
    """The upload is not a PDF evidex can read; `reason` says why for a program (and a page to say it
    in its reader's language): not_pdf, too_large, damaged, encrypted, no_pages."""

    def __init__(self, message: str, reason: str = "damaged") -> None:
        super().__init__(message)
        self.reason = reason


# --------------------------------------------------------------------------- what the verifier says
@dataclass(frozen=True)
class Difference:
    """One thing that differs from what was signed. `message` says it in English; the other fields
    say it for a program (and for a page to say it in its reader's language)."""

    kind: DifferenceKind
    message: str
    page: int | None = None  # 1-based
    field: str | None = None  # a field of the request: "case_reference", "elements.offence"
    label: str | None = None  # that element's label as the document shows it
    signed: str | None = None  # the signed line or value
    found: str | None = None  # what the document shows or carries now
    parts: tuple[str, ...] = ()  # appearance: the COMPONENTS that differ

    def __str__(self) -> str:
        return self.message

    def as_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class Verification:
    """The answer about a document: valid, altered, unknown signer or not sealed, and by whom it
    says it was sealed. `detail` says why in one English sentence."""

    status: Status
    detail: str
    party: str | None = None  # the Party whose node signed (as the seal claims, when the signer is unknown)
    authority: str | None = None  # the issuing authority the seal names
    signed_at: dt.datetime | None = None
    kid: str | None = None
    differences: list[Difference] = field(default_factory=list)
    lang: str | None = None
    translation_lang: str | None = None
    request_type: str | None = None
    reference: str | None = None  # the request's case reference
    request_id: str | None = None  # the issuing node's id of the request, if the seal gives one
    more_differences: int = 0  # beyond the MAX_DIFFERENCES listed
    kind: SealedKind = "request"  # what the document is: a request, or a letter answering one
    letter: str | None = None  # a letter's kind (acknowledgement, refusal ...: lifecycle.yaml letters)

    @property
    def valid(self) -> bool:
        return self.status == "valid"

    def as_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["signed_at"] = self.signed_at.isoformat() if self.signed_at else None
        out["differences"] = [d.as_json() for d in self.differences]
        return out


# --------------------------------------------------------------------------- reading a PDF
class _TooLarge(Exception):
    """A stream, or the streams of one document together, decode to more than a document holds."""


@contextlib.contextmanager
def _reading(what: str = "the PDF") -> Iterator[None]:
    """Read untrusted PDF structure: any failure of the parser (qpdf raises its own errors, and
    Python's, on a damaged file) one clear error, never a stack trace."""
    try:
        yield
    except EvidexError:
        raise
    except _TooLarge as e:  # a small file that would decode into far more than a document holds
        raise NotAPdf(f"{what} decodes to more than an official document holds", "too_large") from e
    except pikepdf.PasswordError as e:
        raise NotAPdf(ENCRYPTED, "encrypted") from e
    except RecursionError as e:
        raise NotAPdf(f"{what} is nested too deeply to be read") from e
    except MemoryError as e:
        raise NotAPdf(f"{what} is too large to be read", "too_large") from e
    except Exception as e:  # pikepdf raises PdfError, ValueError, KeyError, TypeError… on damaged files
        raise NotAPdf(f"{what} is damaged and cannot be read ({type(e).__name__})") from e


def _checked(pdf: bytes) -> bytes:
    if not isinstance(pdf, bytes | bytearray | memoryview):
        raise NotAPdf("not a file", "not_pdf")
    if len(pdf) > MAX_PDF_BYTES:
        raise NotAPdf(f"the file is larger than {MAX_PDF_BYTES // 1_000_000} MB: not an official document",
                      "too_large")
    if b"%PDF-" not in bytes(pdf[:1024]):
        raise NotAPdf("the file is not a PDF", "not_pdf")
    return bytes(pdf)


def _filters(stream: pikepdf.Stream) -> list[str]:
    f = stream.get("/Filter")
    if isinstance(f, pikepdf.Name):
        return [str(f)]
    if isinstance(f, pikepdf.Array):
        return [str(x) for x in f]
    return []


def _decoded(stream: pikepdf.Stream, limit: int = MAX_STREAM_BYTES) -> tuple[bytes, bool]:
    """A stream's data as it decodes, and True; or, for a filter this reader does not decode itself
    (LZW, run-length, the image codecs: none of evidex's documents uses one), its data as written,
    and False. Flate is inflated by zlib with a bound on its output (qpdf's own decoding has none);
    the ASCII filters only shrink what they decode."""
    filters = _filters(stream)
    raw = data = bytes(stream.read_raw_bytes())
    parms = stream.get("/DecodeParms")
    if parms is not None and not (len(filters) == 1 and filters[0] in _FLATE):
        return raw, False  # a predictor, or parameters, in a chain: never in a document evidex writes
    for name in filters:
        if name in _FLATE:
            inflater = zlib.decompressobj()
            out = inflater.decompress(data, limit)
            if inflater.unconsumed_tail:
                raise _TooLarge
            if parms is not None:  # a predictor: undone by qpdf, now that the size is known to be bounded
                return bytes(stream.read_bytes()), True
            data = out
        elif name in ("/ASCIIHexDecode", "/AHx"):
            hexa = re.sub(rb"\s+", b"", data).split(b">", 1)[0]
            data = binascii.unhexlify(hexa + b"0" * (len(hexa) % 2))
        elif name in ("/ASCII85Decode", "/A85"):
            text = re.sub(rb"\s+", b"", data)
            data = base64.a85decode(text.split(b"~>", 1)[0])
        else:
            return raw, False
    return data, True


def _h(*parts: bytes) -> bytes:
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return h.digest()


_SCALARS = frozenset({bool, int, Decimal, float})


class _Digest:
    """SHA-256 of PDF objects as they decode (not as they are written): independent of object
    numbers, compression and the order of a dictionary's keys; each indirect object once."""

    def __init__(self, pages: dict[tuple[int, int], int]) -> None:
        self.pages = pages  # a page referred to (by a link) is named by its number, not digested again
        self.memo: dict[tuple[int, int], bytes] = {}
        self.active: set[tuple[int, int]] = set()
        self.scalars: dict[tuple[type, Any], bytes] = {}  # a font's widths repeat the same numbers
        self.left = MAX_DECODED_BYTES
        self.opaque = False  # a stream was digested as written: its text is not read (see _decoded)

    def of(self, obj: Any) -> bytes:
        if type(obj) in _SCALARS:  # most objects of a font (its widths) are numbers: the fast way first
            return self._scalar(obj)
        if isinstance(obj, pikepdf.Object) and obj.is_indirect:
            key = obj.objgen
            if key in self.pages:
                return _h(b"page", str(self.pages[key]).encode())
            if key in self.memo:
                return self.memo[key]
            if key in self.active:
                return _h(b"cycle")
            self.active.add(key)
            try:
                digest = self._direct(obj)
            finally:
                self.active.discard(key)
            self.memo[key] = digest
            return digest
        return self._direct(obj)

    def decode(self, stream: pikepdf.Stream) -> tuple[bytes, bool]:
        """`_decoded` within what is left of the document's limit (MAX_DECODED_BYTES), counted."""
        data, decoded = _decoded(stream, min(MAX_STREAM_BYTES, max(self.left, 0)) + 1)
        self.left -= len(data)
        if self.left < 0:
            raise NotAPdf(f"the PDF decodes to more than {MAX_DECODED_BYTES // (1024 * 1024)} MB: "
                          "not an official document", "too_large")
        return data, decoded

    def _direct(self, obj: Any) -> bytes:
        if isinstance(obj, pikepdf.Stream):
            data, decoded = self.decode(obj)
            if not decoded and not (obj.get("/Subtype") == pikepdf.Name.Image
                                    and _IMAGE_CODECS.issuperset(_filters(obj))):
                self.opaque = True
            return _h(b"stream", self._dict(obj, _STREAM_SKIP), data)
        if isinstance(obj, pikepdf.Dictionary):
            return self._dict(obj, _SKIP)
        if isinstance(obj, pikepdf.Array):
            return _h(b"array", *(self.of(x) for x in obj))
        if isinstance(obj, pikepdf.Name):
            return _h(b"name", str(obj).encode("utf-8", "surrogatepass"))
        if isinstance(obj, bool | int | Decimal | float):
            return self._scalar(obj)
        if obj is None:
            return _h(b"null")
        if isinstance(obj, pikepdf.String):
            return _h(b"string", bytes(obj))
        return _h(b"other", repr(obj).encode("utf-8", "replace"))

    def _scalar(self, obj: bool | int | Decimal | float) -> bytes:
        key = (type(obj), obj)
        if (known := self.scalars.get(key)) is None:
            known = self.scalars[key] = (
                _h(b"bool", b"1" if obj else b"0") if isinstance(obj, bool)
                else _h(b"int", str(int(obj)).encode()) if isinstance(obj, int)
                else _h(b"real", repr(float(obj)).encode()))
        return known

    def _dict(self, obj: pikepdf.Dictionary | pikepdf.Stream, skip: frozenset[str]) -> bytes:
        keys = obj.keys()
        items = sorted((k, obj[k]) for k in keys if k not in skip)
        return _h(b"dict", *(part for k, v in items for part in (k.encode("utf-8", "surrogatepass"), self.of(v))))

    def page(self, page: pikepdf.Dictionary) -> dict[str, str]:
        """The digests of what draws a page (COMPONENTS)."""
        res = page.get("/Resources")
        resources = res if isinstance(res, pikepdf.Dictionary) else pikepdf.Dictionary()
        keys = resources.keys()
        others = sorted((k, resources[k]) for k in keys if k not in ("/Font", "/XObject"))
        parts = {
            "content": self.of(page.get("/Contents")),
            "fonts": self.of(resources.get("/Font")),
            "images": self.of(resources.get("/XObject")),
            "resources": _h(b"dict", *(p for k, v in others for p in (k.encode(), self.of(v)))),
            "annotations": self.of(page.get("/Annots")),
            "geometry": _h(*(p for k in _GEOMETRY for p in (k.encode(), self.of(page.get(k))))),
        }
        return {k: v.hex() for k, v in parts.items()}

    def document(self, root: pikepdf.Dictionary) -> str:
        """The digest of what the catalog adds to the pages: layers, forms, actions (never the
        attachments, which the seal adds itself)."""
        return _h(*(p for k in _DOCUMENT_KEYS for p in (k.encode(), self.of(root.get(k))))).hex()


@dataclass(frozen=True)
class _Read:
    """What the seal and the verifier need of a PDF, read in one pass: its attachments (by name:
    a name may be given more than once), the digests of what draws each page and of the catalog,
    and whether its text can be read (every stream decoded within the limits)."""

    pdf: bytes
    files: dict[str, list[bytes]]
    digests: list[dict[str, str]]
    document_digest: str
    readable: bool


@contextlib.contextmanager
def _opened(pdf: bytes) -> Iterator[tuple[pikepdf.Pdf, _Read]]:
    """Open and read `pdf`, refused clearly (NotAPdf) if it is not a PDF evidex can seal or verify;
    the document stays open within the block (the seal is added to it)."""
    data = _checked(pdf)
    with _reading("the file"):
        doc = pikepdf.open(io.BytesIO(data))
    try:
        with _reading("the file"):  # only the reading: what the block does with it is not the file's fault
            read = _read_open(doc, data)
        yield doc, read
    finally:
        doc.close()


def _read_open(doc: pikepdf.Pdf, data: bytes) -> _Read:
    if doc.is_encrypted:
        raise NotAPdf(ENCRYPTED, "encrypted")
    root = doc.Root
    if not isinstance(root, pikepdf.Dictionary) or not isinstance(root.get("/Pages"), pikepdf.Dictionary):
        raise NotAPdf("the file is damaged and cannot be read (it has no page tree)")
    pages = [p.obj for p in doc.pages]
    if not pages:
        raise NotAPdf("the PDF has no pages", "no_pages")
    if len(pages) > MAX_PAGES:
        raise NotAPdf(f"the PDF has more than {MAX_PAGES} pages: not an official document", "too_large")
    digest = _Digest({p.objgen: i + 1 for i, p in enumerate(pages)})
    digests = [digest.page(p) for p in pages]
    document_digest = digest.document(root)
    files = _embedded_files(root, digest)
    return _Read(data, files, digests, document_digest, readable=not digest.opaque)


def _read(pdf: bytes) -> _Read:
    with _opened(pdf) as (_, read):
        return read


def _embedded_files(root: pikepdf.Dictionary, digest: _Digest) -> dict[str, list[bytes]]:
    """The files of the catalog's /EmbeddedFiles name tree, by name, decoded within the limits of
    the document (`digest.left`); a name given twice keeps both."""
    names = root.get("/Names")
    tree = names.get("/EmbeddedFiles") if isinstance(names, pikepdf.Dictionary) else None
    out: dict[str, list[bytes]] = {}
    seen: set[tuple[int, int]] = set()

    def walk(node: Any, depth: int) -> None:
        if not isinstance(node, pikepdf.Dictionary) or depth > 32:
            return
        if node.is_indirect:
            if node.objgen in seen:
                return
            seen.add(node.objgen)
        pairs = node.get("/Names")
        if isinstance(pairs, pikepdf.Array):
            for i in range(0, len(pairs) - 1, 2):
                name, spec = pairs[i], pairs[i + 1]
                if isinstance(name, pikepdf.String) and isinstance(spec, pikepdf.Dictionary):
                    out.setdefault(_name_text(bytes(name)), []).append(_file_of(spec, digest))
        kids = node.get("/Kids")
        if isinstance(kids, pikepdf.Array):
            for kid in kids:
                walk(kid, depth + 1)

    walk(tree, 0)
    return out


def _name_text(raw: bytes) -> str:
    """A PDF text string (UTF-16 with its byte-order mark, or PDFDocEncoding, near enough Latin-1)."""
    if raw[:2] in (b"\xfe\xff", b"\xff\xfe"):
        return raw.decode("utf-16", "replace")
    if raw[:3] == b"\xef\xbb\xbf":
        return raw[3:].decode("utf-8", "replace")
    return raw.decode("latin-1")


def _file_of(spec: pikepdf.Dictionary, digest: _Digest) -> bytes:
    files = spec.get("/EF")
    stream = None
    if isinstance(files, pikepdf.Dictionary):
        stream = files.get("/F") if files.get("/F") is not None else files.get("/UF")
    if not isinstance(stream, pikepdf.Stream):
        return b""
    data, _ = digest.decode(stream)
    if len(data) > MAX_STREAM_BYTES:
        raise _TooLarge
    return data


def lines_of(text: str) -> list[str]:
    """Text as lines: Unicode NFC, control characters dropped, each run of white space one space,
    empty lines dropped."""
    out = []
    for raw in _CONTROLS.sub("", unicodedata.normalize("NFC", text)).splitlines():
        line = " ".join(raw.split())
        if line:
            out.append(line)
    return out


def _page_lines(pdf: bytes, pages: Sequence[int]) -> dict[int, list[str]]:
    """The visible text of the pages `pages` (0-based), as lines: read by PDFium, in the order the
    page draws it. Only for a PDF `_read` found readable."""
    out: dict[int, list[str]] = {}
    with _PDFIUM, _reading():
        doc = pdfium.PdfDocument(pdf)
        try:
            for i in pages:
                page = doc[i]
                text = page.get_textpage()
                try:
                    # PDFium joins a word hyphenated at the end of a line, marking the hyphen U+FFFE:
                    # the lines are kept as the page shows them.
                    out[i] = lines_of(text.get_text_range().replace("\ufffe", "-\n"))
                finally:
                    text.close()
                    page.close()
        finally:
            doc.close()
    return out


def visible_text(pdf: bytes) -> list[list[str]]:
    """The visible text of each page, as lines: what the seal signs and the verifier compares (one
    function for both)."""
    read = _read(pdf)
    if not read.readable:
        raise NotAPdf(UNREADABLE)
    lines = _page_lines(read.pdf, range(len(read.digests)))
    return [lines[i] for i in range(len(read.digests))]


# --------------------------------------------------------------------------- sealing
def element_labels(document: Mapping[str, Any], langs: Sequence[str]) -> dict[str, list[str]]:
    """Each element of the request and its label in each language of the document (the rule data's
    words, as the renderer prints them): signed, so a verifier can name the element a changed line
    belongs to without rule data of its own."""
    from evidex.requests.texts import default_texts  # the rule data, loaded only by what seals

    texts = default_texts()
    elements = document.get("elements")
    request_type = document.get("type")
    if not isinstance(elements, Mapping) or not isinstance(request_type, str):
        return {}
    out: dict[str, list[str]] = {}
    for name in elements:
        labels = [label for lang in langs if (label := texts.element_label(request_type, str(name), lang))]
        if labels:
            out[str(name)] = list(dict.fromkeys(labels))
    return out


def seal_pdf(pdf: bytes, *, document: dict[str, Any], lang: str, translation_lang: str | None,
             identity: NodeIdentity, authority: str, signed_at: dt.datetime, request_id: str | None = None,
             kind: SealedKind = "request") -> bytes:
    """The document `pdf` (a PDF/A-3 rendered from `document` in `lang`, and `translation_lang` if
    bilingual) with the request embedded and the node's seal over it; the pages are not touched.
    `authority`: the issuing authority as the document names it; `request_id`: this node's id of the
    request, if any (a later verification here can name it). `kind="letter"`: `document` is a letter's
    content (documents/letter.py), embedded as letter.json and signed as such."""
    if signed_at.tzinfo is None:
        raise InvalidInput("signed_at must carry a time zone")
    noun = EMBEDDED[kind][1]
    try:
        request_bytes = canonical_json(document)
    except NotCanonical as e:
        raise InvalidInput(f"the {noun} cannot be sealed as canonical JSON: {e}") from e
    with _opened(pdf) as (doc, read):
        if set(read.files) & {REQUEST_FILE, LETTER_FILE, SIGNATURE_FILE}:
            raise InvalidInput("the PDF is already sealed")
        if not read.readable:
            raise InvalidInput(UNREADABLE)
        text = _page_lines(read.pdf, range(len(read.digests)))
        kid = str(identity.signing_jwk["kid"])
        payload = {
            "typ": SEAL_TYPE, "version": SEAL_VERSION, "party": identity.party, "kid": kid, "authority": authority,
            "signed_at": signed_at.astimezone(dt.UTC).isoformat(), "lang": lang, "translation_lang": translation_lang,
            "request_id": request_id, f"{kind}_sha256": hashlib.sha256(request_bytes).hexdigest(), kind: document,
            **({"kind": kind} if kind != "request" else {}),  # a request's seal is as it always was
            "labels": element_labels(document, [lang] + ([translation_lang] if translation_lang else [])),
            "pages": [{"lines": text[i], "digest": page_digest} for i, page_digest in enumerate(read.digests)],
            "document_digest": read.document_digest,
        }
        token = jws.serialize_compact({"alg": SIGNATURE_ALG, "kid": kid, "typ": JWS_TYPE}, canonical_json(payload),
                                      identity.signing_okp(), registry=REGISTRY)
        return _embed(doc, request_bytes, token.encode("ascii"), signed_at, kind)


def _embed(doc: pikepdf.Pdf, request_bytes: bytes, signature: bytes, at: dt.datetime,
           kind: SealedKind = "request") -> bytes:
    """Both files as PDF/A-3 associated files: in the catalog's /AF and its /EmbeddedFiles name
    tree, each with its MIME type, relationship, size and date (ISO 19005-3 §6.8); the XMP metadata
    (pdfaid:part 3) is left as it is. The pages are not touched."""
    date = encode_pdf_date(at)
    filename, noun = EMBEDDED[kind]
    files = ((filename, request_bytes, "application/json", pikepdf.Name.Source,
              f"The {noun} this document shows (canonical JSON, RFC 8785)"),
             (SIGNATURE_FILE, signature, "application/jose", pikepdf.Name.Supplement,
              f"The issuing node's seal: a JWS (Ed25519) over the {noun} and the pages"))
    associated = doc.Root.get("/AF")
    af = pikepdf.Array(associated) if isinstance(associated, pikepdf.Array) else pikepdf.Array()
    for name, data, mime, relationship, description in files:
        spec = pikepdf.AttachedFileSpec(doc, data, description=description, filename=name, mime_type=mime,
                                        creation_date=date, mod_date=date)
        spec.relationship = relationship  # /AFRelationship (the stub lacks the keyword)
        doc.attachments[name] = spec
        af.append(spec.obj)
    doc.Root.AF = af
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# --------------------------------------------------------------------------- verifying
def _b64json(part: bytes) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4)))


def verify_pdf(pdf: bytes, *, trust: Trust) -> Verification:
    """Check a document's seal against `trust` (the keys of the trusted nodes, this node's own
    among them) and the document against its seal. NotAPdf if the file cannot be read at all."""
    read = _read(pdf)
    files = read.files
    signatures = files.get(SIGNATURE_FILE, [])
    if not signatures:
        return Verification("not_sealed", "the document carries no evidex seal (no signature.jws attached)")
    damaged = Verification("altered", "the seal is damaged: it cannot be read",
                           differences=[Difference("signature", "the seal (signature.jws) cannot be read as a JWS")])
    if len(signatures) > 1:
        return dataclasses.replace(damaged, detail="the document carries more than one seal",
                                   differences=[Difference("signature", "more than one signature.jws is attached")])
    token = signatures[0].strip()
    try:  # read before the signature is checked: which key to check it with
        head, body, _sig = token.split(b".")
        header, claimed = _b64json(head), _b64json(body)
        party, kid = claimed["party"], header["kid"]
        signed_at = dt.datetime.fromisoformat(claimed["signed_at"])
        if (not isinstance(party, str) or not _PARTY.match(party) or not isinstance(kid, str)
                or signed_at.tzinfo is None or header.get("alg") != SIGNATURE_ALG):
            raise ValueError("not a seal")
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error, RecursionError):
        return damaged
    signer = Verification("altered", "", party=party, authority=_text_or_none(claimed.get("authority")),
                          signed_at=signed_at, kid=kid)
    try:
        key = trust.signing_key(party, kid, signed_at)
    except (RevokedKey, ExpiredKey) as e:
        return dataclasses.replace(signer, status="unknown_signer",
                                   detail=f"the key that sealed it is not trusted for that time: {e}")
    except EnvelopeRejected:
        return dataclasses.replace(signer, status="unknown_signer",
                                   detail=f"the key that sealed it ({kid[:12]}…) is not in the trust list as a key "
                                          f"of {party}'s node")
    try:
        verified = jws.deserialize_compact(token, key, registry=REGISTRY)
        if verified.headers().get("typ") != JWS_TYPE:
            raise ValueError("not a document seal")
    except (JoseError, ValueError):
        return dataclasses.replace(
            signer, detail="the seal's signature does not verify: the seal was changed after signing",
            differences=[Difference("signature", "the seal's signature does not verify: it was changed after signing")])
    seal: dict[str, Any] = claimed  # the bytes verified are the ones read above
    if seal.get("typ") != SEAL_TYPE or seal.get("version") != SEAL_VERSION or not isinstance(seal.get("pages"), list):
        return dataclasses.replace(
            signer, detail="what is attached as the seal is not an evidex document seal",
            differences=[Difference("signature", "signature.jws is signed, but not as the seal of a document "
                                                 "(another kind of signed message)")])
    kind: SealedKind = "letter" if seal.get("kind") == "letter" else "request"  # no kind: a request (the first seals)
    filename, noun = EMBEDDED[kind]
    embedded = seal.get(kind)
    embedded = embedded if isinstance(embedded, dict) else {}
    # A letter names the request it answers; a request is itself.
    request = embedded.get("request") if kind == "letter" else embedded
    request = request if isinstance(request, dict) else {}
    about = dataclasses.replace(
        signer, lang=_text_or_none(seal.get("lang")), translation_lang=_text_or_none(seal.get("translation_lang")),
        request_type=_text_or_none(request.get("type")), reference=_text_or_none(request.get("case_reference")),
        request_id=_text_or_none(seal.get("request_id")), kind=kind,
        letter=_text_or_none(embedded.get("letter")) if kind == "letter" else None)
    differences = _request_differences(seal.get(kind), files.get(filename, []), kind)
    differences += _page_differences(read, seal, embedded)
    if not differences:
        return dataclasses.replace(about, status="valid",
                                   detail=f"sealed by the node of {party}; the {noun} and every page are as signed")
    return dataclasses.replace(about, detail=f"the document differs from what the node of {party} sealed",
                               differences=differences[:MAX_DIFFERENCES],
                               more_differences=max(0, len(differences) - MAX_DIFFERENCES))


def _text_or_none(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _short(text: str) -> str:
    return text if len(text) <= _QUOTE else text[:_QUOTE - 1] + "…"


def _value_text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True)


def _request_differences(signed: Any, embedded: list[bytes], kind: SealedKind = "request") -> list[Difference]:
    """What differs between the signed request (or letter) and the one embedded. The kinds stay
    `request` and `request_field` for a letter too: the embedded document, whichever it is."""
    filename, noun = EMBEDDED[kind]
    if not embedded:
        return [Difference("request", f"the embedded {noun} ({filename}) was removed")]
    if len(embedded) > 1:
        return [Difference("request", f"more than one {filename} is attached")]
    if embedded[0] == canonical_json(signed):
        return []
    try:
        found = json.loads(embedded[0])
    except (ValueError, RecursionError):
        return [Difference("request", f"the embedded {noun} ({filename}) is not the signed one: it is not even JSON")]
    if not isinstance(found, dict) or not isinstance(signed, dict):
        return [Difference("request", f"the embedded {noun} ({filename}) is not the signed one")]
    changed: list[Difference] = []
    for path, was, now in _field_changes(signed, found, nested=kind == "letter"):
        what = "added" if was is None else "removed" if now is None else "changed"
        changed.append(Difference("request_field", f"the embedded {noun}'s {path} was {what}", field=path,
                                  signed=None if was is None else _short(_value_text(was)),
                                  found=None if now is None else _short(_value_text(now))))
    if not changed:  # the same values, written otherwise (not the canonical bytes signed)
        changed.append(Difference("request", f"the embedded {noun} ({filename}) is not written as it was signed"))
    return changed


def _field_changes(signed: dict[str, Any], found: dict[str, Any], *,
                   nested: bool = False) -> Iterator[tuple[str, Any, Any]]:
    """(path, signed value, found value) of each top-level field, and each element, that differs; with
    `nested` (a letter: its decision, request, event ...), each field of every object at the top."""
    for key in sorted(set(signed) | set(found)):
        was, now = signed.get(key), found.get(key)
        if (key == "elements" or nested) and isinstance(was, dict) and isinstance(now, dict):
            for name in sorted(set(was) | set(now)):
                if was.get(name) != now.get(name):
                    yield f"{key}.{name}", was.get(name), now.get(name)
        elif was != now:
            yield key, was, now


@dataclass(frozen=True)
class _Source:
    path: str
    text: str  # normalised as lines_of
    label: str | None = None


def _sources(request: dict[str, Any], labels: Any) -> tuple[list[_Source], list[_Source]]:
    """What a line can belong to: (element labels, field values), each normalised."""
    by_label: list[_Source] = []
    if isinstance(labels, dict):
        for name, words in labels.items():
            for word in words if isinstance(words, list) else []:
                if isinstance(word, str) and (text := " ".join(lines_of(word))):
                    by_label.append(_Source(f"elements.{name}", text, " ".join(lines_of(str(words[0])))))
    values: list[_Source] = []

    def walk(path: str, v: Any) -> None:
        if isinstance(v, dict):
            for k, item in v.items():
                walk(f"{path}.{k}" if path else str(k), item)
        elif isinstance(v, list):
            for item in v:
                walk(path, item)
        elif isinstance(v, str) and len(text := " ".join(lines_of(v))) >= 3:
            values.append(_Source(path, text))

    for key, v in request.items():
        if key == "elements" and isinstance(v, dict):
            for name, item in v.items():
                words = labels.get(name) if isinstance(labels, dict) else None
                label = words[0] if isinstance(words, list) and words and isinstance(words[0], str) else None
                for s in _strings(item):
                    if len(text := " ".join(lines_of(s))) >= 3:
                        values.append(_Source(f"elements.{name}", text, label))
        else:
            walk(str(key), v)
    return by_label, values


def _strings(v: Any) -> Iterator[str]:
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for item in v.values():
            yield from _strings(item)
    elif isinstance(v, list):
        for item in v:
            yield from _strings(item)


def _belongs(line: str, sources: tuple[list[_Source], list[_Source]]) -> _Source | None:
    """The element (or field) a line shows: its label printed on the line, else its value holding the
    line (a wrapped value spans lines), else the line holding the value."""
    by_label, values = sources
    labelled = [s for s in by_label if s.text in line]
    if labelled:
        return max(labelled, key=lambda s: len(s.text))
    holding = [s for s in values if len(line) >= 3 and (line in s.text or s.text in line)]
    return max(holding, key=lambda s: min(len(s.text), len(line))) if holding else None


def _where(source: _Source | None) -> str:
    if source is None:
        return ""
    if source.path.startswith("elements."):
        name = source.path.removeprefix("elements.")
        return f" (the element {name}" + (f', "{source.label}")' if source.label else ")")
    return f" (the field {source.path})"


def _page_differences(read: _Read, seal: dict[str, Any], request: dict[str, Any]) -> list[Difference]:
    pages: list[Any] = seal["pages"]
    digests, document_digest = read.digests, read.document_digest
    out: list[Difference] = []
    if len(digests) != len(pages):
        out.append(Difference("page_count", f"the document has {len(digests)} pages; {len(pages)} were signed",
                              signed=str(len(pages)), found=str(len(digests))))
    if document_digest != seal.get("document_digest"):
        out.append(Difference("document", "the document's layers, form fields or actions differ from those signed"))
    changed = [i for i in range(max(len(digests), len(pages)))
               if i >= len(digests) or i >= len(pages) or not isinstance(pages[i], dict)
               or pages[i].get("digest") != digests[i]]
    if not changed:
        return out
    sources = _sources(request, seal.get("labels"))
    texts = _page_lines(read.pdf, [i for i in changed if i < len(digests)]) if read.readable else {}
    for i in changed:
        if i >= len(digests):
            out.append(Difference("page_missing", f"page {i + 1} was signed but is missing", page=i + 1))
            continue
        found = texts.get(i)
        if i >= len(pages):
            first = found[0] if found else ""
            out.append(Difference("page_added", f'page {i + 1} was not signed' + (f' (it begins "{_short(first)}")'
                                                                                  if first else ""),
                                  page=i + 1, found=_short(first) if found is not None else None))
            continue
        was = pages[i].get("digest") if isinstance(pages[i], dict) else None
        parts = tuple(k for k in COMPONENTS if not isinstance(was, dict) or was.get(k) != digests[i].get(k))
        words = ", ".join(COMPONENTS[k] for k in parts) or "contents"
        if found is None:  # its text is not read (see _decoded): what changed is said by part
            out.append(Difference("appearance", f"page {i + 1}: its {words} differ from those signed, and its text "
                                                "is encoded in a way evidex's documents never are: it is not read",
                                  page=i + 1, parts=parts))
            continue
        signed = [str(x) for x in pages[i].get("lines", [])] if isinstance(pages[i], dict) else []
        lines = _line_differences(i + 1, signed, found, sources)
        if lines:
            out += lines
            continue
        out.append(Difference("appearance", f"page {i + 1}: the text reads as signed, but its {words} differ "
                                            f"from those signed: what it shows may differ", page=i + 1, parts=parts))
    return out


def _line_differences(page: int, signed: list[str], found: list[str],
                      sources: tuple[list[_Source], list[_Source]]) -> list[Difference]:
    out: list[Difference] = []

    def add(old: str | None, new: str | None) -> None:
        source = _belongs(old, sources) if old is not None else None
        if source is None and new is not None:
            source = _belongs(new, sources)
        kind: DifferenceKind
        if old is not None and new is not None:
            kind, message = "line_changed", f'page {page}: "{_short(old)}" now reads "{_short(new)}"'
        elif old is not None:
            kind, message = "line_removed", f'page {page}: the signed line "{_short(old)}" is missing'
        else:
            kind, message = "line_added", f'page {page}: a line was added: "{_short(new or "")}"'
        out.append(Difference(kind, message + _where(source), page=page, field=source.path if source else None,
                              label=source.label if source else None,
                              signed=_short(old) if old is not None else None,
                              found=_short(new) if new is not None else None))

    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(None, signed, found, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        old, new = signed[a1:a2], found[b1:b2]
        for k in range(max(len(old), len(new))):
            add(old[k] if k < len(old) else None, new[k] if k < len(new) else None)
    return out
