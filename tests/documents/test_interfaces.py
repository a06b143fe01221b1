"""The official document through its three interfaces, on SQLite and PostgreSQL: the API
(GET /api/v1/requests/{id}/document.pdf), the command line (`evidex render FILE|REQUEST_ID`) and the
request page's download; each scoped like reading the request (another Party's: 404), an unknown language
refused by name, and the read audited."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

from evidex.audit.models import AuditEntry
from evidex.parties.roles import Role
from evidex.requests.models import RequestCondition
from tests.api.conftest import api  # noqa: F401 - the API fixture
from tests.api.test_api import new_request
from tests.conftest import EXAMPLES, run_cli
from tests.documents.conftest import pdftext
from tests.web.site import Site, site  # noqa: F401 - the web application fixture
from tests.web.test_requests import law as law_of
from tests.web.test_requests import new_request as new_web_request
from tests.web.test_requests import person


def test_the_api_serves_the_document_in_the_language_asked_audited(api, tmp_path) -> None:  # noqa: F811
    rid = new_request(api)["id"]  # mutual assistance, RS to SI, written in English
    ca = api.as_("RS", Role.central_authority)
    r = api.client.get(f"/api/v1/requests/{rid}/document.pdf", params={"lang": "fr"}, headers=ca)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.headers["content-language"] == "fr"
    assert r.headers["content-disposition"].startswith('attachment; filename="mutual_assistance-')
    text = pdftext(r.content, tmp_path)
    assert "Entraide concernant l'accès aux données stockées" in text and rid in text
    assert "BROUILLON" in text  # a draft says it is not an official request (set in capitals)
    with api.sessionmaker() as db:
        entry = db.execute(sa.select(AuditEntry).where(AuditEntry.action == "request.document",
                                                       AuditEntry.object_id == rid)).scalar_one()
    assert entry.personal_data and entry.details["lang"] == "fr"
    assert entry.details["sha256"] == r.headers["x-evidex-request-sha256"]
    # By default a language Slovenia accepts, the request's own (English); with its translation beside it.
    r = api.client.get(f"/api/v1/requests/{rid}/document.pdf", params={"translation_lang": "sl"}, headers=ca)
    assert r.status_code == 200 and r.headers["content-language"] == "en, sl"


def test_the_api_refuses_an_unknown_language_and_hides_another_partys_request(api) -> None:  # noqa: F811
    rid = new_request(api)["id"]
    r = api.client.get(f"/api/v1/requests/{rid}/document.pdf", params={"lang": "de"},
                       headers=api.as_("RS", Role.central_authority))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "invalid_input" and "lang: unknown language 'de'" in r.json()["detail"]
    for headers in (api.as_("SI", Role.central_authority), api.as_("RS", Role.service_provider)):
        r = api.client.get(f"/api/v1/requests/{rid}/document.pdf", headers=headers)
        assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert api.client.get(f"/api/v1/requests/{uuid.uuid4()}/document.pdf",
                          headers=api.as_("RS", Role.central_authority)).status_code == 404
    assert api.client.get(f"/api/v1/requests/{rid}/document.pdf").status_code == 401
    with api.sessionmaker() as db:
        assert not db.execute(sa.select(AuditEntry).where(AuditEntry.action == "request.document",
                                                          AuditEntry.object_id == rid)).first()


def test_binding_conditions_are_part_of_the_document(api, tmp_path) -> None:  # noqa: F811
    rid = new_request(api)["id"]
    with api.sessionmaker() as db:  # as the lifecycle leaves them once the requesting Party accepted them
        for text, binding in (("Use only for proceeding VTK-KTR-1127/2026", True), ("A proposal declined", False)):
            db.add(RequestCondition(request_id=uuid.UUID(rid), kind="use_limitation", text=text,
                                    article="ETS185 Art 28(2)(b)", status="accepted" if binding else "declined",
                                    binding=binding, proposed_at=dt.datetime(2026, 11, 23, tzinfo=dt.UTC)))
        db.commit()
    r = api.client.get(f"/api/v1/requests/{rid}/document.pdf", params={"lang": "sr-Latn"},
                       headers=api.as_("RS", Role.central_authority))
    text = pdftext(r.content, tmp_path)
    assert "Obavezujući uslovi" in text and "Ograničenje upotrebe" in text
    assert "Use only for proceeding VTK-KTR-1127/2026" in text and "ETS185 Art 28(2)(b)" in text
    assert "A proposal declined" not in text


def test_the_command_line_renders_a_file(tmp_path) -> None:
    out = tmp_path / "order.pdf"
    r = run_cli("render", str(EXAMPLES / "subscriber_order.yaml"), "--lang", "sr-Cyrl", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"wrote {out}: ") and "sr-Cyrl" in r.stdout
    assert "Откривање података о претплатнику" in pdftext(out.read_bytes(), tmp_path)
    for args, message in ((["--lang", "xx"], "lang: unknown language 'xx'"),
                          (["--translation-lang", "de"], "translation_lang: unknown language 'de'")):
        r = run_cli("render", str(EXAMPLES / "preservation.yaml"), *args, "--out", str(tmp_path / "x.pdf"))
        assert r.returncode == 2 and r.stderr.startswith("evidex: error: ") and message in r.stderr
        assert len(r.stderr.splitlines()) == 1 and not (tmp_path / "x.pdf").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("type: preservation\n", encoding="utf-8")
    for source, message in ((str(tmp_path / "none.yaml"), "cannot be read"), (str(bad), "'requesting_party' is missing")):
        r = run_cli("render", source)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_the_command_line_renders_a_stored_request_of_its_own_party_only(api, law, tmp_path) -> None:  # noqa: F811
    env = {"EVIDEX_DATABASE_URL": api.client.app.state.settings.database_url, "EVIDEX_NODE_PARTY": "RS"}
    rid = new_request(api)["id"]
    out = tmp_path / "request.pdf"
    r = run_cli("render", rid, "--lang", "sl", "--out", str(out), env=env)
    assert r.returncode == 0, r.stderr
    text = pdftext(out.read_bytes(), tmp_path)
    assert law.texts.type_title("mutual_assistance", "sl") in text and rid in text
    with api.sessionmaker() as db:
        assert db.execute(sa.select(AuditEntry.actor).where(AuditEntry.action == "request.document",
                                                            AuditEntry.object_id == rid)).scalar_one() == "cli"
    theirs = new_request(api, party="SI", requested="RS")["id"]
    for unknown in (theirs, str(uuid.uuid4())):
        r = run_cli("render", unknown, "--out", str(tmp_path / "x.pdf"), env=env)
        assert r.returncode == 2 and r.stderr == "evidex: error: request not found\n"


def test_the_request_page_offers_the_document_in_each_language(site: Site, tmp_path) -> None:  # noqa: F811
    ca = person(site, site.sign_in("RS", Role.central_authority))
    rid = new_web_request(site, ca)
    page = site.client.get(f"/requests/{rid}")
    assert f'action="/requests/{rid}/document.pdf"' in page.text and "Official document (PDF)" in page.text
    assert 'id="document-lang" name="lang"' in page.text and 'value="cnr" lang="cnr">Crnogorski</option>' in page.text
    r = site.client.get(f"/requests/{rid}/document.pdf", params={"lang": "cnr"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert law_of(site).texts.type_title("mutual_assistance", "cnr") in pdftext(r.content, tmp_path)
    r = site.client.get(f"/requests/{rid}/document.pdf", params={"lang": ""})  # the receiving side's choice
    assert r.status_code == 200 and r.headers["content-language"] == "en"
    r = site.client.get(f"/requests/{rid}/document.pdf", params={"lang": "de"})
    assert r.status_code == 422 and "unknown language" in r.text
    site.client.cookies.clear()
    site.sign_in("SI", Role.central_authority)
    assert site.client.get(f"/requests/{rid}/document.pdf").status_code == 404
