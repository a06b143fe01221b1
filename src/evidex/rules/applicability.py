"""Whether the request type can apply at all (LEGAL.md §5): both Parties bound by its instruments,
not excluded by a reservation or declaration of the requested Party, the data category within its
article (LEGAL.md §5); and whether the addressee is of the kind its article concerns (LEGAL.md §2).
A type that cannot apply yields no deadline, and the engine proposes the routes that are open
instead. An addressee of the wrong kind is a problem of the request, not of the type's reach: §5
names only the instruments and the data category, so its deadlines still run."""

from __future__ import annotations

from collections.abc import Mapping

from evidex.rules.context import Context, Test
from evidex.rules.elements import element_value, is_present
from evidex.rules.plan import TypeIndex
from evidex.rules.schema import CatalogueEntry, ExcludesType
from evidex.rules.verdict import Alternative, Finding


def _open_instead(alternatives: list[Alternative]) -> str:
    if not alternatives:
        return ""
    return "Open instead: " + ", ".join(f"{a.request_type} ({a.article})" for a in alternatives) + "."


def excluded(ctx: Context, entry: CatalogueEntry, test: Test | None) -> str | None:
    """What of the document an `excludes_type` entry excludes ("all", or the element's value)."""
    eff = entry.effect
    assert isinstance(eff, ExcludesType)
    if not ctx.holds(test):
        return None
    if eff.element and eff.parameter:  # e.g. CETS224 Art 7(9)(b): only the listed access number types
        listed = ctx.plan.declared[entry.reference].get(eff.parameter)
        value = element_value(ctx.doc, eff.element)
        if listed is None:
            return "all" if is_present(value) else None
        if not isinstance(value, str) or value.strip().lower() not in {str(x).lower() for x in listed}:
            return None
        return f"{eff.element} {value!r}"
    return "all"


def _available(ctx: Context, index: TypeIndex) -> bool:
    plan = ctx.plan
    if not all(plan.requesting.bound_by(i, plan.as_of) and plan.requested.bound_by(i, plan.as_of)
               for i in index.spec.instruments):
        return False
    return not any(e.reference in plan.declared and isinstance(e.effect, ExcludesType)
                   and excluded(ctx, e, index.effect_tests[e.reference]) is not None for e in index.entries)


def alternatives(ctx: Context, types: Mapping[str, TypeIndex], why: str) -> list[Alternative]:
    out = []
    for name in ctx.plan.spec.alternatives:
        index = types[name]
        if _available(ctx, index):
            alt = index.spec
            out.append(Alternative(request_type=name, article=alt.article,
                                   message=f"{why}: a {name} request ({alt.article}, {alt.title}) is open instead"))
    return out


def check_instruments(ctx: Context, types: Mapping[str, TypeIndex]) -> list[Alternative]:
    """LEGAL.md §5: both Parties bound by the type's instruments, or the type is not open."""
    plan = ctx.plan
    missing = [(party.code, inst) for inst in plan.spec.instruments for party in (plan.requesting, plan.requested)
               if not party.bound_by(inst, plan.as_of)]
    if not missing:
        return []
    who = ", ".join(f"{p} is not bound by {i}" for p, i in missing)
    alts = alternatives(ctx, types, who)
    open_route = _open_instead(alts) or "No treaty route under ETS185/CETS224 is open between these Parties."
    ctx.not_applicable(Finding(code="instrument_not_binding", article=plan.spec.article, element=None,
                               message=f"{who} on {plan.as_of.isoformat()}. {open_route}"))
    return alts


def check_exclusions(ctx: Context, types: Mapping[str, TypeIndex]) -> list[Alternative]:
    """Reservations and declarations by which the requested Party does not apply the type
    (e.g. CETS224 Art 7(9)(a), 8(13) for traffic data, 9(1)(b) for subscriber information only)."""
    plan = ctx.plan
    alts: list[Alternative] = []
    for e in plan.entries:
        if not isinstance(e.effect, ExcludesType):
            continue
        if excluded(ctx, e, plan.index.effect_tests[e.reference]) is None:
            continue
        element = e.effect.element or ("data_category" if e.effect.when and e.effect.when.data_category else None)
        new = alternatives(ctx, types, f"{plan.requested.code} {e.kind} {e.reference}")
        ctx.not_applicable(Finding(code=f"excluded_by_{e.kind}", article=e.reference, element=element,
                                   message=f"{plan.requested.code}: {e.effect.message} {_open_instead(new)}".strip()))
        alts += new
    return alts


def check_data_category(ctx: Context) -> None:
    """A data category outside the type's article (e.g. CETS224 Art 8(1): subscriber or traffic)."""
    dc, category = ctx.plan.spec.data_categories, ctx.doc.data_category
    if dc and category is not None and category not in dc.allowed:
        ctx.not_applicable(Finding(
            code="data_category_not_allowed", article=dc.article, element="data_category",
            message=f"{ctx.plan.spec.type} covers only {' or '.join(dc.allowed)} data, not {category}"))


def check_addressee_kind(ctx: Context) -> None:
    """LEGAL.md §2: CETS224 Art 6(1) concerns a registrar; Art 7(1), 8(1) and 9(1) a service provider."""
    rule, addressee = ctx.plan.spec.addressee_kind, ctx.doc.addressee
    if rule is not None and addressee is not None and addressee.kind is not None and addressee.kind != rule.kind:
        ctx.problems.append(Finding(
            code="addressee_kind_not_allowed", article=rule.article, element="addressee.kind",
            message=f"{rule.message}, not to a {addressee.kind.replace('_', ' ')}"))
