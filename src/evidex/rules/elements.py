"""Elements present: which mandatory elements a document shows (LEGAL.md §2, §4), which keys
it carries that no rule knows, and whether its time frame can be read."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from evidex.rules.document import KNOWN_FIELDS, RequestDocument
from evidex.rules.verdict import Finding

if TYPE_CHECKING:
    from evidex.rules.context import Context

# Element names read from the top level of the document rather than from its `elements`.
TOP_LEVEL = frozenset({"issued_on", "received_on", "case_reference", "data_category", "language"})


def is_present(value: Any, nested: bool = False) -> bool:
    """LEGAL.md §2: a value that is empty, blank or false counts as missing. Inside a structured
    value, `false` is information (e.g. `preservation_status: {sought: false}`)."""
    if value is None:
        return False
    if value is False:
        return nested
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, list | tuple | set):
        return True
    for v in value:  # a plain loop: a generator costs more than the check itself
        if v.__class__ is str:
            if v.strip():
                return True
        elif is_present(v, True):
            return True
    return False


def element_value(doc: RequestDocument, name: str) -> Any:
    if name == "issuing_authority":
        ia = doc.issuing_authority
        return ia.name if ia else None
    if name == "issuing_authority.contact":
        ia = doc.issuing_authority
        return dict(ia.contact.__dict__) if ia and ia.contact else None
    if name.startswith("addressee."):
        ad = doc.addressee
        return getattr(ad, name.removeprefix("addressee."), None) if ad else None
    if name in TOP_LEVEL:
        return getattr(doc, name)
    return doc.elements.get(name)


def in_elements(name: str) -> bool:
    """Whether an element name is read from the document's `elements` object."""
    return "." not in name and name not in TOP_LEVEL and name != "issuing_authority"


def _text(v: Any) -> bool:
    return v.__class__ is str and bool(v.strip())


def _contact(doc: RequestDocument) -> bool:
    ia = doc.issuing_authority
    c = ia.contact if ia else None
    return c is not None and (_text(c.address) or _text(c.email) or _text(c.phone))


# How each name outside `elements` is shown present: one small function each.
PRESENT: dict[str, Callable[[RequestDocument], bool]] = {
    "issuing_authority": lambda d: d.issuing_authority is not None and _text(d.issuing_authority.name),
    "issuing_authority.contact": _contact,
    "issued_on": lambda d: d.issued_on is not None,
    "received_on": lambda d: d.received_on is not None,
    "data_category": lambda d: d.data_category is not None,
    "case_reference": lambda d: _text(d.case_reference),
    "language": lambda d: _text(d.language),
    "addressee.name": lambda d: d.addressee is not None and _text(d.addressee.name),
    "addressee.address": lambda d: d.addressee is not None and _text(d.addressee.address),
    "addressee.kind": lambda d: d.addressee is not None and d.addressee.kind is not None,
}


TIME_FRAME_MAX_DAYS = 3650  # a time frame longer than ten years is a typing mistake, not a time frame


def days_of(v: Any) -> int | None:
    """The `days` of a `deadline_and_manner` element: a positive whole number of at most ten years."""
    if isinstance(v, dict):
        d = v.get("days")
        if isinstance(d, int) and not isinstance(d, bool) and 0 < d <= TIME_FRAME_MAX_DAYS:
            return d
    return None


def check_elements(ctx: Context) -> None:
    """Mandatory elements, each missing one a problem citing the article that requires it."""
    plan, doc = ctx.plan, ctx.doc
    els = doc.elements
    for name, article, label, in_elements_object, shown in plan.required:
        if in_elements_object:  # the common case: a non-blank string is present
            v = els.get(name)
            if v.__class__ is str:
                if v.strip():
                    continue
            elif is_present(v):
                continue
        elif shown(doc) if shown is not None else ctx.has(name):
            continue
        ctx.missing(name, article, label)
    for when, spec in plan.index.conditional:
        if not ctx.has(spec.name) and (when is None or ctx.holds(when)):
            ctx.missing(spec.name, spec.article, spec.label)


def check_time_frame(ctx: Context) -> None:
    """A `deadline_and_manner` whose days cannot be read is a problem (CETS224 Art 6(3)(d), 7(4)(d))."""
    v = ctx.doc.elements.get("deadline_and_manner")
    if v is not None and days_of(v) is None and is_present(v):
        spec = ctx.plan.spec
        art = next((e.article for e in spec.elements if e.name == "deadline_and_manner"), spec.article)
        ctx.problems.append(Finding(
            code="invalid_element", article=art, element="deadline_and_manner",
            message="deadline_and_manner must be an object {days, manner} with days a positive whole number"))


def check_unknown(ctx: Context, vocabulary: frozenset[str], profile_vocabulary: Callable[[], frozenset[str]]) -> None:
    """LEGAL.md §2: an unknown key is a warning (never a problem)."""
    spec, doc = ctx.plan.spec, ctx.doc
    for key in doc.__pydantic_extra__ or ():
        ctx.warnings.append(Finding(
            code="unknown_field", article=spec.article, element=key,
            message=f"Unknown field {key!r} ignored (known: {', '.join(sorted(KNOWN_FIELDS))})"))
    if vocabulary.issuperset(doc.elements):
        return
    known = profile_vocabulary()
    for key in doc.elements:
        if key not in vocabulary and key not in known:
            ctx.warnings.append(Finding(
                code="unknown_element", article=spec.article, element=key,
                message=f"Unknown element {key!r}: not an element of any request type"))
