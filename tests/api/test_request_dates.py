"""A request whose date no deadline can be counted from is refused as unreadable (422), never a
500, and nothing is stored (issue 12: `received_on: 9999-12-31` overflowed the deadline arithmetic)."""

from __future__ import annotations

from evidex.parties.roles import Role
from tests.api.test_api import new_case
from tests.factories import document


def test_a_date_past_the_calendar_is_422_naming_the_field(api):
    ca = api.as_("RS", Role.central_authority)
    case_id = new_case(api)
    doc = document("preservation", "RS", "ME")
    doc["received_on"] = "9999-12-31"  # ETS185 Art 29(7): + 60 days is past the calendar
    before = api.client.get("/api/v1/requests", headers=ca).json()["items"]
    r = api.client.post("/api/v1/requests", json={"case_id": case_id, "document": doc}, headers=ca)
    assert r.status_code == 422, r.text
    assert "received_on" in r.text
    assert api.client.get("/api/v1/requests", headers=ca).json()["items"] == before
