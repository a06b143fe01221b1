"""What the requested Party's declarations and reservations (the catalogue's effects) add to a
check: simultaneous notification (CETS224 Art 7(5)(a)), additional elements (Art 8(4)), one of two
elements (Art 7(8)), supervision of the issuer (Art 7(2)(b)), dual criminality (ETS185 Art 29(4))."""

from __future__ import annotations

import re
from typing import Any

from evidex.rules.context import Context
from evidex.rules.refs import REFERENCE_RE, article_of, parse_reference
from evidex.rules.schema import DualCriminality, Notification, RequiresElements, RequiresOneOf, RequiresSupervision
from evidex.rules.verdict import Finding

_ARTICLE_RE = re.compile(r"^(?:ETS\s*185\s*)?(?:Art(?:icle)?\.?\s*)?(\d+)\b", re.IGNORECASE)


def decide_notification(ctx: Context) -> None:
    """CETS224 Art 7(5)(a): is the requested Party notified of this order? Circumstances the engine
    cannot test on the document become a warning."""
    for rule in ctx.plan.notifications:
        if rule.always or any(ctx.holds(t) for t in rule.conditions):
            ctx.notification = True
        if rule.circumstances and not ctx.notification:
            assert isinstance(rule.entry.effect, Notification)
            ctx.warnings.append(Finding(
                code="notification_circumstances", article=rule.entry.reference, element=None,
                message=f"{ctx.plan.requested.code} requires notification in these circumstances: "
                        f"{'; '.join(rule.circumstances)}. If one applies, notify its "
                        f"{rule.entry.effect.authority} simultaneously."))


def convention_article(value: Any, instrument: str) -> str | None:
    """The article an element such as `offence_convention_article` names: `ETS185 Art 8`, or
    `Art 8` and `8` read in `instrument` (the one whose offences the rule lists)."""
    if not isinstance(value, str):
        return None
    v = value.strip()
    if REFERENCE_RE.match(v):
        return article_of(v)
    m = _ARTICLE_RE.match(v)
    return f"{instrument} Art {m.group(1)}" if m else None


def check_declarations(ctx: Context) -> None:
    plan, doc = ctx.plan, ctx.doc
    requested = plan.requested.code
    for e in plan.entries:
        eff = e.effect
        if isinstance(eff, Notification):
            if ctx.notification:  # CETS224 Art 7(4)(g), 7(5)(a)
                for spec in eff.elements:
                    if not ctx.has(spec.name):
                        ctx.missing(spec.name, spec.article, spec.label)
        elif isinstance(eff, RequiresElements):  # CETS224 Art 8(4)
            for name in plan.declared[e.reference].get(eff.parameter, []):
                if not ctx.has(name):
                    ctx.missing(name, e.reference,
                                f"{name.replace('_', ' ')}, additional supporting information declared by {requested}")
        elif isinstance(eff, RequiresOneOf):  # CETS224 Art 7(8): for subscriber information only
            if ctx.holds(plan.index.effect_tests[e.reference]) and not any(ctx.has(s.name) for s in eff.elements):
                ctx.problems.append(Finding(
                    code="missing_element", article=e.reference, element=eff.elements[0].name,
                    message=f"Missing: {' or '.join(s.name for s in eff.elements)}. {eff.message}"))
        elif isinstance(eff, RequiresSupervision):  # CETS224 Art 7(2)(b)
            ia = doc.issuing_authority
            if ia is not None and ctx.has("issuing_authority") and not (
                ia.kind in eff.allowed_kinds or ia.independent_supervision is True
            ):
                ctx.problems.append(Finding(
                    code="supervision_required", article=e.reference, element="issuing_authority",
                    message=f"{requested}: {eff.message} The issuing authority is "
                            f"{ia.kind or 'of unstated kind'} without stated independent supervision."))
        elif isinstance(eff, DualCriminality) and convention_article(
                doc.elements.get(eff.element), parse_reference(eff.offences[0])[0] if eff.offences else "") \
                not in eff.offences:
            # ETS185 Art 29(4): a warning, never a refusal by the engine.
            ctx.warnings.append(Finding(
                code="dual_criminality_may_be_required", article=e.reference, element=eff.element,
                message=f"{requested}: {eff.message}"))
        # excludes_type: applicability.py; redirect_channels: route.py; condition: read by the type's data.
