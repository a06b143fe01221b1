"""The law by reference: named periods (periods.yaml) with their article and the dates from which
they apply, read by id; and the engine's treaty-specific texts and articles taken from the data.
Each behaviour test edits a copy of the shipped data and shows the verdict follow it."""

from __future__ import annotations

import datetime as dt

import pytest

from evidex.core.errors import RuleDataError
from evidex.rules import check, default_parties, load_parties, load_rulebook
from tests.factories import document as example
from tests.rules.conftest import edit


def document(kind: str, requested: str | None = None, issued_on: str | None = None):
    """The shipped example of a type, to another Party or issued (and received) on another day."""
    d = example(kind, "RS" if kind != "subscriber_order" else "ME",
                requested or {"preservation": "ME", "subscriber_order": "RS"}.get(kind, "SI"))
    if issued_on is not None:
        d["issued_on"] = d["received_on"] = issued_on
    return d


def _type(data, name):
    return next(t for t in data["types"] if t["type"] == name)


def _verdict(rb, doc, as_of=dt.date(2027, 6, 1)):
    return check(doc, load_parties(rulebook=rb), as_of, rulebook=rb)


def test_shipped_periods_by_id():
    rb = load_rulebook()
    assert rb.value("preservation_minimum", on=dt.date(2026, 11, 23)) == 60
    assert rb.article_of("preservation_minimum") == "ETS185 Art 29(7)"
    assert rb.value("reminder_lead", on=dt.date(2026, 11, 23)) == 10
    assert rb.article_of("reminder_lead") is None and rb.periods["reminder_lead"].practice
    step = rb.next_step("subscriber_order", "provider_response")
    assert step is not None and step.article == "CETS224 Art 7(7)" and "CETS224 Art 8" in step.message
    assert rb.next_step("subscriber_order", "nonsense") is None and rb.next_step("nonsense", "x") is None
    # Every deadline of a fixed length names a period; none is a bare number any more.
    for spec in rb.types.values():
        for d in spec.deadlines:
            assert d.period in rb.periods or d.days_from_element, (spec.type, d.name)


@pytest.mark.parametrize(("file", "mutate", "expect"), [
    ("periods.yaml", lambda d: d["periods"]["preservation_minimum"].pop("article"),
     "periods.preservation_minimum: Value error, article: required"),
    ("periods.yaml", lambda d: d["periods"]["preservation_minimum"]["values"].append({"from": "2001-11-23", "days": 90}),
     "values[1].from: 2001-11-23 overlaps values[0]"),
    ("periods.yaml", lambda d: d["periods"]["preservation_minimum"]["values"].insert(0, {"from": "2030-01-01", "days": 90}),
     "values[1].from: 2001-11-23 overlaps values[0] (from 2030-01-01)"),
    ("periods.yaml", lambda d: d["periods"]["preservation_minimum"]["values"][0].update(days=0),
     "periods.preservation_minimum.values[0].days"),
    ("periods.yaml", lambda d: d["periods"]["preservation_minimum"]["values"][0].pop("from"),
     "periods.preservation_minimum.values[0].from"),
    ("periods.yaml", lambda d: d["periods"]["preservation_minimum"].update(article="ETS185 Art 99(7)"),
     "periods.preservation_minimum.article: ETS185 Art 99 has no title"),
    ("periods.yaml", lambda d: d["periods"]["preservation_minimum"].update(lasts="forever"),
     "periods.preservation_minimum.lasts"),
    ("periods.yaml", lambda d: d["periods"].pop("provider_response"),
     "types[6].deadlines[0].period: unknown period 'provider_response'"),
    ("request_types.yaml", lambda d: _type(d, "preservation")["deadlines"][0].update(period="preservation_maximum"),
     "types[0].deadlines[0].period: unknown period 'preservation_maximum'"),
    ("request_types.yaml", lambda d: _type(d, "preservation")["deadlines"][0].pop("period"),
     "types[0].deadlines[0]: Value error, a deadline needs 'period'"),
    ("request_types.yaml", lambda d: _type(d, "preservation")["deadlines"][0]["on_lapse"].pop("article"),
     "types[0].deadlines[0].on_lapse.article"),
    ("request_types.yaml", lambda d: _type(d, "mutual_assistance")["mla_elements"].pop("article"),
     "types[1].mla_elements.article"),
    ("request_types.yaml", lambda d: _type(d, "mutual_assistance")["displaced_by_mla_treaty"].update(to="nobody"),
     "types[1].displaced_by_mla_treaty.to"),
    ("request_types.yaml", lambda d: _type(d, "subscriber_order").pop("language_article"),
     "language_article: Field required"),
])
def test_broken_period_data_names_file_and_field(data_copy, file, mutate, expect):
    edit(data_copy / file, mutate)
    with pytest.raises(RuleDataError) as e:
        load_rulebook(data_copy)
    # A period removed that a deadline still names: the error names the deadline that names it.
    named = "request_types.yaml" if expect.startswith("types[") else file
    assert named in str(e.value) and expect in str(e.value), str(e.value)


