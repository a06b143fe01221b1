"""What the engine derives once: per request type from the rulebook (`TypeIndex`), and per
request type, pair of Parties and date (`Plan`) — reused for every document between them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

from evidex.rules.context import Test
from evidex.rules.document import RequestDocument
from evidex.rules.elements import PRESENT, in_elements
from evidex.rules.loader import Rulebook
from evidex.rules.schema import (
    CatalogueEntry,
    ChannelSpec,
    Condition,
    DeadlineSpec,
    ElementSpec,
    ExcludesType,
    Notification,
    PartyProfile,
    Period,
    RequestTypeSpec,
    RequiresOneOf,
    language_key,
)
from evidex.rules.verdict import Alternative, CopyOut, Deadline, Endpoint, Finding, NotificationOut, Obligation, Route

T = TypeVar("T")


class Guarded(NamedTuple, Generic[T]):
    """An item of the rule data and the test that decides whether it applies (None: always)."""

    when: Test | None
    item: T


class RequiredElement(NamedTuple):
    name: str
    article: str
    label: str
    in_elements: bool  # read from the document's `elements` object
    shown: Callable[[RequestDocument], bool] | None  # how a name outside `elements` is shown present


class ChannelOption(NamedTuple):
    when: Test | None
    position: int  # in the request type's channels
    spec: ChannelSpec


class NotificationRule(NamedTuple):
    """A CETS224 Art 7(5)(a) declaration as the requested Party made it."""

    entry: CatalogueEntry
    always: bool
    conditions: tuple[Test, ...]  # circumstances the engine can test on the document
    circumstances: tuple[str, ...]  # circumstances only a person can judge


class ChannelChoice(NamedTuple):
    channel: ChannelSpec
    position: int
    from_role: str  # resolved: never "sender"
    problems: tuple[Finding, ...]


# A route template's key: (channel index, from role, urgent, notified under CETS224 Art 7(5)(a)).
RouteKey = tuple[int, str, bool, bool]


class RouteTemplate(NamedTuple):
    """The part of a route that depends only on the Parties and the channel; an endpoint left None
    is the document's own issuing authority or addressee, filled in per document."""

    route: Route | None  # complete when both endpoints are registered authorities
    from_: Endpoint | None
    to: Endpoint | None
    to_role: str
    channel: str
    copies: list[CopyOut]
    notifications: list[NotificationOut]
    warnings: tuple[Finding, ...]
    outside_evidex: list[str]  # the means outside evidex (the channel's, and urgent means if urgent)
    urgent_means: bool  # the channel adds the type's urgent means (an urgent request)


# What the language rule reads of a document: its language, its translation's, the languages the
# addressee accepts (CETS224 Art 4(2)) and whether the requested Party is notified (Art 7(5)(a)).
LanguageKey = tuple[str | None, str | None, tuple[str, ...], bool]
LanguageOutcome = tuple[tuple[Finding, ...], tuple[Finding, ...]]  # problems, warnings


