"""The public verification page (/verify): no sign-in, a CSRF token bound to the browser's
pre-session cookie, a limit per client address, the answer in the reader's language, each
verification audited (anonymous, with the client address)."""

from __future__ import annotations

import re
from typing import Any

from evidex.exchange import keys
from evidex.parties.roles import Role
from evidex.web.security import LANG_COOKIE
from tests.documents import pdfs
from tests.documents.conftest import VERIFY_LIMIT, verifications
from tests.documents.pdfs import AUTHORITY, example, render, sealed
from tests.web.site import Site


def upload(node: Site, pdf: bytes | None, *, token: str | None = None, name: str = "document.pdf") -> Any:
    data = {"csrf_token": token if token is not None else node.csrf("/verify")}
    files = {"file": (name, pdf, "application/pdf")} if pdf is not None else {"file": ("", b"", "application/pdf")}
    return node.client.post("/verify", data=data, files=files)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_page_is_public_and_the_sign_in_page_leads_to_it(node: Site) -> None:
    r = node.client.get("/verify")
    assert r.status_code == 200
    assert 'enctype="multipart/form-data"' in r.text and 'type="file"' in r.text and 'name="csrf_token"' in r.text
    assert "evidex_anon" in r.headers["set-cookie"]  # the form's token is bound to the pre-session cookie
    assert 'href="/verify"' in node.client.get("/sign-in").text


def test_a_valid_document_says_who_sealed_it(node: Site) -> None:
    r = upload(node, sealed())
    assert r.status_code == 200, r.text
    page = text(r.text)
    assert 'data-evx-verification="valid"' in r.text and "The document is valid" in page
    assert "Serbia (RS)" in page and AUTHORITY in page and "VTK-HIT-31/2026" in page
    [audited] = verifications(node)
    assert (audited["actor"], audited["party"], audited["channel"], audited["result"], audited["client"]) == (
        "anonymous", "RS", "public page", "valid", "testclient")


def test_an_altered_document_says_what_differs_in_the_readers_language(node: Site) -> None:
    doc = example()
    forged = pdfs.with_seal_of(render({**doc, "elements": {**doc["elements"], "offence": "Theft of a bicycle"}}),
                               sealed(doc))
    node.client.cookies.set(LANG_COOKIE, "fr")
    r = upload(node, forged)
    assert r.status_code == 200
    page = text(r.text)
    assert 'data-evx-verification="altered"' in r.text and 'lang="fr"' in r.text
    assert "Le document a été modifié" in page
    assert "Page 1 : « Sexual extortion of a child » se lit désormais « Theft of a bicycle »." in page
    assert "The offence that is the subject of the investigation or proceeding" in page  # the label signed (en)


def test_an_unknown_signer_and_an_unsealed_pdf_are_said_plainly(node: Site) -> None:
    r = upload(node, sealed(identity=keys.generate("RS", "https://forger.example")))
    assert 'data-evx-verification="unknown_signer"' in r.text
    assert "this node does not trust the key that sealed it" in text(r.text) and AUTHORITY in text(r.text)
    r = upload(node, render(example()))
    assert 'data-evx-verification="not_sealed"' in r.text


def test_the_form_needs_its_csrf_token(node: Site) -> None:
    assert upload(node, sealed(), token="").status_code == 403
    assert upload(node, sealed(), token="0" * 64).status_code == 403
    fresh = Site(node.client.__class__(node.client.app), node.sessionmaker, node.clock, node.tag)
    stolen = node.csrf("/verify")  # bound to another browser's cookie
    assert upload(fresh, sealed(), token=stolen).status_code == 403
    assert verifications(node) == []


def test_what_cannot_be_read_is_a_clear_error_on_the_page(node: Site) -> None:
    r = upload(node, None)
    assert r.status_code == 422 and "Select a PDF to verify" in r.text
    r = upload(node, b"hello, I am a letter", name="letter.pdf")
    assert r.status_code == 422 and "The selected file is not a PDF." in r.text
    assert "There is a problem" in r.text and 'href="#file"' in r.text


def test_verifications_are_limited_per_address(node: Site) -> None:
    pdf = render(example())
    for _ in range(VERIFY_LIMIT):
        assert upload(node, pdf).status_code == 200
    r = upload(node, pdf)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert len(verifications(node)) == VERIFY_LIMIT


def test_a_signed_in_person_verifies_as_themselves(node: Site) -> None:
    name = node.sign_in("RS", Role.competent_authority)
    upload(node, sealed())
    [audited] = verifications(node)
    assert (audited["actor"], audited["channel"]) == (name, "web")
