"""Evidence in the browser, in process (SQLite and PostgreSQL): the files of a request, the upload by
the plain form (no script), the download through the page (audited, under the original name), the
custody timeline verified link by link and the stored file read back, the CASE/UCO export, another
Party's files (404) and the roles (403); and the upload script's way into the chunk API (the session
cookie with its CSRF header on the upload routes only)."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from urllib.parse import unquote

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from evidex.audit.models import AuditEntry
from evidex.cases.models import Case
from evidex.core.settings import Settings
from evidex.demo import evidence as evidence_demo
from evidex.demo.data import load_demo
from evidex.evidence.models import CustodyEvent, EvidenceFile, EvidencePackage
from evidex.exchange import keys
from evidex.node import build_node
from evidex.parties.roles import Role
from evidex.requests.models import Request as RequestRow
from evidex.web.site import create_site
from tests import factories
from tests.api.conftest import UNLIMITED, Clock
from tests.web.site import CSRF, Site, site

__all__ = ["site"]

MiB = 1024 * 1024
PRODUCERS = (Role.competent_authority, Role.central_authority, Role.contact_24_7)
READERS = (Role.data_protection_officer, Role.administrator)  # see a request's files, produce none


def new_request(site: Site, party: str = "RS") -> uuid.UUID:
    """An outgoing mutual assistance request of `party`, drafted through the case services."""
    with site.sessionmaker() as db:
        actor = factories.user(db, party, Role.competent_authority, name=f"{site.tag}-maker-{uuid.uuid4().hex[:6]}")
        req = factories.new_request(db, actor, site.client.app.state.law, case_ref=f"K-{uuid.uuid4().hex[:8]}")
        db.commit()
        return req.id


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def upload_by_form(site: Site, rid: uuid.UUID, name: str, data: bytes, sha256: str = "") -> object:
    page = site.client.get(f"/requests/{rid}/evidence")
    assert page.status_code == 200, page.text
    return site.client.post(f"/requests/{rid}/evidence", data={"csrf_token": csrf_of(page.text), "sha256": sha256},
                            files={"file": (name, data, "application/mbox")}, follow_redirects=False)


def stored_file(site: Site, rid: uuid.UUID) -> EvidenceFile:
    with site.sessionmaker() as db:
        return db.execute(sa.select(EvidenceFile).where(EvidenceFile.request_id == rid)
                          .order_by(EvidenceFile.created_at.desc())).scalars().first()


def text_of(page: str) -> str:
    """The page's main content as words (tags dropped, spaces joined), to read sentences in it."""
    main = page.split('<main', 1)[1]
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", main)))


def test_a_file_uploaded_by_the_plain_form_is_listed_with_its_sha256(site: Site) -> None:
    rid = new_request(site)
    site.sign_in("RS", Role.central_authority)
    data = os.urandom(2 * MiB + 4321)  # three chunks, the last a short one
    r = upload_by_form(site, rid, "C:\\Users\\ana\\mailbox.mbox", data)
    assert r.status_code == 303, r.text
    ev = stored_file(site, rid)
    assert r.headers["location"] == f"/requests/{rid}/evidence?notice=uploaded&evidence_id={ev.id}"
    assert ev.name == "mailbox.mbox" and ev.status == "sealed"
    assert ev.sha256 == ev.declared_sha256 == hashlib.sha256(data).hexdigest()
    page = site.client.get(r.headers["location"])
    assert page.status_code == 200
    words = text_of(page.text)
    assert "The file was uploaded and sealed." in words
    assert f'<span class="evx-mono">{hashlib.sha256(data).hexdigest()}</span>' in page.text  # in full, monospace
    assert "mailbox.mbox" in words and "Sealed" in words and "Verified" in words
    assert f"by {site.tag}-rs-central_authority" in words
    assert f'href="/evidence/{ev.id}/download"' in page.text and f'href="/evidence/{ev.id}/custody"' in page.text
    assert f'href="/requests/{rid}/evidence/case.jsonld"' in page.text
    with site.sessionmaker() as db:  # the same steps as the chunk API: produced and sealed, audited
        events = db.execute(sa.select(CustodyEvent.event).where(CustodyEvent.evidence_id == ev.id)
                            .order_by(CustodyEvent.seq)).scalars().all()
        actions = set(db.execute(sa.select(AuditEntry.action).where(AuditEntry.object_id == str(ev.id))).scalars())
    assert events == ["produced", "sealed"]
    assert {"evidence.upload_start", "evidence.sealed"} <= actions


