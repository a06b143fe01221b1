"""GET /api/v1/requests filtered by Party, by the next due date and by a reference (issue 14 item 4: the
same service serves the web list), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid

from evidex.parties.roles import Role
from tests.factories import document, transition_body

CA, CA2 = ("RS", Role.central_authority), ("RS", Role.central_authority, "-2")


def create(api, kind, requested, reference, **changes):
    r = api.client.post("/api/v1/cases", json={"reference": reference, "title": "Phishing"}, headers=api.as_(*CA))
    assert r.status_code == 201, r.text
    doc = document(kind, "RS", requested)
    doc.update(changes)
    r = api.client.post("/api/v1/requests", json={"case_id": r.json()["id"], "document": doc}, headers=api.as_(*CA))
    assert r.status_code == 201, r.text
    return r.json()


def ids(api, query):
    r = api.client.get(f"/api/v1/requests?{query}", headers=api.as_(*CA))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(body["items"])
    return {i["id"] for i in body["items"]}


def test_the_list_is_filtered_by_party_due_date_and_reference(own_api):
    api = own_api
    pres = create(api, "preservation", "ME", "KT-Alpha 1/26")["id"]
    for event, who in (("check", CA), ("approve", CA2), ("send_outside", CA)):
        r = api.client.post(f"/api/v1/requests/{pres}/transitions", json=transition_body(event), headers=api.as_(*who))
        assert r.status_code == 200, r.text
    mla = create(api, "mutual_assistance", "SI", "KT-Beta 2/26", case_reference="Docs 50%_off")["id"]
    api.clock.now += dt.timedelta(minutes=1)
    spont = create(api, "spontaneous_information", "SI", "KT-Gamma 3/26")["id"]
    assert ids(api, "") == {pres, mla, spont}
    # Party: either side of the request, written in either case.
    assert ids(api, "party=ME") == {pres}
    assert ids(api, "party=si") == {mla, spont}
    assert ids(api, "party=RS") == {pres, mla, spont}
    assert ids(api, "party=AL") == set()
    # The preservation's one deadline falls on 2027-01-19 (ETS185 Art 29(7), 60 days from 2026-11-20).
    assert ids(api, "due_before=2027-01-19") == set()
    assert ids(api, "due_before=2027-01-20") == {pres}
    assert ids(api, "due_before=2027-01-20&party=SI") == set()
    # References: the case's, the document's own, the conversation's, the id; any case; % and _ are plain.
    assert ids(api, "search=alpha") == {pres}
    assert ids(api, "search=kt-") == {pres, mla, spont}
    assert ids(api, "search=%20gamma%203/%20") == {spont}  # the spaces around a search are not searched
    assert ids(api, "search=vtk-ktr-1127") == {pres}  # the reference the document gives
    assert ids(api, "search=4411/2026") == {spont}
    assert ids(api, "search=50%25_") == {mla}
    assert ids(api, "search=5%25") == set()  # "5%" is not "5 and anything"
    assert ids(api, "search=_off") == {mla}
    assert ids(api, "search=0_o") == set()
    assert ids(api, f"search={pres.upper()}") == {pres}
    assert ids(api, f"search={pres[:8]}") == {pres}  # a part of the conversation id (the request's id, outgoing)
    assert ids(api, "search=nothing-like-it") == set()
    # Filters combine with the others and with the page.
    r = api.client.get("/api/v1/requests?party=SI&limit=1&sort=created", headers=api.as_(*CA))
    assert r.json()["total"] == 2 and [i["id"] for i in r.json()["items"]] == [mla]
    assert ids(api, "party=SI&type=spontaneous_information") == {spont}


def test_bad_filters_are_refused_with_the_field_named(own_api):
    api = own_api
    for query, field in (("party=SRB", "party"), ("party=1A", "party"), ("due_before=2027-02-30", "due_before"),
                         ("search=" + "x" * 121, "search")):
        r = api.client.get(f"/api/v1/requests?{query}", headers=api.as_(*CA))
        assert r.status_code == 422, query
        assert any(e["field"] == f"query.{field}" for e in r.json()["errors"]), r.text


def test_another_partys_requests_never_match_a_search(own_api):
    api = own_api
    rid = create(api, "mutual_assistance", "SI", f"KT-{uuid.uuid4().hex[:6]}")["id"]
    r = api.client.get(f"/api/v1/requests?search={rid}", headers=api.as_("SI", Role.central_authority))
    assert r.status_code == 200 and r.json()["total"] == 0
