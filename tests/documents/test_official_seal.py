"""Official documents as the renderer makes them, sealed by the issuing Party's node (issue 15, "What it
must show"): PDF/A-3 as far as a validator on these machines can tell; one visible field changed, one
byte of the embedded request changed, or a seal by a key outside the trust list, each answered as such;
`evidex verify` (the real command) says valid; only the issuing Party's node seals, and not a draft."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pikepdf
import pikepdf.pdfa
import pytest

from evidex.documents.seal import REQUEST_FILE, verify_pdf
from evidex.documents.service import document_from_file, sealer
from evidex.documents.sheet import Stored
from evidex.exchange import keys
from evidex.rules.document import parse_document
from tests.conftest import load_example, run_cli
from tests.documents import pdfs
from tests.documents.conftest import AS_OF, NOW
from tests.documents.pdfs import VALID_FROM, VALID_UNTIL, trust

pytestmark = pytest.mark.slow  # renders and a subprocess

RS = keys.generate("RS", "https://rs.example:8443")
ME = keys.generate("ME", "https://me.example:8443")
OFFENCE = "Sexual extortion of a child"  # the shipped emergency_disclosure example's offence

# What pikepdf's validator (the one PDF/A validator that installs here) cannot read, not violations: it
# knows no extension schema (ISO 19005-3 6.6.2.3.2), so the one declaring PDF/UA's identification
# (pdfuaid:part) is reported as four not-permitted namespaces and properties; and it does not check
# patterns and shadings (WeasyPrint's empty resource dictionaries).
NOT_UNDERSTOOD = ("pdfaExtension", "pdfaSchema", "pdfaProperty", "pdfuaid:part")


def official(law, lang: str = "en", identity: keys.NodeIdentity | None = RS, **elements: str):  # type: ignore[no-untyped-def]
    data = load_example("emergency_disclosure")
    data["elements"] = {**data["elements"], **elements}
    return document_from_file(law, data, now=NOW, lang=lang, as_of=AS_OF, identity=identity)


@pytest.fixture(scope="module")
def original(law) -> bytes:  # type: ignore[no-untyped-def]
    doc = official(law, "sr-Cyrl")
    assert doc.sealed and OFFENCE in json.dumps(doc.document, ensure_ascii=False)
    return doc.pdf


def test_a_sealed_official_document_has_no_pdfa_3b_violation_the_validator_can_see(original: bytes) -> None:
    with pikepdf.open(io.BytesIO(original)) as pdf:
        report = pikepdf.pdfa.check(pdf, "3b")
    violations = [f for f in report.findings if f.kind == "violation"
                  and not any(word in f.message for word in NOT_UNDERSTOOD)]
    assert not violations, violations
    assert any(f.kind == "unsupported" for f in report.findings) or report.findings == []


def test_one_visible_field_changed_says_altered_naming_the_element(law, original: bytes) -> None:  # type: ignore[no-untyped-def]
    forged = pdfs.with_seal_of(official(law, "sr-Cyrl", identity=None, offence="Theft of a bicycle").pdf, original)
    v = verify_pdf(forged, trust=trust(RS))
    assert v.status == "altered"
    named = [d for d in v.differences if d.field == "elements.offence"]
    assert named and named[0].found is not None and "Theft of a bicycle" in named[0].found, v.differences
    assert named[0].label == law.texts.element_label("emergency_disclosure", "offence", "sr-Cyrl")


def test_one_byte_of_the_embedded_request_changed_says_altered_naming_the_field(original: bytes) -> None:
    body = pdfs.attachment(original, REQUEST_FILE)
    i = body.index(OFFENCE.encode())
    forged = pdfs.replace_attachment(original, REQUEST_FILE, body[:i] + b"T" + body[i + 1:])
    v = verify_pdf(forged, trust=trust(RS))
    assert v.status == "altered"
    assert [(d.kind, d.field) for d in v.differences] == [("request_field", "elements.offence")]


def test_a_key_outside_the_trust_list_is_an_unknown_signer(original: bytes) -> None:
    v = verify_pdf(original, trust=trust(ME))
    assert (v.status, v.party) == ("unknown_signer", "RS")


def test_evidex_verify_says_valid_for_a_rendered_document(original: bytes, tmp_path: Path) -> None:
    node = tmp_path / "RS-node.json"
    node.write_text(json.dumps(RS.public_document(VALID_FROM, VALID_UNTIL)), encoding="utf-8")
    (tmp_path / "request.pdf").write_bytes(original)
    r = run_cli("verify", str(tmp_path / "request.pdf"), "--trust", str(node))
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.startswith("VALID: sealed by the node of RS")


def test_only_the_issuing_partys_node_seals_and_never_a_draft(law) -> None:  # type: ignore[no-untyped-def]
    doc, _ = parse_document(json.loads(json.dumps(load_example("emergency_disclosure"), default=str)))
    assert doc.requesting_party == "RS"
    assert sealer(RS, doc, None) is RS
    assert sealer(ME, doc, None) is None  # ME's node holds it as received: the other Party's document
    assert sealer(None, doc, None) is None  # no node keys
    assert sealer(RS, doc, Stored(request_id="x", status="draft", direction="outgoing", conditions=[])) is None
    assert sealer(RS, doc, Stored(request_id="x", status="sent", direction="outgoing", conditions=[])) is RS
    assert sealer(RS, doc, Stored(request_id="x", status="received", direction="incoming", conditions=[])) is None
    unsealed = official(law, identity=ME)
    assert not unsealed.sealed and verify_pdf(unsealed.pdf, trust=trust(RS, ME)).status == "not_sealed"
