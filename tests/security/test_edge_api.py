"""The edge through the API (ASGI), on SQLite and PostgreSQL: one error shape (RFC 9457), JSON that
cannot be stored refused before it is, offline docs signed in in production, production settings."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from evidex.api.app import create_app
from evidex.cases import service as requests_service
from evidex.cases.service import Law
from evidex.core.db import make_engine
from evidex.core.errors import Invalid
from evidex.core.settings import Settings
from evidex.parties.roles import Principal, Role
from evidex.requests.models import Request as RequestRow
from tests.api.conftest import api  # noqa: F401  (the fixture)
from tests.conftest import ROOT, run_cli
from tests.factories import NOW, document

RS_CA = ("RS", Role.central_authority)
STRONG_SECRET = "0123456789abcdef0123456789abcdef-strong"


def _case(api) -> str:  # noqa: F811
    r = api.client.post("/api/v1/cases", json={"reference": f"K-{uuid.uuid4().hex[:6]}", "title": "Phishing"},
                        headers=api.as_(*RS_CA))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _is_problem(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["type"].startswith("urn:evidex:problem:") and body["title"]
    assert isinstance(body["detail"], str) and body["code"]
    if code is not None:
        assert body["code"] == code
    return dict(body)


def test_every_error_is_a_problem_document(api):  # noqa: F811
    h = api.as_(*RS_CA)
    _is_problem(api.client.get("/api/v1/cases"), 401, "unauthenticated")
    _is_problem(api.client.get(f"/api/v1/requests/{uuid.uuid4()}", headers=h), 404, "not_found")
    _is_problem(api.client.get("/api/v1/no-such-route", headers=h), 404)
    _is_problem(api.client.delete("/api/v1/health"), 405)
    _is_problem(api.client.get("/api/v1/requests/not-a-uuid", headers=h), 422, "invalid_input")


def test_a_422_names_the_fields_and_never_echoes_the_input(api):  # noqa: F811
    secret_looking = "S3CR3T-" + "x" * 50_000
    r = api.client.post("/api/v1/requests", headers=api.as_(*RS_CA),
                        json={"case_id": secret_looking, "document": {"received_on": secret_looking}, "extra": 1})
    body = _is_problem(r, 422, "invalid_input")
    assert "S3CR3T" not in r.text and len(r.content) < 2000
    fields = {e["field"] for e in body["errors"]}
    assert "case_id" in fields and all(set(e) == {"field", "message", "type"} for e in body["errors"])


def test_a_nested_field_error_is_a_dotted_path(api):  # noqa: F811
    r = api.client.post("/api/v1/auth/login", json={"username": "x", "password": "y", "totp_code": "abc"})
    body = _is_problem(r, 422)
    assert [e["field"] for e in body["errors"]] == ["totp_code"]
    case_id = _case(api)
    r = api.client.patch(f"/api/v1/requests/{uuid.uuid4()}", headers=api.as_(*RS_CA), json={"document": 3})
    assert r.status_code in (404, 405, 422)
    r = api.client.post("/api/v1/requests", headers=api.as_(*RS_CA), json={"case_id": case_id, "document": 3})
    assert "document" in {e["field"] for e in _is_problem(r, 422)["errors"]}


@pytest.mark.parametrize(("raw", "what"), [
    (b'{"reference": "K-1", "title": ', "JSON"),  # cut short
    (b'{"reference": "K-1", "title": "\xff\xfe"}', "UTF-8"),  # invalid UTF-8
    (b'{"reference": "K-1", "title": "\\ud800"}', "surrogate"),  # a lone surrogate
    (b'{"reference": "K-1", "title": "a\\u0000b"}', "NUL"),
])
def test_every_json_decode_error_is_a_422_naming_the_problem(api, raw, what):  # noqa: F811
    r = api.client.post("/api/v1/cases", content=raw,
                        headers={**api.as_(*RS_CA), "Content-Type": "application/json"})
    body = _is_problem(r, 422, "invalid_input")
    assert what.lower() in (body["detail"] + " " + " ".join(e["message"] for e in body.get("errors", []))).lower()


def test_a_lone_surrogate_in_a_request_document_is_refused_before_it_is_stored(api):  # noqa: F811
    case_id = _case(api)
    raw = (f'{{"case_id": "{case_id}", "document": {{"type": "mutual_assistance", '
           '"elements": {"offence": "\\udc00 fraud"}}}').encode()
    r = api.client.post("/api/v1/requests", content=raw,
                        headers={**api.as_(*RS_CA), "Content-Type": "application/json"})
    body = _is_problem(r, 422, "invalid_input")
    assert body["errors"][0]["field"] == "document.elements.offence"
    with api.sessionmaker() as db:
        assert db.execute(sa.select(sa.func.count()).select_from(RequestRow)
                          .where(RequestRow.case_id == uuid.UUID(case_id))).scalar_one() == 0
    assert api.client.get("/api/v1/requests", headers=api.as_(*RS_CA)).status_code == 200
    # A valid surrogate pair (an emoji escaped as JSON does) is a character and is kept.
    doc = document("mutual_assistance", "RS", "SI")
    doc["elements"]["offence"] = "fraud \U0001F600"
    r = api.client.post("/api/v1/requests", content=json.dumps({"case_id": case_id, "document": doc}).encode(),
                        headers={**api.as_(*RS_CA), "Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    got = api.client.get(f"/api/v1/requests/{r.json()['id']}", headers=api.as_(*RS_CA))
    assert got.status_code == 200 and got.json()["document"]["elements"]["offence"] == "fraud \U0001F600"


@pytest.mark.parametrize(("number", "what"), [("1e400", "not finite"), (str(2**60), "2^53")])
def test_a_number_that_cannot_travel_between_nodes_is_refused_before_it_is_stored(api, number, what):  # noqa: F811
    """json.loads reads 1e400 as infinity and keeps any integer; what nodes exchange is RFC 8785, whose
    numbers are I-JSON's (RFC 7493): refused here, by name, not when the request is sent."""
    case_id = _case(api)
    raw = (f'{{"case_id": "{case_id}", "document": {{"type": "mutual_assistance", '
           f'"elements": {{"offence": "fraud", "deadline_and_manner": {{"days": {number}}}}}}}}}').encode()
    r = api.client.post("/api/v1/requests", content=raw,
                        headers={**api.as_(*RS_CA), "Content-Type": "application/json"})
    _is_problem(r, 422)
    assert "elements.deadline_and_manner.days" in r.text and what in r.text, r.text
    assert number not in r.text  # names the field, never echoes the input
    with api.sessionmaker() as db:
        assert db.execute(sa.select(sa.func.count()).select_from(RequestRow)
                          .where(RequestRow.case_id == uuid.UUID(case_id))).scalar_one() == 0


