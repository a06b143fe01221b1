"""Every request type is admissible when complete; every mandatory element, removed, makes it
inadmissible citing that element's article. The expected articles are written out here by hand
from LEGAL.md §4 and the treaty texts, independently of the data files."""

from __future__ import annotations

import pytest

from evidex.rules import check
from tests.conftest import AS_OF, COMPLETE, load_example, remove

# (request type, element, article) — from the treaty text, not from request_types.yaml.
MANDATORY = [
    ("preservation", "case_reference", "ETS185 Art 25(1)"),
    ("preservation", "issuing_authority", "ETS185 Art 29(2)(a)"),
    ("preservation", "offence", "ETS185 Art 29(2)(b)"),
    ("preservation", "facts_summary", "ETS185 Art 29(2)(b)"),
    ("preservation", "data_description", "ETS185 Art 29(2)(c)"),
    ("preservation", "data_relation_to_offence", "ETS185 Art 29(2)(c)"),
    ("preservation", "custodian_or_location", "ETS185 Art 29(2)(d)"),
    ("preservation", "preservation_necessity", "ETS185 Art 29(2)(e)"),
    ("preservation", "intent_to_request_mla", "ETS185 Art 29(2)(f)"),
    # MLA: the requested Party's mla_required_elements (ETS185 Art 25(4)); SI requires these.
    ("mutual_assistance", "case_reference", "ETS185 Art 25(1)"),
    ("mutual_assistance", "issuing_authority", "ETS185 Art 25(4)"),
    ("mutual_assistance", "offence", "ETS185 Art 25(4)"),
    ("mutual_assistance", "facts_summary", "ETS185 Art 25(4)"),
    ("mutual_assistance", "assistance_sought", "ETS185 Art 25(4)"),
    ("mutual_assistance", "data_description", "ETS185 Art 25(4)"),
    ("mutual_assistance", "domestic_legal_basis", "ETS185 Art 25(4)"),
    ("realtime_traffic", "offence", "ETS185 Art 25(4)"),
    ("realtime_traffic", "assistance_sought", "ETS185 Art 25(4)"),
    ("interception", "data_description", "ETS185 Art 25(4)"),
    ("interception", "case_reference", "ETS185 Art 25(1)"),
    ("spontaneous_information", "case_reference", "ETS185 Art 26(1)"),
    ("domain_registration", "case_reference", "CETS224 Art 2(1)(a)"),
    ("domain_registration", "issued_on", "CETS224 Art 6(3)(a)"),
    ("domain_registration", "issuing_authority", "CETS224 Art 6(3)(a)"),
    ("domain_registration", "issuing_authority.contact", "CETS224 Art 6(3)(a)"),
    ("domain_registration", "domain_name", "CETS224 Art 6(3)(b)"),
    ("domain_registration", "information_requested", "CETS224 Art 6(3)(b)"),
    ("domain_registration", "protocol_statement", "CETS224 Art 6(3)(c)"),
    ("domain_registration", "deadline_and_manner", "CETS224 Art 6(3)(d)"),
    ("domain_registration", "addressee.name", "CETS224 Art 6(1)"),
    ("subscriber_order", "case_reference", "CETS224 Art 2(1)(a)"),
    ("subscriber_order", "issuing_authority", "CETS224 Art 7(3)(a)"),
    ("subscriber_order", "issued_on", "CETS224 Art 7(3)(a)"),
    ("subscriber_order", "protocol_statement", "CETS224 Art 7(3)(b)"),
    ("subscriber_order", "addressee.name", "CETS224 Art 7(3)(c)"),
    ("subscriber_order", "addressee.address", "CETS224 Art 7(3)(c)"),
    ("subscriber_order", "offence", "CETS224 Art 7(3)(d)"),
    ("subscriber_order", "data_description", "CETS224 Art 7(3)(f)"),
    ("subscriber_order", "domestic_legal_basis", "CETS224 Art 7(4)(a)"),
    ("subscriber_order", "offence_provisions_and_penalties", "CETS224 Art 7(4)(b)"),
    ("subscriber_order", "return_contact", "CETS224 Art 7(4)(c)"),
    ("subscriber_order", "deadline_and_manner", "CETS224 Art 7(4)(d)"),
    ("subscriber_order", "preservation_status", "CETS224 Art 7(4)(e)"),
    # RS declared Art 7(5)(a) always: notification statement and summary of facts are due.
    ("subscriber_order", "notification_statement", "CETS224 Art 7(4)(g)"),
    ("subscriber_order", "facts_summary", "CETS224 Art 7(5)(a)"),
    ("give_effect_order", "case_reference", "CETS224 Art 2(1)(a)"),
    ("give_effect_order", "data_category", "CETS224 Art 8(1)"),
    ("give_effect_order", "issuing_authority", "CETS224 Art 8(3)(a)(i)"),
    ("give_effect_order", "issued_on", "CETS224 Art 8(3)(a)(i)"),
    ("give_effect_order", "protocol_statement", "CETS224 Art 8(3)(a)(ii)"),
    ("give_effect_order", "addressee.name", "CETS224 Art 8(3)(a)(iii)"),
    ("give_effect_order", "addressee.address", "CETS224 Art 8(3)(a)(iii)"),
    ("give_effect_order", "offence", "CETS224 Art 8(3)(a)(iv)"),
    ("give_effect_order", "data_description", "CETS224 Art 8(3)(a)(vi)"),
    ("give_effect_order", "domestic_legal_basis", "CETS224 Art 8(3)(b)(i)"),
    ("give_effect_order", "offence_provisions_and_penalties", "CETS224 Art 8(3)(b)(ii)"),
    ("give_effect_order", "reason_provider_holds_data", "CETS224 Art 8(3)(b)(iii)"),
    ("give_effect_order", "facts_summary", "CETS224 Art 8(3)(b)(iv)"),
    ("give_effect_order", "relevance", "CETS224 Art 8(3)(b)(v)"),
    ("give_effect_order", "contact_authorities", "CETS224 Art 8(3)(b)(vi)"),
    ("give_effect_order", "preservation_status", "CETS224 Art 8(3)(b)(vii)"),
    ("give_effect_order", "other_requests_status", "CETS224 Art 8(3)(b)(viii)"),
    # SI declared under Art 8(4) that it needs a judicial authorisation.
    ("give_effect_order", "judicial_authorisation", "CETS224 Art 8(4)"),
    ("emergency_disclosure", "case_reference", "CETS224 Art 2(1)(a)"),
    ("emergency_disclosure", "issuing_authority", "CETS224 Art 9(3)(a)"),
    ("emergency_disclosure", "issued_on", "CETS224 Art 9(3)(a)"),
    ("emergency_disclosure", "protocol_statement", "CETS224 Art 9(3)(b)"),
    ("emergency_disclosure", "addressee.name", "CETS224 Art 9(3)(c)"),
    ("emergency_disclosure", "addressee.address", "CETS224 Art 9(3)(c)"),
    ("emergency_disclosure", "offence", "CETS224 Art 9(3)(d)"),
    ("emergency_disclosure", "offence_provisions_and_penalties", "CETS224 Art 9(3)(d)"),
    ("emergency_disclosure", "emergency_facts", "CETS224 Art 9(3)(e)"),
    ("emergency_disclosure", "data_description", "CETS224 Art 9(3)(f)"),
    ("emergency_mutual_assistance", "case_reference", "CETS224 Art 2(1)(a)"),
    ("emergency_mutual_assistance", "emergency_facts", "CETS224 Art 10(1)"),
    ("emergency_mutual_assistance", "assistance_sought", "ETS185 Art 25(4)"),
    ("emergency_mutual_assistance", "offence", "ETS185 Art 25(4)"),
]


