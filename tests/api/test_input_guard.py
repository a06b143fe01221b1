"""The boundary guard: NUL characters in a query string, a path or a JSON body are refused with a
clear 422 before any handler runs; other bodies reach their handler byte for byte. SQLite and
PostgreSQL (the `api` fixture)."""

from __future__ import annotations

import sqlalchemy as sa

from evidex.cases.models import Case
from evidex.parties.roles import Role


def test_nul_in_json_body_query_or_path_is_refused(api):
    headers = api.as_("RS", Role.central_authority)
    ref = f"NUL-{api.tag}"
    for nul in ("\\u0000", "\x00"):  # escaped in the JSON text, and raw
        body = '{"reference": "' + ref + nul + 'B", "title": "t"}'
        r = api.client.post("/api/v1/cases", content=body.encode(), headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == 422 and r.json()["code"] == "invalid_input" and "NUL" in r.json()["detail"]
    assert api.client.get("/api/v1/cases?reference=%00", headers=headers).status_code == 422
    assert api.client.get("/api/v1/cases/%00", headers=headers).status_code == 422
    with api.sessionmaker() as db:  # nothing of the refused bodies was stored
        assert db.execute(sa.select(sa.func.count()).select_from(Case)
                          .where(Case.reference.like(f"{ref}%"))).scalar_one() == 0


def test_a_clean_json_body_reaches_its_handler_intact(api):
    headers = api.as_("RS", Role.central_authority)
    r = api.client.post("/api/v1/cases", json={"reference": "GUARD-Ž-1", "title": "čist naslov"}, headers=headers)
    assert r.status_code == 201, r.text
    assert (r.json()["reference"], r.json()["title"]) == ("GUARD-Ž-1", "čist naslov")


def test_binary_bodies_pass_the_guard(api):
    """A federation batch is binary (NUL bytes are normal there): the guard lets it through and the
    route itself answers (here: this test node has no identity, so it does not federate)."""
    r = api.client.post("/federation/v1/batch", content=b"EVXB\x01\x00\x00\x00\x00",
                        headers={"Content-Type": "application/vnd.evidex.batch"})
    assert r.status_code == 404 and "does not federate" in r.text
