"""What hangs off a request, read through the API (SQLite and PostgreSQL): decisions with their
reasons (a logged read, CETS224 Art 14(8)), the conditions and whether they bind, the history, and
the receipts of a request that never crossed to another node. Another Party's 404 on each of these
routes is checked in test_api.test_another_party_gets_404_on_every_object_route."""

from __future__ import annotations

import sqlalchemy as sa

from evidex.audit.models import AuditEntry
from evidex.parties.roles import Role
from tests.api.test_api import new_request
from tests.factories import transition_body

CA, CA2 = ("RS", Role.central_authority), ("RS", Role.central_authority, "-2")


def reads_logged(api, rid: str) -> int:
    with api.sessionmaker() as db:
        return db.execute(sa.select(sa.func.count()).select_from(AuditEntry).where(
            AuditEntry.object_id == rid, AuditEntry.action == "request.read")).scalar_one()


def test_decisions_and_conditions_of_a_request(api):
    rid = new_request(api)["id"]
    ca, ca2 = api.as_(*CA), api.as_(*CA2)
    assert api.client.get(f"/api/v1/requests/{rid}/decisions", headers=ca).json() == []
    for who, ev in ((ca, "check"), (ca2, "approve"), (ca, "send_outside")):
        assert api.client.post(f"/api/v1/requests/{rid}/transitions", json=transition_body(ev),
                               headers=who).status_code == 200
    r = api.client.post(f"/api/v1/requests/{rid}/transitions", headers=ca, json={
        "event": "record_conditions", "reasons": "Ongoing domestic investigation",
        "conditions": [{"kind": "use_limitation", "text": "Only for case VTK-1"},
                       {"kind": "confidentiality", "text": "Keep confidential"}]})
    assert r.status_code == 200, r.text
    conditions = api.client.get(f"/api/v1/requests/{rid}/conditions", headers=ca).json()
    # one proposal: ordered by time, then by id (random), so compared as a set
    assert {(c["kind"], c["status"], c["binding"]) for c in conditions} == {
        ("use_limitation", "proposed", False), ("confidentiality", "proposed", False)}
    assert {c["kind"]: c["article"] for c in conditions}["use_limitation"] == "ETS185 Art 28(2)(b)"
    assert api.client.post(f"/api/v1/requests/{rid}/transitions", json={"event": "accept_conditions"},
                           headers=ca).status_code == 200
    conditions = api.client.get(f"/api/v1/requests/{rid}/conditions", headers=ca).json()
    assert {(c["status"], c["binding"]) for c in conditions} == {("accepted", True)}

    before = reads_logged(api, rid)
    decisions = api.client.get(f"/api/v1/requests/{rid}/decisions", headers=ca).json()
    assert [(d["kind"], d["reasons"]) for d in decisions] == [("conditions", "Ongoing domestic investigation")]
    assert reads_logged(api, rid) == before + 1  # reasons may hold personal data: the read is logged
    history = api.client.get(f"/api/v1/requests/{rid}/history", headers=ca).json()
    assert [e["event"] for e in history][-2:] == ["record_conditions", "accept_conditions"]
    assert reads_logged(api, rid) == before + 2
    # not logged: conditions, deadlines and receipts carry no reasons
    for part in ("conditions", "deadlines", "receipts"):
        assert api.client.get(f"/api/v1/requests/{rid}/{part}", headers=ca).status_code == 200
    assert reads_logged(api, rid) == before + 2


def test_a_request_that_never_crossed_has_no_receipts(api):
    rid = new_request(api)["id"]
    r = api.client.get(f"/api/v1/requests/{rid}/receipts", headers=api.as_(*CA))
    assert r.status_code == 200 and r.json() == []
