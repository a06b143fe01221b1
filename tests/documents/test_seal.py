"""The seal of an official document (documents/seal.py): what it embeds, and what the verifier says
of a document as sealed, with a visible field, an attachment, the seal, a page's drawing, font or
annotations changed, signed by a key outside the trust list, not sealed, or not a PDF at all."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import zlib

import pikepdf
import pikepdf.pdfa
import pytest

from evidex.core.canonical import canonical_json
from evidex.documents.seal import (
    MAX_PDF_BYTES,
    REQUEST_FILE,
    SIGNATURE_FILE,
    NotAPdf,
    seal_pdf,
    verify_pdf,
    visible_text,
)
from evidex.exchange import keys
from evidex.exchange.service import sign_claims
from tests.documents import pdfs
from tests.documents.pdfs import AUTHORITY, ME, RS, SIGNED_AT, example, render, sealed, trust


@pytest.fixture(scope="module")
def original() -> bytes:
    return sealed(request_id="3f0c2f4e-0000-4000-8000-000000000001")


def test_a_sealed_document_verifies_as_valid_naming_its_signer(original: bytes) -> None:
    v = verify_pdf(original, trust=trust(RS, ME))
    assert v.status == "valid" and v.valid, v
    assert (v.party, v.authority, v.signed_at, v.kid) == ("RS", AUTHORITY, SIGNED_AT, RS.signing_jwk["kid"])
    assert (v.request_type, v.reference, v.lang, v.translation_lang) == (
        "emergency_disclosure", "VTK-HIT-31/2026", "en", None)
    assert v.request_id == "3f0c2f4e-0000-4000-8000-000000000001" and v.differences == []
    assert json.loads(json.dumps(v.as_json()))["status"] == "valid"


def test_sealing_keeps_the_pages_and_makes_valid_pdfa3_associated_files(original: bytes) -> None:
    doc = example()
    assert visible_text(original) == visible_text(render(doc))  # the pages are not touched
    with pikepdf.open(io.BytesIO(original)) as p:
        assert sorted(p.attachments) == [REQUEST_FILE, SIGNATURE_FILE]
        associated = list(p.Root.AF)
        tree = list(p.Root.Names.EmbeddedFiles.Names)
        assert [str(x.F) for x in associated] == [REQUEST_FILE, SIGNATURE_FILE]
        assert {x.objgen for x in associated} == {x.objgen for x in tree[1::2]}  # one object, listed twice
        for spec, relationship, mime in zip(associated, ("/Source", "/Supplement"),
                                            ("/application/json", "/application/jose"), strict=True):
            assert spec.Type == "/Filespec" and spec.AFRelationship == relationship and str(spec.UF) == str(spec.F)
            assert str(spec.Desc)
            stream = spec.EF.F
            assert stream.Type == "/EmbeddedFile" and stream.Subtype == mime
            assert int(stream.Params.Size) == len(stream.read_bytes())
            assert str(stream.Params.ModDate).startswith("D:20261123093000")
        assert p.Root.AF[0].EF.F.read_bytes() == canonical_json(doc)  # the request, canonical (RFC 8785)
        meta = p.open_metadata()
        assert (meta.get("pdfaid:part"), meta.get("pdfaid:conformance")) == ("3", "B")
        after = {(f.rule, f.message) for f in pikepdf.pdfa.check(p, "3b").findings}
    with pikepdf.open(io.BytesIO(render(doc))) as p:
        before = {(f.rule, f.message) for f in pikepdf.pdfa.check(p, "3b").findings}
    # pikepdf's allowlist validator (PDF/A-3b) finds nothing the seal added (what it reports of
    # WeasyPrint's own output, if anything, is the renderer's), and it does check associated files:
    assert after == before
    with pikepdf.open(io.BytesIO(original)) as p:
        del p.Root.AF[0].AFRelationship
        assert "ISO_19005_3:6.8-3" in {f.rule for f in pikepdf.pdfa.check(p, "3b").findings}


def test_the_signature_is_an_ed25519_jws_over_the_request_and_the_lines(original: bytes) -> None:
    from joserfc import jws
    from joserfc.jwk import OKPKey

    token = pdfs.attachment(original, SIGNATURE_FILE)
    signed = jws.deserialize_compact(token, OKPKey.import_key(RS.signing_jwk), algorithms=["Ed25519"])
    assert signed.headers() == {"alg": "Ed25519", "kid": RS.signing_jwk["kid"], "typ": "evidex-seal+jws"}
    claims = json.loads(signed.payload)
    assert claims["request_sha256"] == hashlib.sha256(canonical_json(example())).hexdigest()
    assert claims["request"] == example() and claims["authority"] == AUTHORITY
    assert claims["pages"][0]["lines"] == visible_text(original)[0]
    assert claims["labels"]["offence"] == ["The offence that is the subject of the investigation or proceeding"]


@pytest.mark.parametrize("lang", ["en", "sr-Cyrl"])
def test_one_visible_field_changed_is_named_with_its_element(lang: str) -> None:
    doc = example()
    old = sealed(doc, lang=lang)
    changed = {**doc, "elements": {**doc["elements"], "offence": "Theft of a bicycle"}}
    forged = pdfs.with_seal_of(render(changed, lang), old)  # rendered anew, under the old seal
    v = verify_pdf(forged, trust=trust(RS))
    assert v.status == "altered", v
    lines = [d for d in v.differences if d.kind == "line_changed"]
    assert len(lines) == 1, v.differences
    d = lines[0]
    assert (d.page, d.signed, d.found, d.field) == (1, "Sexual extortion of a child", "Theft of a bicycle",
                                                    "elements.offence")
    from evidex.requests.texts import default_texts

    assert d.label == default_texts().element_label("emergency_disclosure", "offence", lang)
    assert "Theft of a bicycle" in d.message and "offence" in d.message
    assert all(x.kind == "line_changed" for x in v.differences)  # the request itself is as signed


def test_one_attachment_byte_changed_names_the_request_fields(original: bytes) -> None:
    body = pdfs.attachment(original, REQUEST_FILE)
    i = body.index(b"VTK-HIT-31/2026")
    forged = pdfs.replace_attachment(original, REQUEST_FILE, body[:i] + b"X" + body[i + 1:])
    v = verify_pdf(forged, trust=trust(RS))
    assert v.status == "altered"
    assert [(d.kind, d.field, d.signed, d.found) for d in v.differences] == [
        ("request_field", "case_reference", "VTK-HIT-31/2026", "XTK-HIT-31/2026")]
    # the same values written otherwise are not what was signed either
    pretty = json.dumps(example(), indent=2).encode()
    v = verify_pdf(pdfs.replace_attachment(original, REQUEST_FILE, pretty), trust=trust(RS))
    assert v.status == "altered" and [d.kind for d in v.differences] == ["request"]
    assert verify_pdf(pdfs.replace_attachment(original, REQUEST_FILE, b"\xff{"), trust=trust(RS)).status == "altered"
    v = verify_pdf(pdfs.remove_attachment(original, REQUEST_FILE), trust=trust(RS))
    assert v.status == "altered" and "removed" in v.differences[0].message


def test_one_byte_of_the_seal_changed_is_altered(original: bytes) -> None:
    token = pdfs.attachment(original, SIGNATURE_FILE)
    payload_start = token.index(b".") + 10
    for i in (payload_start, len(token) - 5):  # in the signed payload, in the signature
        flipped = token[:i] + (b"A" if token[i:i + 1] != b"A" else b"B") + token[i + 1:]
        v = verify_pdf(pdfs.replace_attachment(original, SIGNATURE_FILE, flipped), trust=trust(RS))
        assert v.status == "altered" and v.differences[0].kind == "signature", v
    v = verify_pdf(pdfs.replace_attachment(original, SIGNATURE_FILE, b"not a jws"), trust=trust(RS))
    assert v.status == "altered" and v.differences[0].kind == "signature"


def test_a_key_outside_the_trust_list_is_an_unknown_signer_never_valid(original: bytes) -> None:
    v = verify_pdf(original, trust=trust(ME))
    assert (v.status, v.party, v.authority, v.kid) == ("unknown_signer", "RS", AUTHORITY, RS.signing_jwk["kid"])
    forger = keys.generate("RS", "https://forger.example")  # claims to be Serbia's node, with a key of its own
    v = verify_pdf(sealed(identity=forger), trust=trust(RS, ME))
    assert (v.status, v.party) == ("unknown_signer", "RS") and "not in the trust list" in v.detail
    # a trusted key of another Party cannot speak for RS: keys are the Party's own
    claims_rs = keys.NodeIdentity(party="RS", url="", signing=ME.signing, encryption=ME.encryption)
    assert verify_pdf(sealed(identity=claims_rs), trust=trust(RS, ME)).status == "unknown_signer"


def test_a_revoked_key_verifies_what_it_sealed_before_its_revocation_only() -> None:
    revoked = trust(RS, revoked_at=SIGNED_AT + dt.timedelta(days=1))
    assert verify_pdf(sealed(), trust=revoked).status == "valid"
    late = verify_pdf(sealed(signed_at=SIGNED_AT + dt.timedelta(days=2)), trust=revoked)
    assert late.status == "unknown_signer" and "revoked" in late.detail


def test_another_signed_message_of_the_node_is_not_a_seal(original: bytes) -> None:
    receipt = sign_claims(RS, "delivery", {"party": "RS", "signed_at": SIGNED_AT.isoformat(), "pages": []})
    v = verify_pdf(pdfs.replace_attachment(original, SIGNATURE_FILE, receipt.encode()), trust=trust(RS))
    assert v.status == "altered" and v.differences[0].kind == "signature"


def test_what_is_drawn_over_a_page_is_altered_though_its_text_reads_the_same(original: bytes) -> None:
    white_box = pdfs.draw_over(original, b"q 1 1 1 rg 50 600 500 40 re f Q")
    note = pdfs.annotate(original, "Offence: Theft of a bicycle")
    font = pdfs.change_font(original)
    for forged, part in ((white_box, "content"), (note, "annotations"), (font, "fonts")):
        assert visible_text(forged) == visible_text(original)
        v = verify_pdf(forged, trust=trust(RS))
        assert v.status == "altered", part
        assert [(d.kind, d.page) for d in v.differences] == [("appearance", 1)]
        assert part in v.differences[0].parts


def test_a_page_added_or_removed_is_said(original: bytes) -> None:
    with pikepdf.open(io.BytesIO(original)) as p:
        p.pages.append(p.pages[0])
        out = io.BytesIO()
        p.save(out)
    v = verify_pdf(out.getvalue(), trust=trust(RS))
    assert v.status == "altered"
    assert [d.kind for d in v.differences] == ["page_count", "page_added"]
    assert v.differences[1].page == 2 and v.differences[1].found == visible_text(original)[0][0]


def test_a_document_written_anew_without_change_stays_valid(original: bytes) -> None:
    rewritten = pdfs.rewrite(original)
    assert rewritten != original
    assert verify_pdf(rewritten, trust=trust(RS)).status == "valid"


def test_a_pdf_without_the_seal_is_not_sealed() -> None:
    v = verify_pdf(render(example()), trust=trust(RS))
    assert (v.status, v.party, v.differences) == ("not_sealed", None, [])


def test_sealing_twice_or_a_request_that_is_not_json_is_refused(original: bytes) -> None:
    from evidex.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="already sealed"):
        seal_pdf(original, document=example(), lang="en", translation_lang=None, identity=RS, authority="x",
                 signed_at=SIGNED_AT)
    with pytest.raises(InvalidInput, match="canonical JSON"):
        seal_pdf(render(example()), document={"issued_on": dt.date(2026, 1, 1)}, lang="en", translation_lang=None,
                 identity=RS, authority="x", signed_at=SIGNED_AT)


def _encrypted() -> bytes:
    with pikepdf.open(io.BytesIO(render(example()))) as p:
        out = io.BytesIO()
        p.save(out, encryption=pikepdf.Encryption(owner="o", user="u"))
        return out.getvalue()


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "not_pdf"),
    (b"hello, I am a letter", "not_pdf"),
    (b"%PDF-1.7\n" + bytes(range(256)) * 40, "damaged"),
    (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF", "damaged"),
    (b"%PDF-" + b"0" * MAX_PDF_BYTES, "too_large"),
    ("truncated", "damaged"),
    ("encrypted", "encrypted"),
])
def test_what_is_not_a_readable_pdf_is_one_clear_error(data: bytes | str, reason: str, original: bytes) -> None:
    pdf = original[: len(original) // 3] if data == "truncated" else _encrypted() if data == "encrypted" else data
    assert isinstance(pdf, bytes)
    with pytest.raises(NotAPdf) as raised:
        verify_pdf(pdf, trust=trust(RS))
    assert raised.value.reason == reason and "\n" not in str(raised.value)


def test_a_small_file_that_would_decode_into_hundreds_of_megabytes_is_refused() -> None:
    packer = zlib.compressobj(9)
    bomb = b"".join(packer.compress(bytes(1 << 20)) for _ in range(200)) + packer.flush()  # 200 MB in 0.2 MB
    with pikepdf.open(io.BytesIO(render(example()))) as p:
        spec = pikepdf.AttachedFileSpec(p, b"x", filename=SIGNATURE_FILE)
        p.attachments[SIGNATURE_FILE] = spec
        spec.get_file().obj.write(bomb, filter=pikepdf.Name.FlateDecode)
        out = io.BytesIO()
        p.save(out)
    with pytest.raises(NotAPdf) as raised:
        verify_pdf(out.getvalue(), trust=trust(RS))
    assert raised.value.reason == "too_large"


def test_a_verification_is_a_plain_value() -> None:
    v = verify_pdf(sealed(), trust=trust(RS))
    assert dataclasses.replace(v).as_json() == v.as_json()