@dataclass(frozen=True, slots=True)
class TypeIndex:
    """One request type of the rulebook, with its conditions compiled."""

    spec: RequestTypeSpec
    instruments: frozenset[str]
    entries: tuple[CatalogueEntry, ...]  # catalogue entries that concern this type
    effect_tests: dict[str, Test | None]  # reference -> test of its effect's own `when`
    obligations: tuple[Guarded[Obligation], ...]
    warnings: tuple[Guarded[Finding], ...]
    conditional: tuple[Guarded[ElementSpec], ...]  # elements mandatory only when their test holds
    channels: tuple[ChannelOption, ...]
    deadlines: tuple[Guarded[DeadlineSpec], ...]
    periods: dict[str, Period]  # the named periods its deadlines count (periods.yaml)

    @staticmethod
    def of(spec: RequestTypeSpec, rulebook: Rulebook) -> TypeIndex:
        entries = tuple(rulebook.entries_for(spec.type))
        return TypeIndex(
            spec=spec,
            instruments=frozenset(spec.instruments),
            entries=entries,
            effect_tests={e.reference: Test.of(e.effect.when) for e in entries
                          if isinstance(e.effect, ExcludesType | RequiresOneOf)},
            obligations=tuple(Guarded(Test.of(o.when), Obligation(article=o.article, message=o.message, by=o.by))
                              for o in spec.obligations),
            warnings=tuple(Guarded(Test.of(w.when), Finding(code=w.code, article=w.article, element=None,
                                                              message=w.message)) for w in spec.warnings),
            conditional=tuple(Guarded(Test.of(e.when), e) for e in spec.elements if e.when is not None),
            channels=tuple(ChannelOption(Test.of(c.when), i, c) for i, c in enumerate(spec.channels)),
            deadlines=tuple(Guarded(Test.of(d.when), d) for d in spec.deadlines),
            periods={d.period: rulebook.periods[d.period] for d in spec.deadlines if d.period is not None},
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """What depends only on the request type, the two Parties and the date."""

    index: TypeIndex
    spec: RequestTypeSpec
    requesting: PartyProfile
    requested: PartyProfile
    as_of: dt.date
    declared: dict[str, dict[str, Any]]  # the requested Party's declarations and reservations in effect
    mla_treaty: bool  # ETS185 Art 27(1): an MLA treaty is in force between the two Parties
    entries: tuple[CatalogueEntry, ...]  # those of the type the requested Party made
    notifications: tuple[NotificationRule, ...]
    required: tuple[RequiredElement, ...]  # mandatory whatever the document says
    obligations: tuple[Guarded[Obligation], ...]  # tests on the Parties alone already decided
    fixed_obligations: tuple[Obligation, ...] | None  # when no obligation depends on the document
    warnings: tuple[Guarded[Finding], ...]
    channels: tuple[ChannelOption, ...]
    dynamic_channels: bool  # some channel depends on more than the sender
    party_languages: frozenset[str]
    domestic_languages: frozenset[str]
    instrument_problems: tuple[Finding, ...] = ()
    alternatives: tuple[Alternative, ...] = ()
    # Filled as documents are checked. The verdict's parts are frozen, so equal ones are shared:
    # building one costs more than finding it (see `remember`).
    routes: dict[RouteKey, RouteTemplate] = field(default_factory=dict)
    selections: dict[str | None, ChannelChoice] = field(default_factory=dict)
    languages: dict[LanguageKey, LanguageOutcome] = field(default_factory=dict)
    document_routes: dict[tuple[Any, ...], Route] = field(default_factory=dict)  # by the document's endpoints
    deadlines: dict[tuple[str, int | None, dt.date | None, str], Deadline] = field(default_factory=dict)


K = TypeVar("K")
V = TypeVar("V")


def remember(cache: dict[K, V], key: K, value: V, limit: int = 1024) -> V:
    """Keep `value` under `key` in one of a plan's caches, which are bounded (documents vary)."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
    return value


def _decided(items: tuple[Guarded[T], ...], declared: dict[str, Any], mla_treaty: bool) -> tuple[Guarded[T], ...]:
    """Decide the tests that depend only on the Parties; keep the others for each document."""
    out: list[Guarded[T]] = []
    for when, item in items:
        verdict = when.static(declared, mla_treaty) if when is not None else True
        if verdict is None:
            out.append(Guarded(when, item))
        elif verdict:
            out.append(Guarded(None, item))
    return tuple(out)


def _notification_rule(entry: CatalogueEntry, params: dict[str, Any]) -> NotificationRule:
    when = params.get("when", "always")  # CETS224 Art 7(5)(a): always, or in stated circumstances
    if when == "always":
        return NotificationRule(entry, True, (), ())
    tests = tuple(t for c in when if isinstance(c, dict) if (t := Test.of(Condition.model_validate(c))) is not None)
    return NotificationRule(entry, False, tests, tuple(str(c) for c in when if not isinstance(c, dict)))


def _required(name: str, article: str, label: str) -> RequiredElement:
    return RequiredElement(name, article, label, in_elements(name), PRESENT.get(name))


def build_plan(index: TypeIndex, requesting: PartyProfile, requested: PartyProfile, declared: dict[str, dict[str, Any]],
               as_of: dt.date) -> Plan:
    spec = index.spec
    mla_treaty = requested.code in requesting.mla_treaties or requesting.code in requested.mla_treaties
    obligations = _decided(index.obligations, declared, mla_treaty)
    channels = tuple(c._replace(when=when) for when, c in _decided(
        tuple(Guarded(c.when, c) for c in index.channels), declared, mla_treaty))
    own = spec.mla_elements  # what the requested Party's own law requires (e.g. ETS185 Art 25(4))
    mla_elements = [_required(n, own.article, own.label.format(element=n.replace('_', ' '), party=requested.code))
                    for n in requested.mla_required_elements] if own is not None else []
    entries = tuple(e for e in index.entries if e.reference in declared)
    return Plan(
        index=index,
        spec=spec,
        requesting=requesting,
        requested=requested,
        as_of=as_of,
        declared=declared,
        mla_treaty=mla_treaty,
        entries=entries,
        notifications=tuple(_notification_rule(e, declared[e.reference]) for e in entries
                            if isinstance(e.effect, Notification)),
        required=(*(_required(e.name, e.article, e.label) for e in spec.elements if e.when is None), *mla_elements),
        obligations=obligations,
        fixed_obligations=None if any(w is not None for w, _ in obligations) else tuple(o for _, o in obligations),
        warnings=_decided(index.warnings, declared, mla_treaty),
        channels=channels,
        dynamic_channels=any(c.when is not None for c in channels),
        party_languages=frozenset(language_key(x) for x in requested.languages),
        domestic_languages=frozenset(language_key(x) for x in requested.domestic()),
    )
