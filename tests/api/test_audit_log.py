"""GET /api/v1/audit on SQLite and PostgreSQL: the data-protection officer and administrators read
their Party's entries, filtered and paged, newest first; each reading is itself in the log."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from evidex.parties.models import User
from evidex.parties.roles import Role
from tests.api.test_api import new_request


def audit(api, who, **params):
    r = api.client.get("/api/v1/audit", params=params, headers=who)
    assert r.status_code == 200, r.text
    return r.json()


def test_only_the_dpo_and_administrators_read_the_log(api):
    for role in (Role.competent_authority, Role.central_authority, Role.contact_24_7, Role.notified_authority):
        r = api.client.get("/api/v1/audit", headers=api.as_("RS", role))
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json", role
    assert api.client.get("/api/v1/audit").status_code == 401
    for role in (Role.data_protection_officer, Role.administrator):
        page = audit(api, api.as_("RS", role), limit=2)
        assert set(page) == {"items", "total", "limit", "offset"} and page["limit"] == 2 and len(page["items"]) <= 2


def test_filters_paging_newest_first_and_the_reading_recorded(own_api):
    api = own_api
    dpo = api.as_("RS", Role.data_protection_officer)
    assert audit(api, dpo, action="audit.read")["total"] == 0  # a reading never lists itself
    ca_name, ca_token = api.user("RS", Role.central_authority, "-audited")
    ca = {"Authorization": f"Bearer {ca_token}"}
    start = api.clock.now
    api.clock.now = start + dt.timedelta(minutes=5)
    case = api.client.post("/api/v1/cases", json={"reference": "K-AUDIT-1", "title": "Phishing"}, headers=ca).json()
    api.clock.now = start + dt.timedelta(minutes=10)
    api.client.get(f"/api/v1/cases/{case['id']}", headers=ca)
    rid = new_request(api)["id"]
    api.client.get(f"/api/v1/requests/{rid}", headers=api.as_("RS", Role.central_authority))

    everything = audit(api, dpo, limit=200)
    seqs = [e["seq"] for e in everything["items"]]
    assert seqs == sorted(seqs, reverse=True) and everything["total"] == len(seqs)
    assert {e["party"] for e in everything["items"]} == {"RS"}
    second = audit(api, dpo, limit=1, offset=1)
    assert second["items"][0]["seq"] == seqs[1] + 1 and second["offset"] == 1  # one more: the reading just made

    mine = audit(api, dpo, actor=ca_name)
    assert [e["action"] for e in mine["items"]] == ["case.create", "auth.login"]
    with api.sessionmaker() as db:
        ca_id = db.execute(sa.select(User.id).where(User.username == ca_name)).scalar_one()
    assert audit(api, dpo, actor=str(ca_id))["items"] == mine["items"]
    assert audit(api, dpo, actor="nobody-at-all")["total"] == 0
    case_entries = audit(api, dpo, object_type="case", object_id=case["id"])["items"]
    assert [e["action"] for e in case_entries] == ["case.create"] and case_entries[0]["actor"] == ca_name
    reads = audit(api, dpo, action="request.read", object_id=rid)["items"]
    assert len(reads) == 1 and reads[0]["personal_data"] is True
    window = audit(api, dpo, actor=ca_name, since=(start + dt.timedelta(minutes=5)).isoformat(),
                   until=(start + dt.timedelta(minutes=10)).isoformat())
    assert [e["action"] for e in window["items"]] == ["case.create"]  # since inclusive, until exclusive

    # Each reading is an entry of its own: who read, with which filter, how much was shown.
    readings = audit(api, dpo, action="audit.read", limit=200)["items"]
    assert len(readings) == 9 and all(e["personal_data"] for e in readings)
    assert readings[0]["details"]["filter"] == {"actor": ca_name, "since": (start + dt.timedelta(minutes=5)).isoformat(),
                                                "until": (start + dt.timedelta(minutes=10)).isoformat()}
    assert readings[0]["details"]["shown"] == 1 and readings[-1]["details"]["filter"] == {"action": "audit.read"}
    assert readings[-1]["details"]["total"] == 0


def test_another_partys_entries_are_not_shown_and_bad_filters_are_problems(own_api):
    api = own_api
    rs_name, _ = api.user("RS", Role.central_authority)
    si_admin = api.as_("SI", Role.administrator)
    assert audit(api, si_admin, actor=rs_name)["total"] == 0
    assert {e["party"] for e in audit(api, si_admin, limit=200)["items"]} == {"SI"}
    for bad in ({"since": "2026-11-23T10:00:00"}, {"until": "tomorrow"}, {"limit": 0}, {"limit": 201},
                {"actor": "x" * 81}):
        r = api.client.get("/api/v1/audit", params=bad, headers=si_admin)
        assert r.status_code == 422 and r.json()["errors"], bad
    r = api.client.get("/api/v1/audit", params={"since": "2026-11-23T10:00:00Z", "until": "2026-11-23T09:00:00Z"},
                       headers=si_admin)
    assert r.status_code == 422 and "since" in r.json()["detail"]