def test_the_plain_form_says_what_is_wrong_and_keeps_what_was_entered(site: Site) -> None:
    rid = new_request(site)
    site.sign_in("RS", Role.competent_authority)
    page = site.client.get(f"/requests/{rid}/evidence")
    token = csrf_of(page.text)
    r = site.client.post(f"/requests/{rid}/evidence", data={"csrf_token": token, "sha256": "not a hash"},
                         files={"file": ("", b"", "application/octet-stream")})
    assert r.status_code == 422
    assert "There is a problem" in r.text and 'href="#file"' in r.text and 'href="#sha256"' in r.text
    assert "Select a file to upload" in r.text and "Enter the SHA-256 as 64 characters" in r.text
    assert 'value="not a hash"' in r.text
    r = site.client.post(f"/requests/{rid}/evidence", data={"csrf_token": token},
                         files={"file": ("empty.txt", b"", "text/plain")})
    assert r.status_code == 422 and "The selected file is empty" in r.text
    assert stored_file(site, rid) is None  # nothing half-written


def test_a_file_that_differs_from_the_sha256_entered_is_refused_and_recorded(site: Site) -> None:
    rid = new_request(site)
    site.sign_in("RS", Role.central_authority)
    data = b"subscriber: Jane Roe"
    r = upload_by_form(site, rid, "subscriber.txt", data, sha256="ab" * 32)
    assert r.status_code == 422
    assert "There is a problem" in r.text and "not the declared" in r.text
    ev = stored_file(site, rid)
    assert ev.status == "rejected" and ev.sha256 == hashlib.sha256(data).hexdigest()
    assert "Rejected" in text_of(site.client.get(f"/requests/{rid}/evidence").text)
    with site.sessionmaker() as db:
        assert db.execute(sa.select(AuditEntry).where(AuditEntry.object_id == str(ev.id),
                                                      AuditEntry.action == "evidence.rejected")).first()


def test_a_download_through_the_page_is_audited_and_named_as_uploaded(site: Site) -> None:
    rid = new_request(site)
    user = site.sign_in("RS", Role.central_authority)
    data = os.urandom(5000)
    assert upload_by_form(site, rid, "Izveštaj o saobraćaju.csv", data).status_code == 303
    ev = stored_file(site, rid)
    got = site.client.get(f"/evidence/{ev.id}/download")
    assert got.status_code == 200 and got.content == data
    assert got.headers["x-evidex-sha256"] == hashlib.sha256(data).hexdigest()
    disposition = got.headers["content-disposition"]
    assert disposition.startswith("attachment;") and 'filename="Izvestaj o saobracaju.csv"' in disposition
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == "Izveštaj o saobraćaju.csv"
    with site.sessionmaker() as db:
        read = db.execute(sa.select(AuditEntry).where(AuditEntry.object_id == str(ev.id),
                                                      AuditEntry.action == "evidence.read")).scalars().all()
        opened = db.execute(sa.select(CustodyEvent).where(CustodyEvent.evidence_id == ev.id,
                                                          CustodyEvent.event == "opened")).scalars().all()
    assert [(a.actor, a.personal_data) for a in read] == [(user, True)]
    assert [o.actor for o in opened] == [user]


