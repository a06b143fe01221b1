"""A verdict's route says which channel of the rule data it is (its position among the type's channels,
the urgent means it adds, the route of an MLA treaty) and the key of its notifications' text, so a page
or a document says it in the reader's language; its English (`channel`, `message`) stays the engine's.
Verdicts stored before (without those fields), or of rule data changed since, are said in their English."""

from __future__ import annotations

import copy
import itertools
import random
from typing import Any

import pytest

from evidex.requests.texts import default_texts
from evidex.rules import check, default_parties, default_rulebook
from evidex.rules.loader import load_parties
from evidex.rules.texts import LOCALES, SOURCE_LOCALE
from tests.conftest import AS_OF, load_example

RB, TEXTS, PARTIES = default_rulebook(), default_texts(), default_parties()
TYPES = sorted(RB.types)


def documents() -> list[dict[str, Any]]:
    """Every type's example between every two Parties, by every sender its channels name, urgent or not."""
    out = []
    for t in TYPES:
        base = load_example(t)
        senders = sorted({s for c in RB.types[t].channels for s in c.sent_by} | {base.get("sent_by")} - {None})
        for (a, b), sender, urgent in itertools.product(itertools.permutations(PARTIES.codes(), 2), senders,
                                                         (False, True)):
            d = copy.deepcopy(base)
            d.update(requesting_party=a, requested_party=b, sent_by=sender, urgent=urgent)
            for k in ("issued_on", "received_on"):
                if d.get(k) is not None:
                    d[k] = str(d[k])
            out.append(d)
    return out


DOCS = documents()
VERDICTS = [check(d, PARTIES, AS_OF).to_json_dict() for d in DOCS]


def test_the_route_says_its_channel_in_every_language_and_its_english_is_the_engines():
    seen = {"channel": set(), "urgent": 0, "treaty": 0, "notified": 0}
    for v in VERDICTS:
        route = v["route"]
        if route is None:
            continue
        spec = RB.types[v["request_type"]]
        english = TEXTS.route_channel(spec, route, v["requesting_party"], v["requested_party"])
        assert english is not None, route
        said = english.means if english.urgent_means is None else spec.urgent_means.added_to(english.means)
        assert said == route["channel"]  # the words are the engine's, read from the data
        assert route["mla_treaty"] == (route["channel_index"] is None)
        seen["urgent"] += route["urgent_means"]
        seen["treaty"] += route["mla_treaty"]
        seen["channel"].add((v["request_type"], route["channel_index"]))
        for locale in LOCALES:
            words = TEXTS.route_channel(spec, route, v["requesting_party"], v["requested_party"], locale)
            assert words is not None and words.means and (words.urgent_means is None) == (not route["urgent_means"])
            if locale != SOURCE_LOCALE:
                assert words.means != english.means, (locale, words.means)  # translated
        for n in route["notifications"]:
            seen["notified"] += 1
            assert n["message_key"] == f"declaration.{n['article']}.route_message"
            assert TEXTS.route_notification(n) == n["message"]
            assert {TEXTS.route_notification(n, loc) for loc in LOCALES} - {n["message"]}  # translated
    # Every channel of every type was chosen, and each of the other cases seen.
    assert seen["channel"] >= {(t, i) for t in TYPES for i in range(len(RB.types[t].channels))
                               if not RB.types[t].channels[i].when}, seen["channel"]
    assert seen["urgent"] and seen["treaty"] and seen["notified"], seen


def test_a_route_stored_before_or_of_other_rule_data_is_said_in_its_english():
    v = next(v for v in VERDICTS if v["route"] and v["route"]["urgent_means"])
    spec, parties = RB.types[v["request_type"]], (v["requesting_party"], v["requested_party"])
    route = v["route"]
    before = {k: x for k, x in route.items() if k not in ("channel_index", "urgent_means", "mla_treaty")}
    assert TEXTS.route_channel(spec, before, *parties, "fr") is None
    assert TEXTS.route_channel(spec, {**route, "channel": route["channel"] + " (changed)"}, *parties, "fr") is None
    assert TEXTS.route_channel(spec, {**route, "channel_index": len(spec.channels)}, *parties, "fr") is None
    assert TEXTS.route_channel(spec, {**route, "channel_index": True}, *parties, "fr") is None
    assert TEXTS.route_channel(spec, {**route, "urgent_means": False}, *parties, "fr") is None
    treaty = next(v for v in VERDICTS if v["route"] and v["route"]["mla_treaty"])
    other = (treaty["requested_party"], treaty["requesting_party"])  # the words name the two Parties in order
    assert TEXTS.route_channel(RB.types[treaty["request_type"]], treaty["route"], *other, "fr") is None
    n = next(n for v in VERDICTS if v["route"] for n in v["route"]["notifications"])
    assert TEXTS.route_notification({"message": n["message"], "article": n["article"]}, "fr") is None
    assert TEXTS.route_notification({**n, "message": "Something else"}, "fr") is None


@pytest.mark.parametrize("seed", [1, 2])
def test_a_cached_route_says_the_same_as_a_fresh_one(seed):
    """The plans keep route templates per (channel, sender, urgent, notification): a route read from
    them, whatever was checked before, is the route checked by an engine that has seen nothing."""
    rnd = random.Random(seed)
    shuffled = rnd.sample(range(len(DOCS)), len(DOCS))
    cached = {i: check(DOCS[i], PARTIES, AS_OF).to_json_dict() for i in shuffled}
    for i in rnd.sample(range(len(DOCS)), 25):
        assert check(DOCS[i], load_parties(), AS_OF).to_json_dict() == cached[i] == VERDICTS[i]
