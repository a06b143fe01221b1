"""envelope.parse_json gives exactly what json.loads gives — values and types, or an error — for
any JSON a sender can produce and for what Python's json accepts beyond the standard."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidex.core.canonical import canonical_json
from evidex.exchange.envelope import parse_json

SAFE = 2**53 - 1  # senders write RFC 8785, which holds integers of I-JSON (RFC 7493) only; larger ones: the edges below
scalars = (st.none() | st.booleans() | st.integers(min_value=-SAFE, max_value=SAFE)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
                      max_leaves=30)


def same(a, b) -> bool:  # type: ignore[no-untyped-def]
    """Equal with the same types all the way down (1 is not 1.0 here; NaN is NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b) and (not isinstance(a, float) or math.copysign(1, a) == math.copysign(1, b))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), values, max_size=6))
def test_what_a_sender_encodes_decodes_as_json_loads_does(payload):
    body = canonical_json(payload)
    assert same(parse_json(body), json.loads(body))
    assert same(parse_json(body.decode("utf-8")), json.loads(body))


@pytest.mark.parametrize("body", [
    b'{"n": 123456789012345678901234567890123}', b'{"x": NaN, "y": -Infinity}', b'{"s": "\\ud800"}',
    b'{"f": 1e400}', b'{"a": 1, "a": 2}', b'{"z": -0.0, "i": -0}', '{"u": "Ž"}'.encode("utf-16"),
    b'  [1, 2.50, "x"]  ', b'{"big": 1.7976931348623157e308, "tiny": 5e-324}',
])
def test_the_edges_python_json_accepts(body: bytes) -> None:
    assert same(parse_json(body), json.loads(body))


@pytest.mark.parametrize("body", [b"", b"{", b'{"a": 1} x', b"\xff\xfe\xfa", b"{'a': 1}", b'{"a": 01}'])
def test_what_is_not_json_is_a_value_error_as_with_json_loads(body: bytes) -> None:
    with pytest.raises(ValueError):
        json.loads(body)
    with pytest.raises(ValueError):
        parse_json(body)
