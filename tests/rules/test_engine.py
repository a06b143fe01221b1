"""Language, deadlines, routes, unknown keys and invalid input through check()."""

from __future__ import annotations

import datetime as dt

import pytest

from evidex.core.errors import InvalidInput
from evidex.rules import check
from tests.conftest import AS_OF, load_example
from tests.rules.test_declarations import doc, party, verdict


def test_preservation_deadline_60_days_from_receipt_else_issue(parties):
    d = load_example("preservation")
    d["received_on"] = "2026-11-21"
    (dl,) = check(d, parties, AS_OF).deadlines
    assert (dl.name, dl.days, dl.due, dl.article) == ("preservation_minimum", 60, dt.date(2027, 1, 20), "ETS185 Art 29(7)")
    d.pop("received_on")
    d["issued_on"] = "2026-11-01"
    assert check(d, parties, AS_OF).deadlines[0].due == dt.date(2026, 12, 31)
    d.pop("issued_on")
    assert check(d, parties, AS_OF).deadlines[0].due is None


@pytest.mark.parametrize(("given", "days"), [(20, 30), (30, 30), (45, 45)])
def test_7_7_longer_of_30_days_and_the_time_frame_given(given, days, parties):
    d = load_example("subscriber_order")  # received 2026-11-23
    d["elements"]["deadline_and_manner"]["days"] = given
    (dl,) = check(d, parties, AS_OF).deadlines
    assert (dl.days, dl.due, dl.article) == (days, dt.date(2026, 11, 23) + dt.timedelta(days=days), "CETS224 Art 7(7)")


def test_8_6_service_45_days_and_production_20_or_45(parties):
    d = load_example("give_effect_order")  # received 2026-11-21, subscriber
    dls = {x.article: x for x in check(d, parties, AS_OF).deadlines}
    assert dls["CETS224 Art 8(6)(a)"].due == dt.date(2027, 1, 5)
    assert (dls["CETS224 Art 8(6)(a)(i)"].days, dls["CETS224 Art 8(6)(a)(i)"].due) == (20, None)
    d["data_category"] = "traffic"
    v = verdict(doc("give_effect_order", data_category="traffic"), party("BB"))
    assert {x.article: x.days for x in v.deadlines}["CETS224 Art 8(6)(a)(ii)"] == 45
    # Incomplete information: the 45 days have not started (Art 8(6)(a)).
    d = load_example("give_effect_order")
    d["elements"].pop("relevance")
    dls = {x.article: x for x in check(d, parties, AS_OF).deadlines}
    assert dls["CETS224 Art 8(6)(a)"].due is None


def test_domain_registration_deadline_is_the_time_frame_given(parties):
    (dl,) = check(load_example("domain_registration"), parties, AS_OF).deadlines
    assert (dl.days, dl.due, dl.article) == (10, dt.date(2026, 11, 30), "CETS224 Art 6(3)(d)")


def test_malformed_deadline_and_manner_is_a_problem_not_a_crash(parties):
    d = load_example("subscriber_order")
    d["elements"]["deadline_and_manner"] = {"days": "soon", "manner": "e-mail"}
    v = check(d, parties, AS_OF)
    assert ("invalid_element", "CETS224 Art 7(4)(d)") in {(p.code, p.article) for p in v.problems}


def test_protocol_language_rules():
    # Art 8/9/10: the requested Party's languages (CETS224 Art 4(1)).
    bb = party("BB", languages=["bb", "fr"])
    v = verdict(doc("give_effect_order"), bb)
    assert "CETS224 Art 4(1)" in {p.article for p in v.problems}
    assert verdict(doc("give_effect_order", translation_language="fr"), bb).admissible
    assert verdict(doc("give_effect_order", language="fr-FR"), bb).admissible
    d = doc("emergency_disclosure")
    d.pop("language")
    assert "language_missing" in {p.code for p in verdict(d, party("BB")).problems}
    # Art 6/7: the provider's accepted languages plus the domestic language (CETS224 Art 4(2)).
    bb = party("BB", languages=["bb"], domestic_languages=["bb"])
    d = doc("domain_registration")
    d["addressee"]["accepted_languages"] = ["de"]
    v = verdict(d, bb)
    assert "CETS224 Art 4(2)" in {p.article for p in v.problems}
    assert verdict({**d, "language": "bb"}, bb).admissible
    assert verdict({**d, "language": "de"}, bb).admissible