def test_a_period_changed_at_a_date_counts_from_the_day_the_period_starts(data_copy):
    """A 90-day preservation period from 2027-01-01: 90 days for requests received from then on,
    60 for those received before; a lookup before the first date answers the first value."""
    edit(data_copy / "periods.yaml", lambda d: d["periods"]["preservation_minimum"]["values"].append(
        {"from": dt.date(2027, 1, 1), "days": 90}))
    rb = load_rulebook(data_copy)
    assert [rb.value("preservation_minimum", on=dt.date(*d)) for d in ((1999, 1, 1), (2026, 12, 31), (2027, 1, 1))] \
        == [60, 60, 90]
    for issued, days in (("2026-12-31", 60), ("2027-01-01", 90), ("2027-03-01", 90)):
        doc = document("preservation", issued_on=issued)
        v = _verdict(rb, doc)
        [d] = v.deadlines
        assert (d.name, d.days, d.due, d.article) == (
            "preservation_minimum", days, dt.date.fromisoformat(issued) + dt.timedelta(days=days), "ETS185 Art 29(7)")
    # The shipped data still says 60 whatever the date.
    assert check(document("preservation", issued_on="2027-03-01"), default_parties(),
                 dt.date(2027, 6, 1)).deadlines[0].days == 60


def test_the_art_7_7_period_follows_the_data(data_copy):
    edit(data_copy / "periods.yaml", lambda d: d["periods"]["provider_response"].update(
        values=[{"from": dt.date(2022, 5, 12), "days": 40}]))
    doc = document("subscriber_order", issued_on="2026-11-23")
    doc["elements"]["deadline_and_manner"]["days"] = 10  # shorter than the period: the period counts
    [d] = _verdict(load_rulebook(data_copy), doc).deadlines
    assert (d.name, d.days, d.due) == ("provider_response", 40, dt.date(2027, 1, 2))


def test_mla_required_elements_cite_the_article_and_label_of_the_data(data_copy):
    # SI's profile lists mla_required_elements: each missing one cites the type's mla_elements article.
    doc = document("mutual_assistance", requested="SI")
    doc["elements"] = {}
    shipped = {(p.element, p.article) for p in check(doc, default_parties(), dt.date(2027, 6, 1)).problems
               if p.code == "missing_element"}
    assert ("ETS185 Art 25(4)" in {a for _, a in shipped})

    def changed(d):
        for t in d["types"]:
            if t.get("mla_elements"):
                t["mla_elements"] = {"article": "ETS185 Art 27(4)", "label": "{element} ({party} law)"}
    edit(data_copy / "request_types.yaml", changed)
    v = _verdict(load_rulebook(data_copy), doc)
    cited = {p.article for p in v.problems if p.code == "missing_element" and p.element not in ("case_reference",)}
    assert "ETS185 Art 25(4)" not in cited and "ETS185 Art 27(4)" in cited


def test_the_mla_treaty_route_is_the_data(data_copy):
    # RS and ME have an MLA treaty in force (shipped example profiles): the treaty's route.
    doc = document("mutual_assistance", requested="ME")
    shipped = check(doc, default_parties(), dt.date(2027, 6, 1))
    assert shipped.route.article == "ETS185 Art 27(1)" and "mla_treaty_applies" in {w.code for w in shipped.warnings}

    def changed(d):
        t = _type(d, "mutual_assistance")
        t["displaced_by_mla_treaty"] = dict(t["displaced_by_mla_treaty"], article="ETS185 Art 28(1)",
                                            channel="By the {requesting}-{requested} treaty")
    edit(data_copy / "request_types.yaml", changed)
    v = _verdict(load_rulebook(data_copy), doc)
    assert (v.route.article, v.route.channel) == ("ETS185 Art 28(1)", "By the RS-ME treaty")
    assert [w.article for w in v.warnings if w.code == "mla_treaty_applies"] == ["ETS185 Art 28(1)"]

    edit(data_copy / "request_types.yaml", lambda d: _type(d, "mutual_assistance").pop("displaced_by_mla_treaty"))
    v = _verdict(load_rulebook(data_copy), doc)
    assert v.route.article == "ETS185 Art 27(2)(b)" and "mla_treaty_applies" not in {w.code for w in v.warnings}


def test_language_findings_cite_the_article_of_the_data(data_copy):
    doc = document("give_effect_order", requested="ME")
    doc.pop("translation_language", None)
    doc["language"] = "ja"
    shipped = [p.article for p in check(doc, default_parties(), dt.date(2027, 6, 1)).problems
               if p.code == "language_not_accepted"]
    assert shipped == ["CETS224 Art 4(1)"]
    edit(data_copy / "request_types.yaml", lambda d: _type(d, "give_effect_order").update(
        language_article="CETS224 Art 4(3)"))
    v = _verdict(load_rulebook(data_copy), doc)
    assert [p.article for p in v.problems if p.code == "language_not_accepted"] == ["CETS224 Art 4(3)"]