def test_request_documents_from_any_source_are_checked_before_they_are_stored(api):  # noqa: F811
    """Not only the API's: a document arriving from another node (register_incoming) or the CLI goes
    through the same check in the requests service."""
    case_id = uuid.UUID(_case(api))
    doc = document("mutual_assistance", "RS", "SI")
    doc["elements"]["offence"] = {"\ud800": "x"}
    actor = Principal(user_id=None, username="t", party="RS", role=Role.central_authority)
    with api.sessionmaker() as db, pytest.raises(Invalid, match="lone surrogate"):
        requests_service.create_request(db, actor=actor, law=Law(), case_id=case_id, document=doc, now=NOW)
    doc["elements"]["offence"] = "a\x00b"
    with api.sessionmaker() as db, pytest.raises(Invalid, match="NUL"):
        requests_service.create_request(db, actor=actor, law=Law(), case_id=case_id, document=doc, now=NOW)


def test_a_body_over_the_json_limit_is_413_from_its_length(api):  # noqa: F811
    r = api.client.post("/api/v1/cases", content=b" " * (1024 * 1024 + 1),
                        headers={**api.as_(*RS_CA), "Content-Type": "application/json"})
    _is_problem(r, 413, "too_large")
    # An evidence chunk may be larger than a JSON body (1 MiB plus framing): not refused by the edge.
    r = api.client.put(f"/api/v1/evidence/{uuid.uuid4()}/chunks/0", content=b"\0" * (1024 * 1024),
                       headers={**api.as_(*RS_CA), "Content-Type": "application/octet-stream"})
    _is_problem(r, 404, "not_found")


def test_docs_are_served_from_the_node_itself(api):  # noqa: F811
    for page in ("/docs", "/redoc"):
        r = api.client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert not re.search(r"https?://", r.text), "the page names a host outside the node"
        assert "<script>" not in r.text  # no inline script (CSP: script-src 'self')
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-eval" not in csp and "default-src 'none'" in csp
        assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert assets
        for asset in assets:
            assert asset.startswith("/")
            got = api.client.get(asset)
            assert got.status_code == 200 and len(got.content) > 100, asset
    assert api.client.get("/openapi.json").json()["info"]["title"] == "evidex"


