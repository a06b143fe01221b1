"""The law as a reader asks for it: a Party's declarations and reservations with their dates in force,
and a request type's deadlines with the number of days that applies on a date. One reading of the data
for `evidex parties show`, `evidex rules show` and the web pages (which print it each their own way)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from evidex.rules.loader import Parties, Rulebook
from evidex.rules.schema import DeadlineSpec, PartyProfile, RequestTypeSpec


@dataclass(frozen=True)
class DeclarationInForce:
    """A declaration or reservation a Party made (its profile), with the catalogue's meaning of it."""

    reference: str  # also the article it is made under, e.g. "CETS224 Art 7(2)(b)"
    kind: Literal["declaration", "reservation"]
    title: str
    effect: str  # the effect's kind (declarations.yaml's closed vocabulary)
    message: str
    since: dt.date | None  # first day in force (LEGAL.md §3)
    until: dt.date | None  # first day no longer in force
    in_effect: bool  # on the date asked
    parameters: dict[str, Any] = field(default_factory=dict)


def declarations_of(profile: PartyProfile, rulebook: Rulebook, on: dt.date) -> list[DeclarationInForce]:
    """Every declaration, then every reservation of `profile` (withdrawn ones — `false` — left out)."""
    effective = Parties.in_effect(profile, on)
    out: list[DeclarationInForce] = []
    for table in (profile.declarations, profile.reservations):
        for ref, value in table.items():
            if value is False:
                continue
            params = dict(value) if isinstance(value, dict) else {}
            since, until = params.pop("since", None), params.pop("until", None)
            entry = rulebook.catalogue[ref]  # the loader refused a reference outside the catalogue
            out.append(DeclarationInForce(ref, entry.kind, entry.title, entry.effect.kind, entry.effect.message,
                                          since, until, ref in effective, params))
    return out


@dataclass(frozen=True)
class DeadlineOn:
    """A deadline of a request type and the days it counts on a date (None: the days come from an element
    of the document, e.g. a preservation's requested period)."""

    spec: DeadlineSpec
    days: int | None


def deadlines_of(rulebook: Rulebook, spec: RequestTypeSpec, on: dt.date) -> list[DeadlineOn]:
    return [DeadlineOn(d, rulebook.value(d.period, on=on) if d.period is not None else None) for d in spec.deadlines]
