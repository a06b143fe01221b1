"""Official documents for the seal's tests, until the renderer (documents/render.py) is here: a small
HTML page per request rendered by WeasyPrint as PDF/A-3b — the heading, the reference, the issuing
authority, and each element under its label in the document's language — and the ways one may
tamper with a sealed one."""

from __future__ import annotations

import datetime as dt
import functools
import html
import io
import json
from typing import Any

import pikepdf
from weasyprint import HTML

from evidex.documents.seal import seal_pdf
from evidex.exchange import keys
from evidex.exchange.keys import NodeIdentity
from evidex.exchange.trust import PeerKey, TrustList
from evidex.requests.texts import default_texts
from tests.conftest import load_example

RS = keys.generate("RS", "https://rs.example:8443")
ME = keys.generate("ME", "https://me.example:8443")
SIGNED_AT = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)
AUTHORITY = "Ministry of Interior — High-Tech Crime Department, 24/7 point of contact"
VALID_FROM, VALID_UNTIL = dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2028, 1, 1, tzinfo=dt.UTC)


def example(name: str = "emergency_disclosure") -> dict[str, Any]:
    """A shipped example request as the node stores it (JSON: dates as text)."""
    loaded: dict[str, Any] = json.loads(json.dumps(load_example(name), default=str))
    return loaded


def trust(*identities: NodeIdentity, revoked_at: dt.datetime | None = None) -> TrustList:
    """A trust list holding the signing keys of `identities` (valid 2026–2027)."""
    return TrustList([PeerKey(i.party, i.signing_jwk, VALID_FROM, VALID_UNTIL, revoked_at) for i in identities])


def page_html(doc: dict[str, Any], lang: str = "en") -> str:
    texts = default_texts()
    e = html.escape
    rows = "".join(f"<dt>{e(texts.element_label(doc['type'], name, lang) or name)}</dt><dd>{e(str(value))}</dd>"
                   for name, value in doc.get("elements", {}).items())
    return (f'<!DOCTYPE html><html lang="{e(lang)}"><head><meta charset="utf-8"><title>{e(doc["case_reference"])}'
            f'</title><style>@page {{ size: A4; margin: 2cm }} body {{ font-family: sans-serif }}</style></head><body>'
            f"<h1>{e(texts.type_title(doc['type'], lang))}</h1>"
            f"<p>{e(doc['case_reference'])}</p><p>{e(doc['issuing_authority']['name'])}</p>"
            f"<dl>{rows}</dl></body></html>")


@functools.lru_cache(maxsize=32)
def _render(page: str) -> bytes:
    pdf: bytes = HTML(string=page).write_pdf(pdf_variant="pdf/a-3b")
    return pdf


def render(doc: dict[str, Any], lang: str = "en") -> bytes:
    return _render(page_html(doc, lang))


def sealed(doc: dict[str, Any] | None = None, *, identity: NodeIdentity = RS, lang: str = "en",
           signed_at: dt.datetime = SIGNED_AT, request_id: str | None = None) -> bytes:
    doc = doc or example()
    return seal_pdf(render(doc, lang), document=doc, lang=lang, translation_lang=None, identity=identity,
                    authority=AUTHORITY, signed_at=signed_at, request_id=request_id)


# --------------------------------------------------------------------------- tampering
def _save(pdf: pikepdf.Pdf) -> bytes:
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def attachment(pdf: bytes, name: str) -> bytes:
    with pikepdf.open(io.BytesIO(pdf)) as p:
        return bytes(p.attachments[name].get_file().read_bytes())


def replace_attachment(pdf: bytes, name: str, data: bytes) -> bytes:
    """The same document with the file `name` replaced by `data` (as one who edits the attachment would)."""
    with pikepdf.open(io.BytesIO(pdf)) as p:
        spec = p.attachments[name]
        spec.get_file().obj.write(data)
        return _save(p)


def remove_attachment(pdf: bytes, name: str) -> bytes:
    with pikepdf.open(io.BytesIO(pdf)) as p:
        del p.attachments[name]
        return _save(p)


def with_seal_of(pdf: bytes, sealed_pdf: bytes) -> bytes:
    """`pdf` carrying the attachments of `sealed_pdf`: a document rendered anew with other values, under
    the old seal."""
    with pikepdf.open(io.BytesIO(pdf)) as p:
        for name in ("request.json", "signature.jws"):
            p.attachments[name] = pikepdf.AttachedFileSpec(p, attachment(sealed_pdf, name), filename=name)
        return _save(p)


def draw_over(pdf: bytes, content: bytes, page: int = 0) -> bytes:
    """`content` (PDF drawing operators) drawn after the page's own: e.g. a white box over a line."""
    with pikepdf.open(io.BytesIO(pdf)) as p:
        p.pages[page].contents_add(pikepdf.Stream(p, content), prepend=False)
        return _save(p)


def annotate(pdf: bytes, text: str, page: int = 0) -> bytes:
    """A note laid over the page (a FreeText annotation): the page's own text is untouched."""
    with pikepdf.open(io.BytesIO(pdf)) as p:
        note = p.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.FreeText, Rect=[50, 600, 400, 640], F=4,
            Contents=pikepdf.String(text), DA=pikepdf.String("/Helv 12 Tf 0 g")))
        target = p.pages[page].obj
        if "/Annots" not in target:
            target.Annots = pikepdf.Array()
        target.Annots.append(note)
        return _save(p)


def change_font(pdf: bytes) -> bytes:
    """One byte of the first embedded font program changed: glyphs may draw otherwise while the text
    extracted (through the font's ToUnicode map) reads the same."""
    with pikepdf.open(io.BytesIO(pdf)) as p:
        for obj in p.objects:
            if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == pikepdf.Name.FontDescriptor:
                program = next(obj[k] for k in ("/FontFile2", "/FontFile3", "/FontFile") if k in obj)
                data = bytearray(program.read_bytes())
                data[-8] ^= 0x01
                program.write(bytes(data))
                return _save(p)
    raise AssertionError("no embedded font")


def rewrite(pdf: bytes) -> bytes:
    """The same document written anew by another program: streams recompressed, objects renumbered
    into object streams (what an archive may do without changing a thing it shows)."""
    with pikepdf.open(io.BytesIO(pdf)) as p:
        out = io.BytesIO()
        p.save(out, recompress_flate=True, object_stream_mode=pikepdf.ObjectStreamMode.generate,
               compress_streams=True)
        return out.getvalue()