@contextlib.contextmanager
def _app(api, database_url: str, tmp_path, **settings: object) -> Iterator[TestClient]:  # noqa: F811
    s = Settings(database_url=database_url, environment="production", secret_key=STRONG_SECRET,
                 evidence_dir=tmp_path / "ev", spool_dir=tmp_path / "spool", **settings)
    engine = make_engine(database_url)
    try:
        with TestClient(create_app(s, engine=engine, clock=api.clock), raise_server_exceptions=False) as client:
            yield client
    finally:
        engine.dispose()


def test_in_production_the_docs_need_a_token_unless_opened(api, database_url, tmp_path,  # noqa: F811
                                                           production_hashing):
    token = api.token(*RS_CA)
    with _app(api, database_url, tmp_path) as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            _is_problem(client.get(path), 401, "unauthenticated")
            _is_problem(client.get(path, headers={"Authorization": "Bearer evs_not-a-token"}), 401)
            assert client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert client.get("/api/v1/health").status_code == 200
    with _app(api, database_url, tmp_path, public_api_docs=True) as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert client.get(path).status_code == 200


@pytest.mark.parametrize("secret", ["a", " changethis", "ChangeMe", "PASSWORD ", "x" * 31,
                                    "changethis" + " " * 40])
def test_production_refuses_a_weak_secret(secret, production_hashing):
    with pytest.raises(ValueError, match="EVIDEX_SECRET_KEY"):
        Settings(environment="production", secret_key=secret)


def test_production_accepts_a_strong_secret(production_hashing):
    assert Settings(environment="production", secret_key=STRONG_SECRET).environment == "production"


def test_production_refuses_the_cheapest_password_hashes(production_hashing):
    """The test suite's argon2 profile is refused in production; development and test may use it."""
    with pytest.raises(ValueError, match="EVIDEX_PASSWORD_HASH_PROFILE=cheapest is for test suites"):
        Settings(environment="production", secret_key=STRONG_SECRET, password_hash_profile="cheapest")
    for environment in ("development", "test"):
        assert Settings(environment=environment, password_hash_profile="cheapest").password_hash_profile == "cheapest"


def test_passwords_are_hashed_at_production_cost_by_default(production_hashing, db):
    """Without EVIDEX_PASSWORD_HASH_PROFILE a password gets argon2id at RFC 9106's second recommendation
    (64 MiB, 3 passes, 4 lanes); a hash made cheaply still verifies (its parameters travel with it)."""
    from evidex.parties.service import check_password, create_user, use_password_profile

    assert Settings().password_hash_profile == "rfc9106_low_memory"
    strong = create_user(db, username="cost-strong", display_name="s", party="RS", role=Role.central_authority,
                         now=NOW, password="correct horse battery staple")
    assert strong.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    use_password_profile("cheapest")
    cheap = create_user(db, username="cost-cheap", display_name="c", party="RS", role=Role.central_authority,
                        now=NOW, password="correct horse battery staple")
    assert cheap.password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert check_password(strong, "correct horse battery staple") and check_password(cheap, "correct horse battery staple")
    assert not check_password(cheap, "correct horse battery stapler")


def test_an_unset_environment_warns_loudly(database_url, tmp_path):
    base = {k: v for k, v in os.environ.items() if k != "EVIDEX_ENVIRONMENT"}
    env = {"EVIDEX_DATABASE_URL": database_url, "EVIDEX_EVIDENCE_DIR": str(tmp_path / "ev"),
           "EVIDEX_NODE_DIR": str(tmp_path / "node"), "EVIDEX_SPOOL_DIR": str(tmp_path / "spool")}
    unset = subprocess.run([sys.executable, "-m", "evidex", "worker", "--once"], capture_output=True, text=True,
                           timeout=60, env={**base, **env}, cwd=ROOT)
    assert unset.returncode == 0, unset.stderr
    assert "WARNING: EVIDEX_ENVIRONMENT is not set" in unset.stderr and "DEVELOPMENT" in unset.stderr
    explicit = run_cli("worker", "--once", env={**env, "EVIDEX_ENVIRONMENT": "development"})
    assert explicit.returncode == 0 and "EVIDEX_ENVIRONMENT" not in explicit.stderr
