"""Every declaration and reservation of LEGAL.md changes the verdict as stated. Each test starts
from two plain Parties without declarations, where the request is admissible, and adds one."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from evidex.rules import Parties, check, default_rulebook
from evidex.rules.loader import parse_parties
from tests.conftest import AS_OF, load_example


def party(code: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "code": code, "source": "test", "name": {"en": f"Party {code}"},
        "instruments": ["ETS185", "CETS224"], "languages": ["en"], "domestic_languages": ["en"],
        "timezone": "UTC",
        "authorities": {role: {"name": f"{code} {role}", "contact": {"email": f"{role}@{code.lower()}.test"}}
                        for role in ("central_authority", "contact_24_7", "art6_consultation",
                                     "art7_notification", "art8_sending", "art8_receiving")},
        "declarations": {}, "reservations": {}, "mla_treaties": [],
        "mla_required_elements": ["offence", "facts_summary"],
    }
    base.update(changes)
    return base


def make(*profiles: dict[str, Any]) -> Parties:
    return Parties(parse_parties(list(profiles), Path("<test>"), default_rulebook()))


def doc(kind: str, requesting: str = "AA", requested: str = "BB", **top: Any) -> dict[str, Any]:
    d = copy.deepcopy(load_example(kind))
    d["requesting_party"], d["requested_party"] = requesting, requested
    d["language"] = "en"
    if isinstance(d.get("addressee"), dict):
        d["addressee"]["accepted_languages"] = ["en"]
    d.update(top)
    return d


def verdict(d: dict[str, Any], requested: dict[str, Any], requesting: dict[str, Any] | None = None, on: dt.date = AS_OF):
    return check(d, make(requesting or party("AA"), requested), on)


def arts(v) -> set[str]:
    return {p.article for p in v.problems}


@pytest.mark.parametrize("kind", ["subscriber_order", "give_effect_order", "emergency_disclosure",
                                  "emergency_mutual_assistance", "mutual_assistance", "preservation",
                                  "domain_registration"])
def test_baseline_is_admissible(kind):
    # The emergency MLA example goes to a 24/7 contact, open only under Art 10(9): use the default channel.
    v = verdict(doc(kind, sent_by="central_authority") if kind == "emergency_mutual_assistance" else doc(kind), party("BB"))
    assert v.admissible, [(p.article, p.message) for p in v.problems]


def test_7_9_a_reservation_excludes_article_7_and_opens_article_8():
    v = verdict(doc("subscriber_order"), party("BB", reservations={"CETS224 Art 7(9)(a)": True}))
    assert not v.admissible and "CETS224 Art 7(9)(a)" in arts(v)
    assert [a.request_type for a in v.alternatives] == ["give_effect_order", "mutual_assistance"]


def test_7_9_b_reservation_only_for_the_listed_access_number_types():
    bb = party("BB", reservations={"CETS224 Art 7(9)(b)": {"access_number_types": ["dynamic_ip_address"]}})
    d = doc("subscriber_order")
    d["elements"]["access_number_type"] = "dynamic_ip_address"
    v = verdict(d, bb)
    assert not v.admissible and "CETS224 Art 7(9)(b)" in arts(v)
    d["elements"]["access_number_type"] = "static_ip_address"
    assert verdict(d, bb).admissible


def test_7_2_b_requires_prosecutorial_judicial_or_independent_supervision():
    bb = party("BB", declarations={"CETS224 Art 7(2)(b)": True})
    d = doc("subscriber_order")
    d["issuing_authority"]["kind"] = "police"
    v = verdict(d, bb)
    assert not v.admissible and "CETS224 Art 7(2)(b)" in arts(v)
    assert verdict(d, party("BB")).admissible  # without the declaration police may issue
    d["issuing_authority"]["independent_supervision"] = True
    assert verdict(d, bb).admissible
    d["issuing_authority"] = {**d["issuing_authority"], "kind": "judge", "independent_supervision": False}
    assert verdict(d, bb).admissible


def test_7_5_a_always_requires_notification_elements_route_and_language():
    bb = party("BB", declarations={"CETS224 Art 7(5)(a)": {"when": "always"}}, languages=["bb"])
    d = doc("subscriber_order")
    d["elements"].pop("notification_statement")
    d["elements"].pop("facts_summary")
    v = verdict(d, bb)
    assert {"CETS224 Art 7(4)(g)", "CETS224 Art 7(5)(a)"} <= arts(v)
    # The provider accepts English, but the notified Party (CETS224 Art 4(1)) does not.
    assert "CETS224 Art 4(1)" in arts(v)
    d = doc("subscriber_order", translation_language="bb")
    v = verdict(d, bb)
    assert v.admissible, [(p.article, p.message) for p in v.problems]
    assert [n.to.authority for n in v.route.notifications] == ["art7_notification"]
    assert v.route.notifications[0].article == "CETS224 Art 7(5)(a)"
    # Without the declaration: no notification, the elements are not mandatory.
    d = doc("subscriber_order")
    d["elements"].pop("notification_statement")
    d["elements"].pop("facts_summary")
    v = verdict(d, party("BB"))
    assert v.admissible and v.route.notifications == []


def test_7_5_a_in_stated_circumstances():
    bb = party("BB", declarations={"CETS224 Art 7(5)(a)": {"when": [{"data_category": ["subscriber"]}]}})
    d = doc("subscriber_order")
    d["elements"].pop("notification_statement")
    assert "CETS224 Art 7(4)(g)" in arts(verdict(d, bb))
    d.pop("data_category")
    assert verdict(d, bb).admissible
    text = party("BB", declarations={"CETS224 Art 7(5)(a)": {"when": ["offences against the State"]}})
    v = verdict(d, text)
    assert v.admissible and "notification_circumstances" in {w.code for w in v.warnings}


def test_7_5_a_since_date_versions_the_profile():
    bb = party("BB", declarations={"CETS224 Art 7(5)(a)": {"when": "always", "since": dt.date(2027, 1, 1)}})
    d = doc("subscriber_order")
    d["elements"].pop("notification_statement")
    assert verdict(d, bb, on=dt.date(2026, 12, 31)).admissible
    assert "CETS224 Art 7(4)(g)" in arts(verdict(d, bb, on=dt.date(2027, 1, 1)))


def test_7_5_b_provider_must_consult_first():
    v = verdict(doc("subscriber_order"), party("BB", declarations={"CETS224 Art 7(5)(b)": True}))
    assert v.admissible
    assert any(o.article == "CETS224 Art 7(5)(b)" and o.by == "addressee" for o in v.obligations)
    assert not any(o.article == "CETS224 Art 7(5)(b)" for o in verdict(doc("subscriber_order"), party("BB")).obligations)


def test_7_8_requires_prior_article_7_attempt_or_reason():
    bb = party("BB", declarations={"CETS224 Art 7(8)": True})
    d = doc("give_effect_order")
    v = verdict(d, bb)
    assert not v.admissible and "CETS224 Art 7(8)" in arts(v)
    d["elements"]["reason_no_prior_attempt"] = "The provider does not answer foreign orders directly"
    assert verdict(d, bb).admissible
    d = doc("give_effect_order")
    d["elements"]["prior_article_7_attempt"] = {"on": "2026-10-01", "reference": "7/2026/12"}
    assert verdict(d, bb).admissible


def test_8_4_additional_elements():
    bb = party("BB", declarations={"CETS224 Art 8(4)": {"additional_elements": ["court_order_copy"]}})
    d = doc("give_effect_order")
    v = verdict(d, bb)
    assert ("court_order_copy", "CETS224 Art 8(4)") in {(p.element, p.article) for p in v.problems}
    d["elements"]["court_order_copy"] = "attached"
    assert verdict(d, bb).admissible


def test_8_11_requests_from_the_central_authority_only():
    bb = party("BB", declarations={"CETS224 Art 8(11)": True})
    d = doc("give_effect_order", sent_by="competent_authority")
    assert verdict(d, party("BB")).admissible
    v = verdict(d, bb)
    assert not v.admissible and "CETS224 Art 8(11)" in arts(v)
    assert verdict(doc("give_effect_order", sent_by="central_authority"), bb).admissible
    mutual = party("BB", declarations={"CETS224 Art 8(11)": {"authorities": ["competent_authority"]}})
    assert verdict(d, mutual).admissible


def test_8_13_reservation_excludes_traffic_data_only():
    bb = party("BB", reservations={"CETS224 Art 8(13)": True})
    v = verdict(doc("give_effect_order", data_category="traffic"), bb)
    assert not v.admissible and "CETS224 Art 8(13)" in arts(v)
    assert [a.request_type for a in v.alternatives] == ["mutual_assistance"]
    assert verdict(doc("give_effect_order", data_category="subscriber"), bb).admissible


def test_9_1_b_declaration_excludes_subscriber_only_emergency_requests():
    bb = party("BB", declarations={"CETS224 Art 9(1)(b)": True})
    v = verdict(doc("emergency_disclosure", data_category="subscriber"), bb)
    assert not v.admissible and "CETS224 Art 9(1)(b)" in arts(v)
    assert v.alternatives[0].request_type == "emergency_mutual_assistance"
    assert verdict(doc("emergency_disclosure", data_category="traffic"), bb).admissible


def test_9_5_declaration_creates_the_follow_up_obligation():
    v = verdict(doc("emergency_disclosure"), party("BB", declarations={"CETS224 Art 9(5)": True}))
    assert v.admissible and any(o.article == "CETS224 Art 9(5)" and o.by == "requesting" for o in v.obligations)
    assert not any(o.article == "CETS224 Art 9(5)" for o in verdict(doc("emergency_disclosure"), party("BB")).obligations)


@pytest.mark.parametrize("sent_by", ["contact_24_7", "interpol", "judicial_authority"])
def test_10_9_opens_direct_channels_with_a_copy_between_central_authorities(sent_by):
    d = doc("emergency_mutual_assistance", sent_by=sent_by)
    v = verdict(d, party("BB"))
    assert not v.admissible and "CETS224 Art 10(9)" in arts(v)
    v = verdict(d, party("BB", declarations={"CETS224 Art 10(9)": True}))
    assert v.admissible
    assert [(c.from_.authority, c.to.authority, c.article) for c in v.route.copies] == [
        ("central_authority", "central_authority", "CETS224 Art 10(9)")]


def test_27_9_e_urgent_requests_go_to_the_central_authority():
    d = doc("mutual_assistance", sent_by="judicial_authority", urgent=True)
    v = verdict(d, party("BB"))
    assert v.admissible and v.route.to.authority == "judicial_authority"
    assert v.route.article == "ETS185 Art 27(9)(a)"
    assert [c.article for c in v.route.copies] == ["ETS185 Art 27(9)(a)"]
    v = verdict(d, party("BB", declarations={"ETS185 Art 27(9)(e)": True}))
    assert v.route.to.authority == "central_authority"
    assert "ETS185 Art 27(9)(e)" in {w.article for w in v.warnings}


def test_27_9_judicial_channel_only_when_urgent():
    v = verdict(doc("mutual_assistance", sent_by="judicial_authority", urgent=False), party("BB"))
    assert not v.admissible and "ETS185 Art 27(9)(a)" in arts(v)


def test_29_4_reservation_warns_about_dual_criminality():
    bb = party("BB", reservations={"ETS185 Art 29(4)": True})
    d = doc("preservation")
    d["elements"]["offence_convention_article"] = "ETS185 Art 8"
    v = verdict(d, bb)
    assert v.admissible and "dual_criminality_may_be_required" not in {w.code for w in v.warnings}
    d["elements"].pop("offence_convention_article")
    v = verdict(d, bb)
    assert v.admissible  # a warning, not a refusal by the engine
    assert ("dual_criminality_may_be_required", "ETS185 Art 29(4)") in {(w.code, w.article) for w in v.warnings}
    d["elements"]["offence_convention_article"] = "Criminal Code Art 138 (harassment)"
    assert "ETS185 Art 29(4)" in {w.article for w in verdict(d, bb).warnings}
    assert "ETS185 Art 29(4)" not in {w.article for w in verdict(d, party("BB")).warnings}


def test_mla_treaty_displaces_articles_27_and_28():
    d = doc("mutual_assistance")
    v = verdict(d, party("BB", mla_treaties=["AA"]))
    assert v.admissible and v.route.article == "ETS185 Art 27(1)"
    assert "mla_treaty_applies" in {w.code for w in v.warnings}
    assert not any(o.article.startswith("ETS185 Art 27(") for o in v.obligations)
    v = verdict(d, party("BB"))
    assert v.route.article == "ETS185 Art 27(2)(b)"
    assert any(o.article == "ETS185 Art 27(7)" for o in v.obligations)


def test_requested_party_mla_required_elements():
    bb = party("BB", mla_required_elements=["offence", "witness_list"])
    v = verdict(doc("mutual_assistance"), bb)
    assert ("witness_list", "ETS185 Art 25(4)") in {(p.element, p.article) for p in v.problems}


@pytest.mark.parametrize("kind", ["subscriber_order", "give_effect_order", "emergency_disclosure",
                                  "emergency_mutual_assistance", "domain_registration"])
def test_protocol_types_need_both_parties_bound_by_cets224(kind):
    bb = party("BB", instruments=["ETS185"])
    v = verdict(doc(kind), bb)
    assert not v.admissible
    assert "instrument_not_binding" in {p.code for p in v.problems}
    assert any(a.request_type == "mutual_assistance" for a in v.alternatives)
    v = verdict(doc(kind), party("BB"), requesting=party("AA", instruments=["ETS185"]))
    assert not v.admissible


def test_instrument_binding_is_dated():
    bb = party("BB", instruments=["ETS185", {"code": "CETS224", "since": dt.date(2027, 3, 1)}])
    assert not verdict(doc("subscriber_order"), bb, on=dt.date(2027, 2, 28)).admissible
    assert verdict(doc("subscriber_order"), bb, on=dt.date(2027, 3, 1)).admissible


def test_no_treaty_route_at_all():
    v = verdict(doc("preservation"), party("BB", instruments=["UNCC"]))
    assert not v.admissible and v.alternatives == []
    assert "No treaty route" in v.problems[0].message
