"""A document date from which a deadline cannot be computed (`9999-12-31` plus 60 days is past
the calendar) is invalid input naming the field, never an OverflowError: exit 2 on the CLI."""

from __future__ import annotations

import json

import pytest

from evidex.core.errors import InvalidInput
from evidex.rules import check
from tests.conftest import AS_OF, COMPLETE, load_example, run_cli

LAST_DAY = "9999-12-31"


@pytest.mark.parametrize("field", ["received_on", "issued_on"])
def test_a_deadline_past_the_calendar_is_invalid_input_naming_the_field(field, parties):
    d = load_example("preservation")  # ETS185 Art 29(7): 60 days from received_on, else issued_on
    d.pop("received_on", None)
    d[field] = LAST_DAY
    with pytest.raises(InvalidInput, match=rf"^{field}: 9999-12-31 "):
        check(d, parties, AS_OF)


@pytest.mark.parametrize("kind", COMPLETE)
@pytest.mark.parametrize("field", ["received_on", "issued_on"])
def test_no_document_date_raises_anything_but_invalid_input(kind, field, parties):
    d = load_example(kind)
    d[field] = LAST_DAY
    try:  # a verdict when no deadline counts from that date (none of the type, or another start)
        check(d, parties, AS_OF)
    except InvalidInput as e:
        assert str(e).startswith(f"{field}: 9999-12-31 ")


def test_the_cli_exits_2_with_one_line_naming_the_field():
    d = load_example("preservation")
    d["received_on"] = LAST_DAY
    r = run_cli("check", "--format", "json", "--as-of", "2026-11-23", "-", stdin=json.dumps(d, default=str))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stdout == "" and "Traceback" not in r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert "received_on" in line and LAST_DAY in line