def test_convention_types_only_warn_about_language():
    v = verdict(doc("mutual_assistance", language="de"), party("BB"))
    assert v.admissible and "language_not_listed" in {w.code for w in v.warnings}


def test_routes_name_registered_authorities(parties):
    v = check(load_example("give_effect_order"), parties, AS_OF)
    assert (v.route.from_.party, v.route.from_.authority) == ("RS", "art8_sending")
    assert (v.route.to.party, v.route.to.authority) == ("SI", "art8_receiving")
    assert v.route.to.name and v.route.article == "CETS224 Art 8(10)"
    v = check(load_example("preservation"), parties, AS_OF)
    assert (v.route.from_.authority, v.route.to.authority, v.route.article) == ("contact_24_7", "contact_24_7", "ETS185 Art 35(1)(b)")
    v = check(load_example("emergency_disclosure"), parties, AS_OF)
    assert v.route.to.authority == "contact_24_7"


def test_emergency_disclosure_must_use_the_24_7_network(parties):
    d = load_example("emergency_disclosure")
    d["sent_by"] = "central_authority"
    v = check(d, parties, AS_OF)
    assert ("channel_not_allowed", "CETS224 Art 9(1)(a)") in {(p.code, p.article) for p in v.problems}


def test_unknown_keys_are_warnings(parties):
    d = load_example("preservation")
    d["elements"]["favourite_colour"] = "blue"
    d["priority"] = "high"
    v = check(d, parties, AS_OF)
    assert v.admissible
    assert {("unknown_element", "favourite_colour"), ("unknown_field", "priority")} <= {(w.code, w.element) for w in v.warnings}


@pytest.mark.parametrize(("field", "value"), [("urgent", "maybe"), ("sent_by", "pigeon"), ("issuing_authority", "x"),
                                              ("addressee", 5), ("elements", []), ("data_category", "dna")])
def test_malformed_fields_are_problems_not_invalid_input(field, value, parties):
    d = load_example("subscriber_order")
    d[field] = value
    v = check(d, parties, AS_OF)
    assert not v.admissible
    assert ("invalid_field", field) in {(p.code, p.element) for p in v.problems}


@pytest.mark.parametrize(("change", "message"), [
    ({"type": "teleportation"}, "unknown request type"),
    ({"requested_party": "ZZ"}, "unknown Party"),
    ({"requested_party": "RS", "requesting_party": "RS"}, "both RS"),
    ({"issued_on": "2026-02-30"}, "not a date"),
    ({"received_on": "yesterday"}, "not a date"),
    ({"issued_on": 20261120}, "not a date"),
    ({"requesting_party": "Serbia"}, "not a Party code"),
])
def test_invalid_input(change, message, parties):
    d = {**load_example("preservation"), **change}
    with pytest.raises(InvalidInput, match=message):
        check(d, parties, AS_OF)


@pytest.mark.parametrize("document", [[], "text", 5, None, {"type": "preservation"}])
def test_what_is_not_a_request(document, parties):
    with pytest.raises(InvalidInput):
        check(document, parties, AS_OF)


def test_party_codes_are_case_insensitive(parties):
    d = load_example("preservation")
    d["requesting_party"], d["requested_party"] = "rs", "me"
    assert check(d, parties, AS_OF).admissible


def test_shipped_profiles_are_marked_as_examples(parties):
    for code in ("RS", "ME", "SI", "AL", "BA", "MK"):
        assert parties.get(code, AS_OF).source == "example"


@pytest.mark.parametrize(("kind", "sent_by", "ok"), [
    ("subscriber_order", "central_authority", True), ("subscriber_order", "interpol", False),
    ("domain_registration", "contact_24_7", True), ("domain_registration", "interpol", False),
    ("give_effect_order", "interpol", False), ("emergency_disclosure", "competent_authority", False),
    ("mutual_assistance", "contact_24_7", False), ("preservation", "central_authority", True),
])
def test_who_may_send(kind, sent_by, ok):
    v = verdict(doc(kind, sent_by=sent_by), party("BB"))
    assert v.admissible is ok, [(p.article, p.message) for p in v.problems]
    if not ok:
        assert "channel_not_allowed" in {p.code for p in v.problems}
