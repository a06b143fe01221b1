"""The engine follows LEGAL.md as precised: §2 the addressee's kind fits the article; §3 `since`
and `until`; §4 declaration 7(8) concerns subscriber information only; §5 no deadline of a type
that cannot apply, and every warning cites its own article. Each test starts from two plain
Parties (tests/rules/test_declarations.py) where the request is admissible, and changes one thing."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.rules.test_declarations import arts, doc, party, verdict

# ------------------------------------------------------------------ §2 the addressee's kind


@pytest.mark.parametrize(("kind", "article", "right", "wrong"), [
    ("domain_registration", "CETS224 Art 6(1)", "registrar", "service_provider"),
    ("subscriber_order", "CETS224 Art 7(1)", "service_provider", "registrar"),
    ("give_effect_order", "CETS224 Art 8(1)", "service_provider", "registrar"),
    ("emergency_disclosure", "CETS224 Art 9(1)", "service_provider", "registrar"),
])
def test_the_addressee_kind_must_fit_the_article(kind, article, right, wrong):
    d = doc(kind)
    d["addressee"]["kind"] = right
    fitting = verdict(d, party("BB"))
    assert fitting.admissible
    d["addressee"]["kind"] = wrong
    v = verdict(d, party("BB"))
    assert not v.admissible
    (p,) = [p for p in v.problems if p.code == "addressee_kind_not_allowed"]
    assert (p.article, p.element) == (article, "addressee.kind")
    assert wrong.replace("_", " ") in p.message
    # LEGAL.md §5 names only instruments and data category: the type still applies and its periods run
    assert v.deadlines == fitting.deadlines


def test_an_addressee_of_unstated_kind_is_no_mismatch():
    d = doc("subscriber_order")
    d["addressee"].pop("kind")
    assert verdict(d, party("BB")).admissible


# ------------------------------------------------------------------ §3 since and until
SINCE, UNTIL = dt.date(2026, 3, 1), dt.date(2026, 9, 1)
DAY = dt.timedelta(days=1)


@pytest.mark.parametrize(("on", "in_force"), [
    (SINCE - DAY, False), (SINCE, True), (UNTIL - DAY, True), (UNTIL, False),
])
def test_a_reservation_is_in_force_from_since_and_no_longer_on_until(on, in_force):
    bb = party("BB", reservations={"CETS224 Art 7(9)(a)": {"since": SINCE, "until": UNTIL}})
    v = verdict(doc("subscriber_order"), bb, on=on)
    assert ("CETS224 Art 7(9)(a)" in arts(v)) is in_force


@pytest.mark.parametrize(("on", "bound"), [
    (SINCE - DAY, False), (SINCE, True), (UNTIL - DAY, True), (UNTIL, False),
])
def test_an_instrument_binds_from_since_and_no_longer_on_until(on, bound):
    bb = party("BB", instruments=["ETS185", {"code": "CETS224", "since": SINCE, "until": UNTIL}])
    v = verdict(doc("subscriber_order"), bb, on=on)
    assert ("instrument_not_binding" not in {p.code for p in v.problems}) is bound


# ------------------------------------------------------------------ §4 declaration 7(8)


def test_declaration_7_8_concerns_subscriber_information_only():
    bb = party("BB", declarations={"CETS224 Art 7(8)": True})
    v = verdict(doc("give_effect_order", data_category="subscriber"), bb)
    assert "CETS224 Art 7(8)" in arts(v)
    v = verdict(doc("give_effect_order", data_category="traffic"), bb)
    assert v.admissible, [(p.article, p.message) for p in v.problems]
    assert all("7(8)" not in f.article + f.message for f in [*v.problems, *v.warnings])


# ------------------------------------------------------------------ §5 no deadline of a type that cannot apply


def test_no_article_8_6_deadline_where_article_8_cannot_apply():
    names = {"service_on_provider", "provider_production"}
    # Article 8 applies: its deadlines are given.
    v = verdict(doc("give_effect_order", data_category="traffic"), party("BB"))
    assert {d.name for d in v.deadlines} == names
    # Traffic data under a CETS224 Art 8(13) reservation.
    v = verdict(doc("give_effect_order", data_category="traffic"), party("BB", reservations={"CETS224 Art 8(13)": True}))
    assert "CETS224 Art 8(13)" in arts(v) and v.deadlines == []
    # A data category outside Art 8(1).
    v = verdict(doc("give_effect_order", data_category="content"), party("BB"))
    assert "CETS224 Art 8(1)" in arts(v) and v.deadlines == []
    # A Party not bound by the Protocol.
    v = verdict(doc("give_effect_order"), party("BB", instruments=["ETS185"]))
    assert "instrument_not_binding" in {p.code for p in v.problems} and v.deadlines == []


def test_no_article_7_7_deadline_where_article_7_cannot_apply():
    assert [d.article for d in verdict(doc("subscriber_order"), party("BB")).deadlines] == ["CETS224 Art 7(7)"]
    v = verdict(doc("subscriber_order"), party("BB", reservations={"CETS224 Art 7(9)(a)": True}))
    assert not v.admissible and v.deadlines == []
    v = verdict(doc("subscriber_order", data_category="traffic"), party("BB"))
    assert "CETS224 Art 7(1)" in arts(v) and v.deadlines == []


def test_a_language_warning_on_spontaneous_information_cites_no_mutual_assistance_article():
    # ETS185 Art 26 is information sent unasked, not assistance: Art 25, 27-28 (MLA) do not apply.
    bb = party("BB", languages=["bb"], domestic_languages=["bb"])
    v = verdict(doc("spontaneous_information", language="de"), bb)
    (w,) = [w for w in v.warnings if w.code == "language_not_listed"]
    assert w.article == "ETS185 Art 26(1)"
    mla = ("ETS185 Art 25", "ETS185 Art 27", "ETS185 Art 28")
    assert not [f.article for f in [*v.warnings, *v.problems, *v.obligations] if f.article.startswith(mla)]
    # A mutual assistance request keeps its own article: the requested Party's law (ETS185 Art 25(4)).
    v = verdict(doc("mutual_assistance", language="de"), bb)
    assert {w.article for w in v.warnings if w.code == "language_not_listed"} == {"ETS185 Art 25(4)"}
