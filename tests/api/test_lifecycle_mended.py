"""Issue 13 item 8, the lifecycle mended, through the API as a new user meets it (SQLite and PostgreSQL):
a lapsed preservation whose dates agree, one preservation deadline, events only for the request types
they concern, an emergency sent alone and reviewed afterwards, and lists that carry what a desk needs."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from evidex.audit.models import AuditEntry
from evidex.cases import service
from evidex.demo.data import load_demo
from evidex.parties.roles import Role
from evidex.workers.deadlines import run_once
from tests.factories import document, transition_body

CA, CA2, C247, C247_2 = (("RS", Role.central_authority), ("RS", Role.central_authority, "-2"),
                         ("RS", Role.contact_24_7), ("RS", Role.contact_24_7, "-2"))
LAW = service.Law()


def create(api, kind="mutual_assistance", requested="SI", who=CA, **changes):
    r = api.client.post("/api/v1/cases", json={"reference": f"K-{uuid.uuid4().hex[:8]}", "title": "Phishing"},
                        headers=api.as_(*who))
    assert r.status_code == 201, r.text
    doc = document(kind, "RS", requested)
    doc.update(changes)
    r = api.client.post("/api/v1/requests", json={"case_id": r.json()["id"], "document": doc}, headers=api.as_(*who))
    assert r.status_code == 201, r.text
    return r.json()


def move(api, rid, event, who=CA, **body):
    return api.client.post(f"/api/v1/requests/{rid}/transitions", json={**body, "event": event}, headers=api.as_(*who))


def sent(api, kind="mutual_assistance", requested="SI", **changes):
    """Sent outside evidex, by e-mail: this node trusts no other node."""
    rid = create(api, kind, requested, **changes)["id"]
    for event, who in (("check", CA), ("approve", CA2), ("send_outside", CA)):
        assert move(api, rid, event, who, **{k: v for k, v in transition_body(event).items() if k != "event"}
                    ).status_code == 200
    return rid


def deadlines(api, rid, who=CA):
    r = api.client.get(f"/api/v1/requests/{rid}/deadlines", headers=api.as_(*who))
    assert r.status_code == 200, r.text
    return {d["name"]: d for d in r.json()}


# ---------------------------------------------------------------- 1 and 2: preservation dates
def test_a_preservation_has_one_deadline_and_expires_only_once_its_period_has_lapsed(api):
    rid = sent(api, "preservation", "ME")
    before = deadlines(api, rid)
    assert list(before) == ["preservation_minimum"]  # the checker's estimate: received 2026-11-20 + 60 days
    assert before["preservation_minimum"]["due_on"] == "2027-01-19"
    r = move(api, rid, "record_preserved", C247)
    assert r.status_code == 200 and r.json()["preserved_until"] == "2027-01-22"  # preserved 2026-11-23 in ME
    after = deadlines(api, rid)
    assert list(after) == ["preservation_minimum"], after  # one deadline, not two
    d = after["preservation_minimum"]
    assert (d["due_on"], d["remind_on"], d["article"], d["status"]) == ("2027-01-22", "2027-01-12",
                                                                         "ETS185 Art 29(7)", "open")
    # A new user tries to mark it lapsed at once: refused, and nothing changes.
    r = move(api, rid, "expire", C247)
    assert r.status_code == 422 and "runs until 2027-01-22" in r.json()["detail"], r.text
    # 22:30 UTC on its last day is 23:30 in Podgorica: still preserved (ETS185 Art 29(7), ME's calendar).
    api.clock.now = dt.datetime(2027, 1, 22, 22, 30, tzinfo=dt.UTC)
    later = ("RS", Role.contact_24_7, "-later")  # sessions of November have expired
    assert move(api, rid, "expire", later).status_code == 422
    api.clock.now = dt.datetime(2027, 1, 22, 23, 30, tzinfo=dt.UTC)  # 00:30 on 23 January in Podgorica
    r = move(api, rid, "expire", later)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "expired" and r.json()["preserved_until"] == "2027-01-22"
    assert deadlines(api, rid, later)["preservation_minimum"]["status"] == "cancelled"


def test_the_demo_has_no_lapsed_preservation_still_running(own_api):
    api = own_api
    with api.sessionmaker() as db:
        load_demo(db, law=LAW, party="RS", now=api.clock.now)
        db.commit()
    r = api.client.get("/api/v1/requests?type=preservation&status=expired", headers=api.as_(*CA))
    items = r.json()["items"]
    assert items, r.text
    today = api.clock.now.date()
    for item in items:
        assert item["preserved_until"] is not None and dt.date.fromisoformat(item["preserved_until"]) < today, item
        assert dt.datetime.fromisoformat(item["created_at"]) < api.clock.now - dt.timedelta(days=60)


# ---------------------------------------------------------------- 3: events by request type
def test_record_preserved_is_offered_only_on_preservations(api):
    mla = sent(api)
    r = api.client.get(f"/api/v1/requests/{mla}", headers=api.as_(*C247))
    assert r.status_code == 200 and "record_acknowledgement" in r.json()["allowed_events"]
    assert "record_preserved" not in r.json()["allowed_events"]
    r = move(api, mla, "record_preserved", C247)
    assert r.status_code == 409, r.text
    assert "record_preserved" not in r.json()["allowed"] and "record_acknowledgement" in r.json()["allowed"]
    assert "does not concern mutual_assistance" in r.json()["detail"]
    pres = sent(api, "preservation", "ME")
    allowed = api.client.get(f"/api/v1/requests/{pres}", headers=api.as_(*C247)).json()["allowed_events"]
    assert "record_preserved" in allowed and "record_execution" not in allowed and "record_postponement" not in allowed
    lifecycle = api.client.get("/api/v1/lifecycle", headers=api.as_(*CA)).json()
    assert "record_preserved" in lifecycle["events_by_type"]["preservation"]


# ---------------------------------------------------------------- 5: emergencies
def test_a_24_7_contact_sends_an_emergency_alone_and_a_second_person_reviews_it(api):
    # ME has no node this node trusts: the 24/7 contact sends it alone through the 24/7 network, outside
    # evidex (with a node: send_alone, tests/api/test_send_outside.py).
    rid = create(api, "emergency_disclosure", "ME", who=C247)["id"]
    r = api.client.get(f"/api/v1/requests/{rid}", headers=api.as_(*C247))
    assert "send_outside" in r.json()["allowed_events"] and "send_alone" not in r.json()["allowed_events"]
    assert "send_outside" not in api.client.get(f"/api/v1/requests/{rid}",
                                                headers=api.as_(*CA)).json()["allowed_events"]
    r = move(api, rid, "send_outside", C247, means="network_24_7")  # at night, alone: straight from the draft
    assert r.status_code == 200 and r.json()["status"] == "sent", r.text
    last = api.client.get(f"/api/v1/requests/{rid}/history", headers=api.as_(*C247)).json()[-1]
    assert last["event"] == "send_outside" and last["data"]["four_eyes"] == "waived"
    assert last["data"]["waiver_article"] == "CETS224 Art 9" and last["data"]["means"] == "network_24_7"
    with api.sessionmaker() as db:
        entry = db.execute(sa.select(AuditEntry).where(AuditEntry.object_id == rid,
                                                       AuditEntry.action == "request.send_outside")).scalar_one()
    assert entry.details["four_eyes"] == "waived" and entry.details["waiver_article"] == "CETS224 Art 9"
    review = deadlines(api, rid)["four_eyes_review"]
    assert (review["due_on"], review["status"], review["article"]) == ("2026-11-24", "open", "CETS224 Art 9")
    notes = api.client.get("/api/v1/notifications", headers=api.as_(*CA)).json()["items"]
    assert any(n["request_id"] == rid and n["kind"] == "review_due" for n in notes), notes
    # The review falls due: overdue after its day, like every deadline.
    run_once(api.sessionmaker, dt.datetime(2026, 11, 25, 9, tzinfo=dt.UTC), LAW.party_timezones())
    assert deadlines(api, rid)["four_eyes_review"]["status"] == "overdue"
    # Not by the one who sent it, nor by a role that does not review; then by a second person, once.
    r = api.client.post(f"/api/v1/requests/{rid}/review", json={}, headers=api.as_(*C247))
    assert r.status_code == 422 and "four eyes" in r.json()["detail"], r.text
    r = api.client.post(f"/api/v1/requests/{rid}/review", json={}, headers=api.as_("RS", Role.competent_authority))
    assert r.status_code == 403, r.text
    r = api.client.post(f"/api/v1/requests/{rid}/review", json={"reasons": "Emergency facts confirmed"},
                        headers=api.as_(*C247_2))
    assert r.status_code == 200 and r.json()["status"] == "sent", r.text
    assert deadlines(api, rid)["four_eyes_review"]["status"] == "met"
    last = api.client.get(f"/api/v1/requests/{rid}/history", headers=api.as_(*CA)).json()[-1]
    assert (last["event"], last["from_status"], last["to_status"]) == ("review", "sent", "sent")
    r = api.client.post(f"/api/v1/requests/{rid}/review", headers=api.as_(*CA))  # no body: none needed
    assert r.status_code == 409, r.text


def test_a_request_that_is_no_emergency_keeps_four_eyes(api):
    rid = create(api, "mutual_assistance", "SI", who=C247)["id"]  # not urgent: ETS185 Art 25(3) does not apply
    assert move(api, rid, "check", C247).status_code == 200
    r = move(api, rid, "send_alone", C247)
    assert r.status_code == 409 and "keeps four eyes" in r.json()["detail"], r.text
    assert "send_alone" not in r.json()["allowed"]
    urgent = create(api, "mutual_assistance", "SI", who=C247, urgent=True)["id"]
    r = move(api, urgent, "send_alone", C247)  # SI has no node this node trusts: not through evidex
    assert r.status_code == 409 and "no evidex node" in r.json()["detail"], r.text
    r = move(api, urgent, "send_outside", C247, means="fax")  # urgent: by fax (ETS185 Art 25(3))
    assert r.status_code == 200, r.text
    assert deadlines(api, urgent)["four_eyes_review"]["article"] == "ETS185 Art 25(3)"
    # A central authority sends with four eyes, emergency or not.
    em = create(api, "emergency_disclosure", "ME", who=CA)["id"]
    assert move(api, em, "send_alone", CA).status_code == 409


# ---------------------------------------------------------------- 6: lists
def test_the_request_list_carries_what_a_desk_needs_sorted_and_filtered(own_api):
    api = own_api
    mla = create(api)  # a draft; its deadlines come from the checker
    api.clock.now += dt.timedelta(minutes=1)
    pres = sent(api, "preservation", "ME")
    api.clock.now += dt.timedelta(minutes=1)
    spont = create(api, "spontaneous_information", "SI")
    r = api.client.get("/api/v1/requests?sort=due", headers=api.as_(*CA))
    assert r.status_code == 200, r.text
    items = {i["id"]: i for i in r.json()["items"]}
    p = items[pres]
    assert p["case_reference"].startswith("K-") and p["request_type"] == "preservation"
    assert (p["requesting_party"], p["requested_party"], p["status"], p["urgent"]) == ("RS", "ME", "sent", True)
    assert (p["next_due_on"], p["next_due_name"]) == ("2027-01-19", "preservation_minimum")
    dues = [i["next_due_on"] for i in r.json()["items"]]
    known = [d for d in dues if d is not None]
    assert known == sorted(known) and dues[:len(known)] == known  # earliest first, none last
    rev = [i["next_due_on"] for i in api.client.get("/api/v1/requests?sort=-due", headers=api.as_(*CA)).json()["items"]]
    assert [d for d in rev if d] == sorted(known, reverse=True)
    urgency = api.client.get("/api/v1/requests?sort=urgency", headers=api.as_(*CA)).json()["items"]
    assert urgency[0]["id"] == pres and [i["urgent"] for i in urgency] == sorted((i["urgent"] for i in urgency),
                                                                                 reverse=True)
    created = [i["id"] for i in api.client.get("/api/v1/requests?sort=created", headers=api.as_(*CA)).json()["items"]]
    newest = [i["id"] for i in api.client.get("/api/v1/requests?sort=-created", headers=api.as_(*CA)).json()["items"]]
    assert created[0] == mla["id"] and newest[0] == spont["id"]
    r = api.client.get(f"/api/v1/requests?status=sent&type=preservation&case_id={p['case_id']}", headers=api.as_(*CA))
    assert [i["id"] for i in r.json()["items"]] == [pres] and r.json()["total"] == 1
    r = api.client.get("/api/v1/requests?sort=deadline", headers=api.as_(*CA))
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/"), r.text
    cases = {c["id"]: c for c in api.client.get("/api/v1/cases", headers=api.as_(*CA)).json()["items"]}
    assert cases[p["case_id"]]["request_count"] == 1 and cases[p["case_id"]]["next_due_on"] == "2027-01-19"


@pytest.mark.parametrize("path", ["/api/v1/requests?sort=due", "/api/v1/cases"])
def test_lists_take_the_same_queries_for_one_row_and_a_hundred(own_api, path):
    api = own_api
    headers = api.as_(*CA)
    engine = api.sessionmaker.kw["bind"]
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    def queries() -> int:
        statements.clear()
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            r = api.client.get(path + ("&" if "?" in path else "?") + "limit=200", headers=headers)
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        assert r.status_code == 200, r.text
        return len(statements)

    def add(n: int) -> None:
        with api.sessionmaker() as db:
            from evidex.parties.models import User
            from evidex.parties.service import principal_of

            me = principal_of(db.execute(sa.select(User).where(User.username.like(f"{api.tag}-rs-central_authority"))
                                         ).scalar_one())
            for _ in range(n):
                case = service.create_case(db, actor=me, reference=f"N-{uuid.uuid4().hex[:8]}", title="t",
                                           now=api.clock.now)
                service.create_request(db, actor=me, law=LAW, case_id=case.id,
                                       document=document("preservation", "RS", "ME"), now=api.clock.now)
            db.commit()

    add(1)
    one = queries()
    add(99)
    assert queries() == one
    r = api.client.get(path + ("&" if "?" in path else "?") + "limit=200", headers=headers)
    assert len(r.json()["items"]) == 100 and all(i["next_due_on"] == "2027-01-19" for i in r.json()["items"])
