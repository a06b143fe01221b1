"""POST /api/v1/verify: authenticated like every API route, answered to any Party and role (a
verification reads nothing the node holds), against the node's trust list and its own key; a PDF
in the body or in a form; bad input a problem document, never a 500; each verification audited."""

from __future__ import annotations

from typing import Any

from evidex.documents.seal import MAX_PDF_BYTES
from evidex.exchange import keys
from evidex.exchange import service as exchange
from evidex.parties.roles import Principal, Role
from tests.documents import pdfs
from tests.documents.conftest import verifications
from tests.documents.pdfs import AUTHORITY, ME, VALID_FROM, VALID_UNTIL, example, render, sealed
from tests.web.site import Site


def post_pdf(node: Site, pdf: bytes, headers: dict[str, str], form: bool = False) -> Any:
    if form:
        return node.client.post("/api/v1/verify", files={"file": ("document.pdf", pdf, "application/pdf")},
                                headers=headers)
    return node.client.post("/api/v1/verify", content=pdf, headers={**headers, "Content-Type": "application/pdf"})


def test_verifying_needs_a_token(node: Site) -> None:
    r = node.client.post("/api/v1/verify", content=sealed(), headers={"Content-Type": "application/pdf"})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert verifications(node) == []


def test_any_party_and_role_verifies_what_this_node_or_a_trusted_peer_sealed(node: Site) -> None:
    own = sealed(request_id="8c3e6f0a-0000-4000-8000-000000000002")
    rs = node.api_headers("RS", Role.central_authority)
    r = post_pdf(node, own, rs)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["party"], body["authority"], body["reference"]) == (
        "valid", "RS", AUTHORITY, "VTK-HIT-31/2026")
    assert body["request_id"] == "8c3e6f0a-0000-4000-8000-000000000002" and body["differences"] == []
    # another Party's provider: the answer is the same (the file is the caller's; nothing of the node's is read)
    provider = node.api_headers_of(*node.person("ME", Role.service_provider, provider="Primjer Chat d.o.o."))
    assert post_pdf(node, own, provider, form=True).json()["status"] == "valid"
    # a peer's document: unknown until its node is in the trust list, then valid
    peers = sealed(identity=ME)
    assert post_pdf(node, peers, rs).json()["status"] == "unknown_signer"
    with node.sessionmaker() as db:
        exchange.add_peer(db, document=ME.public_document(VALID_FROM, VALID_UNTIL), now=node.clock.now,
                          actor=Principal(None, "admin", "RS", Role.administrator))
    assert post_pdf(node, peers, rs).json()["status"] == "valid"
    # a read-only API token verifies too: a verification changes nothing
    read = node.client.post("/api/v1/tokens", json={"name": "provider portal", "scope": "read"}, headers=rs)
    assert read.status_code == 201, read.text
    assert post_pdf(node, own, {"Authorization": f"Bearer {read.json()['api_token']}"}).json()["status"] == "valid"
    audited = verifications(node)
    assert [(a["party"], a["channel"], a["result"], a["signer"]) for a in audited] == [
        ("RS", "api", "valid", "RS"), ("ME", "api", "valid", "RS"), ("RS", "api", "unknown_signer", "ME"),
        ("RS", "api", "valid", "ME"), ("RS", "api", "valid", "RS")]
    assert audited[1]["actor"].endswith("-me-service_provider") and audited[0]["request_id"].startswith("8c3e")


def test_what_differs_and_an_unknown_signer_are_answered(node: Site) -> None:
    headers = node.api_headers("RS", Role.contact_24_7)
    doc = example()
    forged = pdfs.with_seal_of(render({**doc, "elements": {**doc["elements"], "offence": "Theft of a bicycle"}}),
                               sealed(doc))
    body = post_pdf(node, forged, headers).json()
    assert body["status"] == "altered"
    assert [(d["kind"], d["field"], d["signed"], d["found"]) for d in body["differences"]] == [
        ("line_changed", "elements.offence", "Sexual extortion of a child", "Theft of a bicycle")]
    forger = sealed(identity=keys.generate("RS", "https://forger.example"))
    body = post_pdf(node, forger, headers).json()
    assert (body["status"], body["party"], body["authority"]) == ("unknown_signer", "RS", AUTHORITY)
    assert post_pdf(node, render(doc), headers).json()["status"] == "not_sealed"


def test_bad_input_is_a_problem_never_a_500(node: Site) -> None:
    headers = node.api_headers("RS", Role.central_authority)
    for body, content_type in ((b"hello", "application/pdf"), (b"%PDF-1.7\n\x00\x01", "application/pdf"),
                               (b"", "application/pdf"), (b"{}", "application/json")):
        r = node.client.post("/api/v1/verify", content=body, headers={**headers, "Content-Type": content_type})
        assert r.status_code == 422, (body, r.text)
        assert r.json()["code"] == "invalid_input" and r.json()["detail"]
    r = node.client.post("/api/v1/verify", files={"other": ("x.pdf", sealed(), "application/pdf")}, headers=headers)
    assert r.status_code == 422 and "file" in r.json()["detail"]
    r = node.client.post("/api/v1/verify", data={f"f{i}": "x" for i in range(6)},
                         files={"file": ("x.pdf", sealed(), "application/pdf")}, headers=headers)
    assert r.status_code == 422 and "form" in r.json()["detail"]  # Starlette's own 400, said as the API says it
    too_large = b"%PDF-" + b"0" * MAX_PDF_BYTES
    r = node.client.post("/api/v1/verify", content=too_large, headers={**headers, "Content-Type": "application/pdf"})
    assert r.status_code == 422 and "larger than 16 MB" in r.json()["detail"]
    r = node.client.post("/api/v1/verify", content=too_large + b"0" * 100_000,  # beyond the edge's limit: unread
                         headers={**headers, "Content-Type": "application/pdf"})
    assert r.status_code == 413
    audited = verifications(node)  # what was read and refused is recorded too
    assert [a["result"] for a in audited] == ["unreadable", "unreadable"]


def test_the_route_is_documented_in_openapi(node: Site) -> None:
    schema = node.client.get("/openapi.json").json()
    operation = schema["paths"]["/api/v1/verify"]["post"]
    assert set(operation["requestBody"]["content"]) == {"application/pdf", "multipart/form-data"}
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/VerificationRead")
    statuses = schema["components"]["schemas"]["VerificationRead"]["properties"]["status"]["enum"]
    assert statuses == ["valid", "altered", "unknown_signer", "not_sealed"]
    assert operation["security"]
