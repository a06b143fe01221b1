"""The binary batch framing: what is packed unpacks to the same items; anything else is a
ValueError saying what is wrong (never another exception, never a partial batch)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidex.exchange.framing import MAGIC, pack_batch, unpack_batch

items_strategy = st.lists(st.tuples(st.binary(min_size=1, max_size=64),
                                    st.one_of(st.none(), st.binary(min_size=1, max_size=64))),
                          min_size=1, max_size=8)


@given(items_strategy)
def test_round_trip(items):
    assert unpack_batch(pack_batch(items), max_items=8) == items


@given(items_strategy, st.data())
def test_any_cut_or_extra_byte_is_refused(items, data):
    packed = pack_batch(items)
    cut = data.draw(st.integers(min_value=0, max_value=len(packed) - 1))
    with pytest.raises(ValueError):
        unpack_batch(packed[:cut], max_items=8)
    with pytest.raises(ValueError, match="trailing"):
        unpack_batch(packed + b"\x00", max_items=8)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_value_error(blob):
    with contextlib.suppress(ValueError):
        unpack_batch(MAGIC + blob, max_items=8)


def test_counts_and_empty_parts_are_checked():
    with pytest.raises(ValueError, match="magic"):
        unpack_batch(b'{"envelopes": []}', max_items=8)
    with pytest.raises(ValueError, match="1 to 2"):
        unpack_batch(pack_batch([(b"a", None)] * 3), max_items=2)
    with pytest.raises(ValueError, match="1 to 2"):
        unpack_batch(MAGIC + b"\x00\x00\x00\x00", max_items=2)
    with pytest.raises(ValueError, match="empty envelope"):
        pack_batch([(b"", None)])
    with pytest.raises(ValueError, match="empty attachment"):
        pack_batch([(b"a", b"")])
    with pytest.raises(ValueError, match="empty envelope"):
        unpack_batch(MAGIC + b"\x00\x00\x00\x01" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00", max_items=2)