def test_the_custody_page_verifies_each_link_and_the_stored_file(site: Site) -> None:
    rid = new_request(site)
    site.sign_in("RS", Role.central_authority)
    assert upload_by_form(site, rid, "mailbox.mbox", os.urandom(2 * MiB + 7)).status_code == 303
    ev = stored_file(site, rid)
    site.client.get(f"/evidence/{ev.id}/download")
    page = site.client.get(f"/evidence/{ev.id}/custody")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Custody of mailbox.mbox" in words
    assert "All 3 links hold" in words and "not signed: this node has no signing key" in words  # no identity here
    assert "Read back just now: it matches its SHA-256." in words
    assert [m for m in re.findall(r"\d\. (Produced \(uploaded\)|Sealed|Opened \(downloaded\))", words)] == \
        ["Produced (uploaded)", "Sealed", "Opened (downloaded)"]
    assert words.count("Verified") == 5 and "Broken" not in words  # chain, stored file, three links

    # A byte of the stored file flipped (as tests/api/test_evidence.py does): the page says so in words.
    path = site.client.app.state.vault.storage._path(ev.storage_name)
    blob = bytearray(path.read_bytes())
    blob[28 + MiB + 16 + 500] ^= 0x80  # a byte in chunk 1
    path.write_bytes(bytes(blob))
    words = text_of(site.client.get(f"/evidence/{ev.id}/custody").text)
    assert "Read back just now: it does not match its SHA-256." in words and "chunk 1" in words
    assert "Broken" in words and "may have been tampered with" in words
    refused = site.client.get(f"/evidence/{ev.id}/download")
    assert refused.status_code == 409 and "no longer matches its SHA-256" in refused.text

    # A link of the chain rewritten: that link is marked broken, with the reason.
    with site.sessionmaker() as db:
        db.execute(sa.update(CustodyEvent).where(CustodyEvent.evidence_id == ev.id, CustodyEvent.seq == 1)
                   .values(actor="someone-else"))
        db.commit()
    words = text_of(site.client.get(f"/evidence/{ev.id}/custody").text)
    assert "1 problem: see the link marked broken below." in words
    assert "1. Produced (uploaded) Broken someone-else" in words and "It was changed after it was written." in words
    assert "Broken" in text_of(site.client.get(f"/requests/{rid}/evidence").text)


