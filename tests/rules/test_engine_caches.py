"""The engine's caches belong to the engine: a rulebook or a set of Party profiles that is freed
and replaced by another one (which CPython may place at the same address, so the same `id()`)
never lends its article titles, findings or routes to the new one's verdicts."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evidex.rules import Parties, Rulebook, check, default_rulebook
from evidex.rules.loader import parse_parties
from tests.conftest import AS_OF, load_example
from tests.rules.test_declarations import party


def _rulebook_titled(title: str) -> Rulebook:
    """The shipped rulebook with CETS224 Art 7 renamed, as a new Rulebook object."""
    base = default_rulebook()
    cets = base.instruments["CETS224"]
    renamed = cets.model_copy(update={"articles": {**cets.articles, "7": title}})
    return dataclasses.replace(base, instruments={**base.instruments, "CETS224": renamed})


def _missing_offence_message(v: Any) -> str:
    (finding,) = [p for p in v.problems if p.element == "offence"]
    return str(finding.message)


@contextlib.contextmanager
def _collecting_new_objects_only() -> Iterator[None]:
    """gc.collect() looks only at objects made from here on: the test session's heap is frozen
    (gc.freeze), else each of the hundred collections scans it all (measured: 9.7 s -> 0.1 s of CPU)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def test_a_freed_rulebook_never_lends_its_article_titles_to_a_new_one(parties):
    d = load_example("subscriber_order")
    d["elements"].pop("offence")
    seen: set[int] = set()
    reused = 0
    with _collecting_new_objects_only():
        for i in range(100):
            rb = _rulebook_titled(f"Title number {i}")
            reused += id(rb) in seen
            seen.add(id(rb))
            message = _missing_offence_message(check(d, parties, AS_OF, rulebook=rb))
            assert f"CETS224 Art 7 — Title number {i})" in message, (i, message)
            del rb
            gc.collect()
    assert reused, "CPython never reused an address: the test proved nothing"


def test_freed_party_profiles_never_lend_their_authorities_to_new_ones():
    d = load_example("subscriber_order")
    d["requesting_party"], d["requested_party"] = "AA", "BB"
    d["addressee"]["accepted_languages"] = ["en"]
    with _collecting_new_objects_only():
        for i in range(100):
            bb = party("BB", authorities={"art7_notification": {"name": f"Notified authority {i}"}},
                       declarations={"CETS224 Art 7(5)(a)": {"when": "always"}})
            parties = Parties(parse_parties([party("AA"), bb], Path("<test>"), default_rulebook()))
            (note,) = check(d, parties, AS_OF).route.notifications
            assert note.to.name == f"Notified authority {i}", (i, note.to.name)
            del parties, bb
            gc.collect()


def test_checking_keeps_no_rulebook_or_parties_alive():
    # What the engine learnt about them is freed with them (no process-wide cache holds them).
    d = load_example("subscriber_order")
    rb = _rulebook_titled("Renamed")
    parties = Parties(parse_parties([party("ME"), party("RS")], Path("<test>"), default_rulebook()))
    check(d, parties, AS_OF, rulebook=rb)
    check(d, parties, AS_OF)
    refs = [weakref.ref(rb), weakref.ref(parties)]
    del rb, parties
    gc.collect()
    assert [r() for r in refs] == [None, None]
