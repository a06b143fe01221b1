"""The rules engine: `check(request, parties, as_of) -> Verdict`. Pure: no I/O, no clock.

Every rule the engine applies comes from the data files (request types, catalogue of
declarations and reservations, Party profiles); the code only knows the small vocabulary of
conditions and effects those files are written in (see declarations.yaml). One `Engine` serves
one rulebook and one set of Party profiles and owns everything it derives from them; the
steps of a check live beside it:

    elements.py       mandatory elements present, unknown keys (LEGAL.md §2, §4)
    applicability.py  instruments binding, exclusions, data category, addressee's kind (§2, §5)
    declarations.py   what the requested Party's declarations and reservations add
    language.py       CETS224 Art 4; ETS185 sets no language rule
    route.py          channel, authorities, copies and notifications
    deadlines.py      periods from the document's dates
    plan.py           what depends only on the type, the two Parties and the date
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from evidex.core.errors import InvalidInput
from evidex.rules.applicability import (
    check_addressee_kind,
    check_data_category,
    check_exclusions,
    check_instruments,
)
from evidex.rules.context import Context, Texts
from evidex.rules.deadlines import check_dates, find_deadlines
from evidex.rules.declarations import check_declarations, decide_notification
from evidex.rules.document import RequestDocument, parse_document
from evidex.rules.elements import check_elements, check_time_frame, check_unknown
from evidex.rules.language import check_language
from evidex.rules.loader import Parties, Rulebook, default_rulebook
from evidex.rules.plan import Plan, TypeIndex, build_plan
from evidex.rules.route import find_route
from evidex.rules.schema import PartyProfile
from evidex.rules.verdict import Finding, Verdict

# A document that shows nothing: the plan decides what holds for every document of a type.
_EMPTY_DOC = RequestDocument(type="", requesting_party="AA", requested_party="BB")
_MAX_PLANS = 10_000  # types x ordered pairs of Parties x dates checked; cleared beyond


class Engine:
    """Applies one rulebook to documents between the Parties of one set of profiles. Built once
    for them (see `Parties.engine`) and holding them, so nothing it derives can outlive them."""

    def __init__(self, rulebook: Rulebook, parties: Parties) -> None:
        self.rulebook = rulebook
        self.parties = parties
        self.texts = Texts(rulebook)
        self.types = {name: TypeIndex.of(spec, rulebook) for name, spec in rulebook.types.items()}
        self._plans: dict[tuple[str, str, str, dt.date], Plan] = {}

    def check(self, request: Any, as_of: dt.date) -> Verdict:
        doc, dropped = parse_document(request)
        plan = self._plans.get((doc.type, doc.requesting_party, doc.requested_party, as_of)) or self._plan(doc, as_of)
        spec = plan.spec
        ctx = Context(doc, plan, self.texts, problems=list(plan.instrument_problems), warnings=[], present={},
                      applies=not plan.instrument_problems)
        for name, msg in dropped:
            ctx.problems.append(Finding(code="invalid_field", article=spec.article, element=name,
                                        message=f"{name}: {msg}; the field was ignored"))
        alternatives = list(plan.alternatives)
        if plan.entries:
            alternatives += check_exclusions(ctx, self.types)
            decide_notification(ctx)
        check_elements(ctx)
        check_data_category(ctx)
        check_addressee_kind(ctx)
        check_time_frame(ctx)
        if plan.entries:
            check_declarations(ctx)
        check_unknown(ctx, self.rulebook.vocabulary, self.parties.vocabulary)
        check_language(ctx)
        route = find_route(ctx)
        deadlines = find_deadlines(ctx)
        obligations = list(plan.fixed_obligations) if plan.fixed_obligations is not None else [
            o for when, o in plan.obligations if when is None or ctx.holds(when)]
        if plan.warnings:
            ctx.warnings.extend([w for when, w in plan.warnings if when is None or ctx.holds(when)])
        check_dates(ctx)
        return Verdict(
            admissible=not ctx.problems,
            request_type=spec.type,
            requesting_party=plan.requesting.code,
            requested_party=plan.requested.code,
            as_of=as_of,
            problems=ctx.problems,
            warnings=ctx.warnings,
            route=route,
            deadlines=deadlines,
            obligations=obligations,
            alternatives=alternatives,
        )

    def _plan(self, doc: RequestDocument, as_of: dt.date) -> Plan:
        index = self.types.get(doc.type)
        if index is None:
            raise InvalidInput(f"unknown request type {doc.type!r}; known: {', '.join(self.types)}")
        if doc.requesting_party == doc.requested_party:
            raise InvalidInput(f"requesting_party and requested_party are both {doc.requesting_party}")
        requesting = self._party(doc.requesting_party, as_of, "requesting_party")
        requested = self._party(doc.requested_party, as_of, "requested_party")
        plan = build_plan(index, requesting, requested, self.parties.in_effect(requested, as_of), as_of)
        probe = Context(_EMPTY_DOC, plan, self.texts, [])
        alternatives = check_instruments(probe, self.types)
        plan = dataclasses.replace(plan, instrument_problems=tuple(probe.problems), alternatives=tuple(alternatives))
        if len(self._plans) >= _MAX_PLANS:
            self._plans.clear()
        self._plans[(doc.type, doc.requesting_party, doc.requested_party, as_of)] = plan
        return plan

    def _party(self, code: str, as_of: dt.date, role: str) -> PartyProfile:
        p = self.parties.get(code, as_of)
        if p is None:
            if code in self.parties:
                raise InvalidInput(f"{role}: Party {code} has no profile in effect on {as_of.isoformat()}")
            raise InvalidInput(f"{role}: unknown Party {code!r}; known: {', '.join(self.parties.codes())}")
        return p


def check(request: Any, parties: Parties, as_of: dt.date, rulebook: Rulebook | None = None) -> Verdict:
    """Check a request document against the treaties and the two Parties' profiles as of a date."""
    return parties.engine(rulebook or default_rulebook()).check(request, as_of)
