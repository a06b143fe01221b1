"""How the seal reads a PDF (documents/seal.py): the digests of what draws each page computed as they
always were (a document sealed before the text was read by PDFium still verifies), the text read as
the page shows it, the streams decoded within limits whatever their filter, and the seal safe to make
from several threads at once (PDFium is not thread-safe)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
import json
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pikepdf
import pytest
from weasyprint import HTML

from evidex.core.errors import InvalidInput
from evidex.documents.seal import NotAPdf, seal_pdf, verify_pdf, visible_text
from evidex.exchange.trust import PeerKey, TrustList
from tests.documents import pdfs
from tests.documents.pdfs import AUTHORITY, RS, SIGNED_AT, example, sealed, trust

DATA = Path(__file__).parent / "data"


def _old_trust() -> TrustList:
    key = json.loads((DATA / "sealed-2026-11.key.json").read_text("utf-8"))
    return TrustList([PeerKey(key["party"], key["signing_jwk"], pdfs.VALID_FROM, pdfs.VALID_UNTIL, None)])


def test_a_document_sealed_in_november_2026_still_verifies_and_its_changes_are_still_seen() -> None:
    """Sealed by evidex as it was before this reading (the text by pypdf): its page digests are the same
    computation, so it is valid, and a box drawn over a line, or another seal's pages, is still seen."""
    old = (DATA / "sealed-2026-11.pdf").read_bytes()
    v = verify_pdf(old, trust=_old_trust())
    assert (v.status, v.party, v.lang, v.request_type) == ("valid", "RS", "sr-Cyrl", "mutual_assistance"), v
    assert verify_pdf(pdfs.rewrite(old), trust=_old_trust()).status == "valid"
    boxed = verify_pdf(pdfs.draw_over(old, b"q 1 1 1 rg 50 600 500 40 re f Q"), trust=_old_trust())
    assert boxed.status == "altered" and [(d.kind, d.parts) for d in boxed.differences] == [("appearance", ("content",))]
    assert verify_pdf(old, trust=trust(RS)).status == "unknown_signer"


def _narrow(text: str) -> bytes:
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>t</title>'
            f'<style>@page {{ size: A6 }} p {{ width: 3.2cm; font-family: sans-serif }}</style></head>'
            f"<body><p>{text}</p></body></html>")
    pdf: bytes = HTML(string=page).write_pdf(pdf_variant="pdf/a-3b")
    return pdf


def test_the_text_is_read_line_by_line_as_the_page_shows_it() -> None:
    """A hyphen that ends a line stays a hyphen at the end of that line (PDFium would join the word),
    and no line carries a control character."""
    lines = visible_text(_narrow("Special Prosecutor's Office for High-Tech Crime in Belgrade"))[0]
    assert "".join(lines).replace(" ", "") == "SpecialProsecutor'sOfficeforHigh-TechCrimeinBelgrade"
    assert len(lines) > 2 and any(line.endswith("High-") for line in lines), lines
    assert all(c.isprintable() for line in lines for c in line)
    cyrillic = visible_text(_narrow("Посебно тужилаштво за високотехнолошки криминал, Београд"))[0]
    assert " ".join(cyrillic) == "Посебно тужилаштво за високотехнолошки криминал, Београд"


def _recoded(pdf: bytes, filters: list[str], encode: object) -> bytes:
    """`pdf` with each page's drawing instructions written again with `filters` (what it draws is the same)."""
    with pikepdf.open(io.BytesIO(pdf)) as p:
        for page in p.pages:
            data = page.obj.Contents.read_bytes() if isinstance(page.obj.Contents, pikepdf.Stream) else b"".join(
                c.read_bytes() for c in page.obj.Contents)
            stream = pikepdf.Stream(p, encode(data))  # type: ignore[operator]
            stream.Filter = pikepdf.Array([pikepdf.Name(f) for f in filters])
            page.obj.Contents = p.make_indirect(stream)
        out = io.BytesIO()
        p.save(out, compress_streams=False)
        return out.getvalue()


def _run_length(data: bytes) -> bytes:
    out = bytearray()
    for i in range(0, len(data), 128):
        chunk = data[i:i + 128]
        out += bytes([len(chunk) - 1]) + chunk
    return bytes(out + b"\x80")


def test_what_a_page_draws_written_with_other_filters_reads_the_same_or_is_said_unread() -> None:
    original = sealed()
    # ASCII85 and hexadecimal around Flate: decoded, the same drawing: as signed
    for filters, encode in ((["/ASCII85Decode", "/FlateDecode"], lambda d: base64.a85encode(zlib.compress(d)) + b"~>"),
                            (["/ASCIIHexDecode"], lambda d: binascii.hexlify(d) + b">")):
        v = verify_pdf(_recoded(original, filters, encode), trust=trust(RS))
        assert v.status == "valid", (filters, v)
    # run-length: evidex never writes it and does not decode it: altered, the page's text not read
    forged = _recoded(original, ["/RunLengthDecode"], _run_length)
    v = verify_pdf(forged, trust=trust(RS))
    assert v.status == "altered"
    assert [(d.kind, d.page, d.parts) for d in v.differences] == [("appearance", 1, ("content",))]
    assert "not read" in v.differences[0].message
    with pytest.raises(NotAPdf, match="cannot be read"):
        visible_text(forged)
    with pytest.raises(InvalidInput, match="cannot be read"):
        seal_pdf(_recoded(pdfs.render(example()), ["/RunLengthDecode"], _run_length), document=example(), lang="en",
                 translation_lang=None, identity=RS, authority=AUTHORITY, signed_at=SIGNED_AT)


def test_a_page_whose_drawing_would_decode_into_hundreds_of_megabytes_is_refused() -> None:
    packer = zlib.compressobj(9)
    bomb = b"".join(packer.compress(b"0 0 m " * (1 << 18)) for _ in range(140)) + packer.flush()  # ~200 MB
    with pikepdf.open(io.BytesIO(sealed())) as p:
        p.pages[0].obj.Contents = p.make_indirect(pikepdf.Stream(p, bomb))
        p.pages[0].obj.Contents.Filter = pikepdf.Name.FlateDecode
        out = io.BytesIO()
        p.save(out)
    assert len(out.getvalue()) < 2_000_000
    with pytest.raises(NotAPdf) as raised:
        verify_pdf(out.getvalue(), trust=trust(RS))
    assert raised.value.reason == "too_large"


def test_documents_sealed_from_several_threads_at_once_are_each_valid() -> None:
    """The node seals in its request threads; PDFium, which reads the text, is not thread-safe."""
    docs = [example(name) for name in ("emergency_disclosure", "preservation", "subscriber_order", "mutual_assistance")]
    one_by_one = [sealed(doc) for doc in docs]

    def seal(doc: dict[str, object]) -> bytes:
        return sealed(doc, signed_at=SIGNED_AT + dt.timedelta(minutes=1))  # type: ignore[arg-type]

    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(seal, docs * 3))
    for pdf, alone in zip(together, one_by_one * 3, strict=True):
        assert verify_pdf(pdf, trust=trust(RS)).status == "valid"
        assert visible_text(pdf) == visible_text(alone)
