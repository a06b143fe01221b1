"""Property tests: arbitrary input never escapes as an exception; adding an element never adds a
problem; every JSON verdict validates against the published verdict schema."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidex.core.errors import InvalidInput
from evidex.rules import check, default_parties, default_rulebook
from evidex.rules.verdict import verdict_json_schema
from tests.conftest import AS_OF, COMPLETE, load_example, remove, run_cli

pytestmark = pytest.mark.slow  # long-running: started first by parallel runs (tests/conftest.py)

PARTIES = default_parties()
SCHEMA = verdict_json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
CODES = [*PARTIES.codes(), "XX", "rs"]
TYPES = [*default_rulebook().types, "nonsense"]
FIELDS = ["type", "requesting_party", "requested_party", "case_reference", "issued_on", "received_on",
          "language", "translation_language", "urgent", "sent_by", "issuing_authority", "addressee",
          "data_category", "elements", "zzz"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@st.composite
def documents(draw):
    """Request-shaped documents: real examples with random fields replaced by arbitrary JSON."""
    doc = load_example(draw(st.sampled_from(COMPLETE)))
    doc = json.loads(json.dumps(doc, default=str))
    for _ in range(draw(st.integers(0, 4))):
        field = draw(st.sampled_from(FIELDS))
        choice = draw(st.integers(0, 3))
        if choice == 0:
            doc.pop(field, None)
        elif choice == 1 and field in ("requesting_party", "requested_party"):
            doc[field] = draw(st.sampled_from(CODES))
        elif choice == 1 and field == "type":
            doc[field] = draw(st.sampled_from(TYPES))
        else:
            doc[field] = draw(json_values)
    if isinstance(doc.get("elements"), dict) and draw(st.booleans()):
        doc["elements"][draw(st.text(max_size=12))] = draw(json_values)
    return doc


def _check_or_invalid(doc):
    try:
        return check(doc, PARTIES, AS_OF)
    except InvalidInput:
        return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, documents()))
def test_arbitrary_json_never_raises_anything_but_invalid_input(doc):
    v = _check_or_invalid(doc)
    if v is not None:
        VALIDATOR.validate(v.to_json_dict())
        assert v.admissible == (not v.problems)
        for item in [*v.problems, *v.warnings, *v.deadlines, *v.obligations]:
            assert item.article.split(" Art ")[0] in ("ETS185", "CETS224", "UNCC")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, documents()))
def test_arbitrary_json_through_the_real_cli_exits_0_1_or_2(doc):
    r = run_cli("check", "--format", "json", "--as-of", "2026-11-23", "-", stdin=json.dumps(doc))
    assert r.returncode in (0, 1, 2), r.stderr
    assert "Traceback" not in r.stderr
    if r.returncode == 2:
        assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1
    else:
        VALIDATOR.validate(json.loads(r.stdout))


def _mandatory(kind):
    spec = default_rulebook().types[kind]
    return [e.name for e in spec.elements]


@st.composite
def incomplete(draw):
    kind = draw(st.sampled_from(COMPLETE))
    full = load_example(kind)
    names = [n for n in _mandatory(kind) if n != "addressee.name" or "addressee" in full]
    removed = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
    doc = full
    for n in removed:
        doc = remove(doc, n)
    back = draw(st.sampled_from(removed)) if removed else None
    return kind, full, doc, back


def _restore(doc, full, name):
    d = copy.deepcopy(doc)
    if name.startswith("addressee.") or name == "issuing_authority.contact":
        top, sub = name.split(".")
        d.setdefault(top, {})[sub] = full[top][sub]
    elif name in full:
        d[name] = copy.deepcopy(full[name])
    else:
        d["elements"][name] = copy.deepcopy(full["elements"][name])
    return d


@settings(max_examples=300, deadline=None)
@given(incomplete(), st.text(min_size=1, max_size=15).filter(lambda s: s.strip()))
def test_adding_an_element_never_adds_a_problem(case, unknown_name):
    _kind, full, doc, back = case
    before = {(p.code, p.article, p.element) for p in check(doc, PARTIES, AS_OF).problems}
    if back is not None:
        after = {(p.code, p.article, p.element) for p in check(_restore(doc, full, back), PARTIES, AS_OF).problems}
        assert after <= before
        assert len(after) < len(before)
    d = copy.deepcopy(doc)
    d["elements"][f"x_{unknown_name}"] = "extra information"
    after = {(p.code, p.article, p.element) for p in check(d, PARTIES, AS_OF).problems}
    assert after <= before


def test_verdict_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    bad = check(load_example("preservation"), PARTIES, AS_OF).to_json_dict()
    bad["problems"] = [{"code": 1}]
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(bad)
