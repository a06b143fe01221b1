"""Notifications marked read through the API, on SQLite and PostgreSQL: one, or all up to a time
(or a list of ids); idempotent; another Party's answer 404 and stay unread."""

from __future__ import annotations

import datetime as dt
import uuid

from evidex.parties.roles import Role
from evidex.requests.models import Notification
from tests.api.test_api import new_request

HOUR = dt.timedelta(hours=1)


def notify(api, request_id: str, party: str, created_at: dt.datetime, message: str = "reminder") -> str:
    """A notification as the worker writes it (tests/workers test the writing)."""
    with api.sessionmaker() as db:
        n = Notification(party=party, request_id=uuid.UUID(request_id), kind="reminder", article="ETS185 Art 29(7)",
                         message=message, created_at=created_at)
        db.add(n)
        db.commit()
        return str(n.id)


def unread_ids(api, who) -> set[str]:
    r = api.client.get("/api/v1/notifications", params={"unread": "true", "limit": 200}, headers=who)
    assert r.status_code == 200, r.text
    assert all(item["read_at"] is None for item in r.json()["items"])
    return {item["id"] for item in r.json()["items"]}


def test_one_notification_marked_read_once_and_another_partys_not_at_all(api):
    now = api.clock.now
    rs, si = api.as_("RS", Role.central_authority), api.as_("SI", Role.central_authority)
    mine = notify(api, new_request(api)["id"], "RS", now - HOUR)
    theirs = notify(api, new_request(api, party="SI", requested="RS")["id"], "SI", now - HOUR)
    assert mine in unread_ids(api, rs) and theirs not in unread_ids(api, rs)

    r = api.client.post(f"/api/v1/notifications/{mine}/read", headers=rs)
    assert r.status_code == 200 and r.json()["read_at"] is not None
    first = r.json()["read_at"]
    api.clock.now = now + HOUR  # marking it again later changes nothing
    again = api.client.post(f"/api/v1/notifications/{mine}/read", headers=rs)
    assert again.status_code == 200 and again.json()["read_at"] == first
    assert mine not in unread_ids(api, rs)
    listed = api.client.get("/api/v1/notifications", params={"limit": 200}, headers=rs).json()["items"]
    assert [n["read_at"] for n in listed if n["id"] == mine] == [first]

    for nid in (theirs, str(uuid.uuid4())):
        r = api.client.post(f"/api/v1/notifications/{nid}/read", headers=rs)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "not_found"
    assert theirs in unread_ids(api, si)
    assert api.client.post(f"/api/v1/notifications/{mine}/read").status_code == 401
    assert api.client.post("/api/v1/notifications/not-an-id/read", headers=rs).status_code == 422


def test_marked_read_up_to_a_time_or_by_ids(own_api):
    api, now = own_api, own_api.clock.now
    rs, si = api.as_("RS", Role.central_authority), api.as_("SI", Role.central_authority)
    rid = new_request(api)["id"]
    old, older, recent = (notify(api, rid, "RS", now - 3 * HOUR), notify(api, rid, "RS", now - 2 * HOUR),
                          notify(api, rid, "RS", now - 10 * dt.timedelta(minutes=1)))
    theirs = notify(api, new_request(api, party="SI", requested="RS")["id"], "SI", now - 3 * HOUR)

    r = api.client.post("/api/v1/notifications/read", json={"ids": [old, theirs]}, headers=rs)
    assert r.status_code == 200 and r.json() == {"marked": 1}  # another Party's id is left alone
    assert unread_ids(api, rs) == {older, recent} and unread_ids(api, si) == {theirs}

    cut = (now - HOUR).isoformat()
    r = api.client.post("/api/v1/notifications/read", json={"before": cut}, headers=rs)
    assert r.status_code == 200 and r.json() == {"marked": 1}
    assert unread_ids(api, rs) == {recent} and unread_ids(api, si) == {theirs}
    assert api.client.post("/api/v1/notifications/read", json={"before": cut}, headers=rs).json() == {"marked": 0}

    assert api.client.post("/api/v1/notifications/read", json={}, headers=rs).json() == {"marked": 1}  # up to now
    assert unread_ids(api, rs) == set() and unread_ids(api, si) == {theirs}
    total = api.client.get("/api/v1/notifications", headers=rs).json()["total"]
    assert total == 3

    for bad in ({"before": "2026-11-23T10:00:00"}, {"before": "yesterday"}, {"ids": ["x"]}, {"what": 1},
                {"ids": [str(uuid.uuid4())] * 201}):
        r = api.client.post("/api/v1/notifications/read", json=bad, headers=rs)
        assert r.status_code == 422 and r.json()["errors"], bad
    # Marking read is recorded in the audit log (who marked how many).
    dpo = api.as_("RS", Role.data_protection_officer)
    entries = api.client.get("/api/v1/audit", params={"object_type": "notification"}, headers=dpo).json()["items"]
    assert [(e["action"], e["details"].get("count")) for e in entries] == \
        [("notification.read_all", 1), ("notification.read_all", 1), ("notification.read_all", 1)]