def test_a_large_file_is_checked_only_when_asked(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from evidex.web.routes import evidence as pages

    monkeypatch.setattr(pages, "AUTO_CHECK_BYTES", 1000)
    rid = new_request(site)
    site.sign_in("RS", Role.central_authority)
    assert upload_by_form(site, rid, "big.bin", os.urandom(5000)).status_code == 303
    ev = stored_file(site, rid)
    words = text_of(site.client.get(f"/evidence/{ev.id}/custody").text)
    assert "Read the stored file back and check it against its SHA-256 now" in words
    assert "Read back just now" not in words
    words = text_of(site.client.get(f"/evidence/{ev.id}/custody?check=true").text)
    assert "Read back just now: it matches its SHA-256." in words


def test_the_case_export_is_a_custody_event_and_audited(site: Site) -> None:
    rid = new_request(site)
    user = site.sign_in("RS", Role.central_authority)
    assert upload_by_form(site, rid, "mailbox.mbox", b"From: a@b\n").status_code == 303
    ev = stored_file(site, rid)
    r = site.client.get(f"/requests/{rid}/evidence/case.jsonld")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/ld+json")
    assert f'filename="case-uco-{rid}.jsonld"' in r.headers["content-disposition"]
    doc = r.json()
    names = sorted(o["uco-core:name"] for o in doc["@graph"] if o["@type"].endswith("InvestigativeAction"))
    assert names == ["exported", "produced", "sealed"]
    hashes = [h["uco-types:hashValue"]["@value"] for o in doc["@graph"] if o["@type"] == "uco-observable:File"
              for facet in o["uco-core:hasFacet"] for h in facet.get("uco-observable:hash", [])]
    assert hashes == [ev.sha256]
    with site.sessionmaker() as db:
        assert db.execute(sa.select(AuditEntry.actor).where(AuditEntry.object_id == str(rid),
                                                            AuditEntry.action == "evidence.export_case")
                          ).scalars().all() == [user]


@pytest.mark.parametrize("role", PRODUCERS + READERS)
def test_every_role_that_may_see_the_request_sees_its_evidence(site: Site, role: Role) -> None:
    rid = new_request(site)
    site.sign_in("RS", Role.central_authority, "-up")
    assert upload_by_form(site, rid, "mailbox.mbox", b"x" * 100).status_code == 303
    ev = stored_file(site, rid)
    site.client.cookies.clear()
    site.sign_in("RS", role)
    page = site.client.get(f"/requests/{rid}/evidence")
    assert page.status_code == 200 and "mailbox.mbox" in page.text
    assert ('enctype="multipart/form-data"' in page.text) is (role in PRODUCERS)  # the form only for producers
    assert site.client.get(f"/evidence/{ev.id}/custody").status_code == 200


@pytest.mark.parametrize("role", (*READERS, Role.notified_authority))
def test_a_role_that_produces_no_evidence_cannot_upload(site: Site, role: Role) -> None:
    rid = new_request(site)
    site.sign_in("RS", role)
    token = site.csrf("/")
    r = site.client.post(f"/requests/{rid}/evidence", data={"csrf_token": token},
                         files={"file": ("x.bin", b"data", "application/octet-stream")}, follow_redirects=False)
    assert r.status_code == 403 and "You cannot do this" in r.text
    assert stored_file(site, rid) is None


def test_another_partys_evidence_is_not_found(site: Site) -> None:
    rid = new_request(site)
    site.sign_in("RS", Role.central_authority)
    assert upload_by_form(site, rid, "mailbox.mbox", b"traffic data").status_code == 303
    ev = stored_file(site, rid)
    site.client.cookies.clear()
    site.sign_in("SI", Role.central_authority)
    for path in (f"/requests/{rid}/evidence", f"/evidence/{ev.id}/download", f"/evidence/{ev.id}/custody",
                 f"/requests/{rid}/evidence/case.jsonld", f"/evidence/{uuid.uuid4()}/custody"):
        r = site.client.get(path)
        assert r.status_code == 404 and "Page not found" in r.text, path
    r = site.client.post(f"/requests/{rid}/evidence", data={"csrf_token": site.csrf("/")},
                         files={"file": ("x.bin", b"data", "application/octet-stream")})
    assert r.status_code == 404
    with site.sessionmaker() as db:  # nothing was opened or exported by the other Party
        assert db.execute(sa.select(CustodyEvent).where(CustodyEvent.evidence_id == ev.id,
                                                        CustodyEvent.party == "SI")).first() is None


def test_the_pages_need_a_session_and_the_form_its_csrf_token(site: Site) -> None:
    rid = new_request(site)
    r = site.client.get(f"/requests/{rid}/evidence", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in?next=")
    site.sign_in("RS", Role.central_authority)
    r = site.client.post(f"/requests/{rid}/evidence", files={"file": ("x.bin", b"data", "application/octet-stream")})
    assert r.status_code == 403 and "form has expired" in r.text
    assert stored_file(site, rid) is None


# --------------------------------------------------------------------------- the upload script's way in
def api_call(site: Site, method: str, path: str, token: str | None, **kwargs: object):
    headers = {"X-CSRF-Token": token} if token else {}
    return site.client.request(method, f"/api/v1{path}", headers=headers, **kwargs)


def test_the_upload_script_uses_the_chunk_api_with_the_session_cookie_and_csrf_header(site: Site) -> None:
    """What static/upload.js does, call by call: start, a chunk, a dropped one resumed from the
    server's count, complete; the page then lists the file."""
    rid = new_request(site)
    site.sign_in("RS", Role.contact_24_7)
    token = csrf_of(site.client.get(f"/requests/{rid}/evidence").text)
    data = os.urandom(2 * MiB + 10)
    sha = hashlib.sha256(data).hexdigest()
    r = api_call(site, "POST", f"/requests/{rid}/evidence", token,
                 json={"name": "dump.bin", "size": len(data), "sha256": sha})
    assert r.status_code == 201, r.text
    eid, size = r.json()["id"], r.json()["chunk_size"]
    put = {"headers": {"X-CSRF-Token": token, "Content-Type": "application/octet-stream"}}
    assert site.client.put(f"/api/v1/evidence/{eid}/chunks/0", content=data[:size], **put).status_code == 200
    assert site.client.put(f"/api/v1/evidence/{eid}/chunks/2", content=data[2 * size:], **put).status_code == 409
    state = api_call(site, "GET", f"/evidence/{eid}", token).json()
    assert state["chunks_received"] == 1 and state["status"] == "uploading"
    for i in (1, 2):
        assert site.client.put(f"/api/v1/evidence/{eid}/chunks/{i}", content=data[i * size:(i + 1) * size],
                               **put).status_code == 200
    done = api_call(site, "POST", f"/evidence/{eid}/complete", token)
    assert done.status_code == 200 and done.json()["sha256"] == sha and done.json()["status"] == "sealed"
    page = site.client.get(f"/requests/{rid}/evidence?notice=uploaded&evidence_id={eid}")
    assert "The file was uploaded and sealed." in text_of(page.text) and sha in page.text


def test_the_session_cookie_counts_on_the_upload_routes_only_and_only_with_its_csrf_header(site: Site) -> None:
    rid = new_request(site)
    site.sign_in("RS", Role.central_authority)
    token = csrf_of(site.client.get(f"/requests/{rid}/evidence").text)
    body = {"name": "a.bin", "size": 4, "sha256": hashlib.sha256(b"data").hexdigest()}
    assert api_call(site, "POST", f"/requests/{rid}/evidence", None, json=body).status_code == 401
    assert api_call(site, "POST", f"/requests/{rid}/evidence", "0" * 64, json=body).status_code == 401
    eid = api_call(site, "POST", f"/requests/{rid}/evidence", token, json=body).json()["id"]
    # Every other API route stays Bearer-only, CSRF header or not.
    for method, path in (("GET", f"/requests/{rid}"), ("GET", f"/evidence/{eid}/custody"),
                         ("GET", f"/requests/{rid}/evidence-packages"), ("GET", "/auth/me")):
        assert api_call(site, method, path, token).status_code == 401, path
    # A CSRF token of another session does not open this one.
    site.client.cookies.clear()
    site.sign_in("RS", Role.central_authority, "-other")
    assert api_call(site, "GET", f"/evidence/{eid}", token).status_code == 401


# --------------------------------------------------------------------------- packages between nodes
@pytest.fixture
def demo_site(own_database_url: str, tmp_path: Path) -> Iterator[tuple[Site, uuid.UUID]]:
    """A node with an identity and the demo's evidence package, arrived from ME's node (the demo runs
    ME's node in process, signs the manifest there and sends the files over its API)."""
    clock = Clock()
    settings = Settings(database_url=own_database_url, environment="test", node_party="RS",
                        evidence_dir=tmp_path / "evidence", spool_dir=tmp_path / "spool",
                        login_limit_per_account=UNLIMITED, login_limit_per_address=UNLIMITED)
    node = build_node(settings, identity=keys.generate("RS", "https://rs.demo-node.invalid"))
    with node.sessions() as db:
        load_demo(db, law=node.law, party="RS", now=clock.now)
        db.commit()
    assert evidence_demo.load(node=node, now=clock.now, echo=lambda _line: None)
    with node.sessions() as db:
        rid = db.execute(sa.select(RequestRow.id).join(Case, Case.id == RequestRow.case_id)
                         .where(Case.reference == evidence_demo.REFERENCE)).scalar_one()
    with TestClient(create_site(settings, node=node, clock=clock), raise_server_exceptions=False) as client:
        yield Site(client, node.sessions, clock, uuid.uuid4().hex[:8]), rid
    node.dispose()


def test_a_received_package_is_shown_verified_against_its_signed_manifest(demo_site: tuple[Site, uuid.UUID]) -> None:
    site, rid = demo_site
    site.sign_in("RS", Role.central_authority)
    words = text_of(site.client.get(f"/requests/{rid}/evidence").text)
    assert "Received from ME" in words and "Received and verified" in words
    assert "Against the signed manifest Verified" in words
    assert "Signature Verified Signed by the node of ME" in words
    assert "The manifest kept here is, byte for byte, the one signed." in words
    assert "Signed receipt from RS: every file verified" in words
    assert words.count("Matches") == 2 and "from the node of ME" in words
    with site.sessionmaker() as db:
        pkg = db.execute(sa.select(EvidencePackage).where(EvidencePackage.request_id == rid)).scalar_one()
        received = db.execute(sa.select(EvidenceFile).where(EvidenceFile.package_id == pkg.id)).scalars().all()
    for ev in received:  # each file's custody: received, then verified against the manifest
        custody = text_of(site.client.get(f"/evidence/{ev.id}/custody").text)
        assert "1. Received from the producing Party's node Verified" in custody
        assert "2. Verified against the signed manifest Verified" in custody
        assert "Each is signed by this node." in custody and "it matches its SHA-256" in custody

    # The manifest kept here altered (a file's SHA-256): no longer the one signed.
    manifest = dict(pkg.manifest)
    manifest["files"] = [dict(f) for f in manifest["files"]]
    manifest["files"][0]["sha256"] = "0" * 64
    with site.sessionmaker() as db:
        db.execute(sa.update(EvidencePackage).where(EvidencePackage.id == pkg.id).values(manifest=manifest))
        db.commit()
    words = text_of(site.client.get(f"/requests/{rid}/evidence").text)
    assert "Against the signed manifest Not verified" in words
    assert "The manifest kept here differs from the one signed." in words
    assert "Does not match" in words  # the file held here against the altered manifest

    # The signature replaced by one of another key: it no longer verifies.
    head, payload, _sig = pkg.signature.split(".")
    with site.sessionmaker() as db:
        db.execute(sa.update(EvidencePackage).where(EvidencePackage.id == pkg.id)
                   .values(manifest=pkg.manifest, signature=f"{head}.{payload}.{'A' * 86}"))
        db.commit()
    words = text_of(site.client.get(f"/requests/{rid}/evidence").text)
    assert "Signature Does not verify" in words and "Against the signed manifest Not verified" in words
    assert "The manifest kept here is, byte for byte, the one signed." in words


def test_a_cookie_holding_an_api_token_is_refused_even_with_a_matching_csrf_header(site: Site) -> None:
    """The cookie is a person's session or nothing: an API token put there (with the CSRF header
    made for it, as only the node could) does not act through the cookie path."""
    import datetime as dt

    from evidex.parties.models import User
    from evidex.parties.service import issue_api_token

    rid = new_request(site)
    name = site.sign_in("RS", Role.central_authority)
    with site.sessionmaker() as db:
        user = db.execute(sa.select(User).where(User.username == name)).scalar_one()
        api_token, _row = issue_api_token(db, user=user, name="system", now=site.clock.now,
                                          expires_at=site.clock.now + dt.timedelta(days=1))
        db.commit()
    body = {"name": "a.bin", "size": 4, "sha256": hashlib.sha256(b"data").hexdigest()}
    assert site.client.post(f"/api/v1/requests/{rid}/evidence", json=body,
                            headers={"Authorization": f"Bearer {api_token}"}).status_code == 201  # as a Bearer: yes
    site.client.cookies.set("evidex_session", api_token)
    made = site.client.app.state.web_security.csrf_token(api_token)
    r = site.client.post(f"/api/v1/requests/{rid}/evidence", json=body, headers={"X-CSRF-Token": made})
    assert r.status_code == 401
