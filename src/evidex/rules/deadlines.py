"""Deadlines (LEGAL.md §5): calendar days from a named event, each citing its article; `due` is
null when the event is not in the document. A request type that cannot apply yields none."""

from __future__ import annotations

import datetime as dt

from evidex.core.errors import InvalidInput
from evidex.rules.context import Context
from evidex.rules.elements import days_of
from evidex.rules.plan import remember
from evidex.rules.schema import DeadlineSpec
from evidex.rules.verdict import Deadline, Finding


def _due(start: dt.date, days: int, spec: DeadlineSpec, field: str) -> dt.date:
    try:
        return start + dt.timedelta(days=days)
    except OverflowError:
        # A date the calendar cannot count from is not a real date for a request (LEGAL.md §2).
        raise InvalidInput(f"{field}: {start.isoformat()} is too late a date: the {spec.name} deadline "
                           f"({spec.article}, {days} days) cannot be computed from it") from None


def find_deadlines(ctx: Context) -> list[Deadline]:
    if not ctx.applies:
        return []
    doc = ctx.doc
    field = "received_on" if doc.received_on is not None else "issued_on"
    start_date = doc.received_on or doc.issued_on
    out = []
    plan = ctx.plan
    for when, d in plan.index.deadlines:
        if when is not None and not ctx.holds(when):
            continue
        start = start_date if d.start == "received_or_issued" else None
        # The period in force on the day it starts (as of the check while that day is unknown).
        days = plan.index.periods[d.period].on(start or plan.as_of) if d.period is not None else None
        if d.days_from_element:
            days = days_of(doc.elements.get(d.days_from_element))
        if d.longer_of_element:
            given = days_of(doc.elements.get(d.longer_of_element))
            if given is not None and days is not None:
                days = max(days, given)  # CETS224 Art 7(7): whichever is longer
        if d.requires_complete and any(p.code == "missing_element" for p in ctx.problems):
            start = None  # CETS224 Art 8(6)(a): the period runs only from receipt of complete information
        due = _due(start, days, d, field) if start is not None and days is not None else None
        key = (d.name, days, due, d.article)
        deadline = plan.deadlines.get(key) or remember(plan.deadlines, key, Deadline(*key))
        out.append(deadline)
    return out


def check_dates(ctx: Context) -> None:
    doc = ctx.doc
    if doc.received_on and doc.issued_on and doc.received_on < doc.issued_on:
        ctx.warnings.append(Finding(code="received_before_issued", article=ctx.plan.spec.article,
                                    element="received_on", message="received_on is earlier than issued_on"))