@pytest.mark.parametrize("name", COMPLETE)
def test_complete_example_is_admissible(name, parties):
    v = check(load_example(name), parties, AS_OF)
    assert v.admissible, [(p.article, p.message) for p in v.problems]
    assert v.request_type == name
    assert v.route is not None


@pytest.mark.parametrize(("request_type", "element", "article"), MANDATORY)
def test_removing_a_mandatory_element_makes_it_inadmissible(request_type, element, article, parties):
    doc = remove(load_example(request_type), element)
    v = check(doc, parties, AS_OF)
    assert not v.admissible
    assert (element, article) in {(p.element, p.article) for p in v.problems}, [
        (p.element, p.article) for p in v.problems
    ]


def test_every_mandatory_element_in_the_data_is_covered_by_the_hand_table(parties):
    """The data may not grow an element the hand-written table above does not check."""
    from evidex.rules import default_rulebook

    covered = {(t, e) for t, e, _ in MANDATORY}
    for spec in default_rulebook().types.values():
        for e in spec.elements:
            assert (spec.type, e.name) in covered or spec.mla or spec.type in ("realtime_traffic", "interception"), (
                f"{spec.type}.{e.name} ({e.article}) has no hand-written expectation"
            )


@pytest.mark.parametrize("blank", ["", "   ", False, None, [], {}])
def test_empty_blank_or_false_counts_as_missing(blank, parties):
    doc = load_example("preservation")
    doc["elements"]["intent_to_request_mla"] = blank
    v = check(doc, parties, AS_OF)
    assert ("intent_to_request_mla", "ETS185 Art 29(2)(f)") in {(p.element, p.article) for p in v.problems}


def test_false_inside_a_structured_element_is_information(parties):
    doc = load_example("subscriber_order")
    doc["elements"]["preservation_status"] = {"sought": False}
    assert check(doc, parties, AS_OF).admissible


def test_missing_element_message_names_the_article_title(parties):
    v = check(remove(load_example("subscriber_order"), "offence"), parties, AS_OF)
    msg = next(p.message for p in v.problems if p.element == "offence")
    assert "Disclosure of subscriber information" in msg
