"""What a request document of a type must or may show, for a drafting form: each element with the
article that requires it, including what the requested Party's own law and its declarations add
(the same data the engine checks: plan.py, declarations.py). Pure: the rulebook and the profiles in,
a description out; nothing here decides admissibility (the engine does, on the document).
"""

from __future__ import annotations

import datetime as dt
import typing
from dataclasses import dataclass
from typing import Any, Literal

from evidex.core.errors import InvalidInput
from evidex.rules.elements import in_elements
from evidex.rules.loader import Parties, Rulebook
from evidex.rules.schema import (
    Condition,
    DataCategory,
    Notification,
    RequestTypeSpec,
    RequiresElements,
    RequiresOneOf,
)

# Why an element is on the form:
#   required     the type requires it, always
#   conditional  the type requires it when its condition holds
#   party_law    the requested Party's own law requires it for mutual assistance (its profile)
#   declared     a declaration of the requested Party requires it (always, or in circumstances)
#   one_of       a declaration requires this or another element of its group
#   optional     the type names it, without requiring it
ElementKind = Literal["required", "conditional", "party_law", "declared", "one_of", "optional"]
DATA_CATEGORIES: tuple[str, ...] = typing.get_args(DataCategory)


@dataclass(frozen=True, slots=True)
class DraftElement:
    name: str
    article: str
    label: str  # English, from the rule data (or the profile's element name)
    kind: ElementKind
    party: str | None = None  # the Party whose law or declaration adds it
    reference: str | None = None  # the declaration that adds it
    always: bool = True  # False: only in some circumstances (a condition, a declaration's `when`)

    @property
    def top_level(self) -> bool:
        """Read from the document's top level (issuing_authority, addressee.name, ...), not `elements`."""
        return not in_elements(self.name)


@dataclass(frozen=True, slots=True)
class DraftForm:
    request_type: str
    requesting_party: str
    requested_party: str
    elements: tuple[DraftElement, ...]
    addressee_kind: str | None  # the kind of addressee the type concerns (registrar, service_provider)
    data_categories: tuple[str, ...]  # the categories the document may state; empty: none matters

    def element(self, name: str) -> DraftElement | None:
        return next((e for e in self.elements if e.name == name), None)


def _mentions_data_category(node: Any) -> bool:
    if isinstance(node, Condition):
        return node.data_category is not None
    if isinstance(node, dict):
        return "data_category" in node or any(_mentions_data_category(v) for v in node.values())
    if isinstance(node, list | tuple):
        return any(_mentions_data_category(v) for v in node)
    if hasattr(node, "__pydantic_fields__"):
        return any(_mentions_data_category(getattr(node, f)) for f in type(node).__pydantic_fields__)
    return False


def data_categories(rulebook: Rulebook, spec: RequestTypeSpec, declared: dict[str, dict[str, Any]]) -> tuple[str, ...]:
    """The categories a document of this type may state, when one matters: the type allows only
    some, or a condition of the type, of a catalogue entry for it or of the requested Party's
    declarations tests it."""
    if spec.data_categories is not None:
        return tuple(spec.data_categories.allowed)
    entries = rulebook.entries_for(spec.type)
    if _mentions_data_category(spec) or _mentions_data_category(entries) or any(
            _mentions_data_category(declared.get(e.reference, {})) for e in entries):
        return DATA_CATEGORIES
    return ()


def draft_form(rulebook: Rulebook, parties: Parties, request_type: str, requesting: str, requested: str,
               as_of: dt.date) -> DraftForm:
    """The elements of a `request_type` document from `requesting` to `requested` as of `as_of`,
    in the order a person fills them: the type's own, then what the requested Party adds, then the
    optional ones. An element required twice appears once (its first reason)."""
    spec = rulebook.types.get(request_type)
    if spec is None:
        raise InvalidInput(f"unknown request type {request_type!r}; known: {', '.join(rulebook.types)}")
    profile = parties.get(requested, as_of)
    if profile is None:
        raise InvalidInput(f"requested_party: unknown Party {requested!r}; known: {', '.join(parties.codes())}")
    if requested == requesting:
        raise InvalidInput(f"requesting_party and requested_party are both {requesting}")
    declared = parties.in_effect(profile, as_of)
    out: dict[str, DraftElement] = {}

    def add(e: DraftElement) -> None:
        out.setdefault(e.name, e)

    for e in spec.elements:
        add(DraftElement(e.name, e.article, e.label, "required" if e.when is None else "conditional",
                         always=e.when is None))
    own = spec.mla_elements  # ETS185 Art 25(4) for the mutual assistance types: the Party's own law
    if own is not None:
        for name in profile.mla_required_elements:
            add(DraftElement(name, own.article, own.label.format(element=name.replace("_", " "), party=requested),
                             "party_law", party=requested))
    for entry in rulebook.entries_for(request_type):
        if entry.reference not in declared:
            continue
        eff, params = entry.effect, declared[entry.reference]
        if isinstance(eff, RequiresElements):
            for name in params.get(eff.parameter, []):
                add(DraftElement(name, entry.reference,
                                 f"{name.replace('_', ' ')}, additional supporting information declared by {requested}",
                                 "declared", party=requested, reference=entry.reference))
        elif isinstance(eff, Notification):
            always = params.get("when", "always") == "always"
            for s in eff.elements:
                add(DraftElement(s.name, s.article, s.label, "declared", party=requested, reference=entry.reference,
                                 always=always))
        elif isinstance(eff, RequiresOneOf):
            for s in eff.elements:
                add(DraftElement(s.name, s.article, s.label, "one_of", party=requested, reference=entry.reference,
                                 always=False))
    for e in spec.optional_elements:
        add(DraftElement(e.name, e.article, e.label, "optional", always=False))
    return DraftForm(
        request_type=request_type, requesting_party=requesting, requested_party=requested,
        elements=tuple(out.values()),
        addressee_kind=spec.addressee_kind.kind if spec.addressee_kind is not None else None,
        data_categories=data_categories(rulebook, spec, declared),
    )
