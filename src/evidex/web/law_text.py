"""The law's labels as a page shows them: request types, states, roles and article titles, in the
viewer's language, from the rule data (rules/). Templates call these; nothing here is a treaty text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evidex.cases.service import REVIEW_DEADLINE, Law
from evidex.web.i18n import _, lazy

ROLE_LABELS = {
    "competent_authority": lazy("Competent authority"),
    "central_authority": lazy("Central authority"),
    "contact_24_7": lazy("24/7 point of contact"),
    "service_provider": lazy("Service provider"),
    "notified_authority": lazy("Notified authority"),
    "data_protection_officer": lazy("Data protection officer"),
    "administrator": lazy("Administrator"),
    "system": lazy("This node"),
}
# The names the lifecycle gives conditions and decisions, and the review deadline this node keeps
# (cases.service): words for them until the rule data carries its own (then read from there).
CONDITION_KIND_LABELS = {
    "confidentiality": lazy("Confidentiality"),
    "use_limitation": lazy("Limitation of use"),
    "other": lazy("Other condition"),
}
DECISION_LABELS = {
    "refusal": lazy("Refusal"),
    "postponement": lazy("Postponement"),
    "partial_execution": lazy("Partial execution"),
    "conditions": lazy("Conditions"),
}
REVIEW_DEADLINE_LABEL = lazy("A second person's review of a request sent alone in an emergency")


def readable(name: str) -> str:
    """A name from the data as words (`record_partial_execution` -> `Record partial execution`): the
    fallback where the data has no label of its own."""
    text = str(name).replace("_", " ").replace(".", " – ").strip()
    return text[:1].upper() + text[1:]


def helpers(law: Law, locale: str) -> dict[str, Callable[..., Any]]:
    """The template functions for `law` in `locale` (called while rendering, in that locale)."""
    rulebook, lifecycle = law.rulebook, law.lifecycle

    def type_title(request_type: str) -> str:
        spec = rulebook.types.get(request_type)
        return spec.title if spec else request_type

    def state_label(state: str) -> str:
        return state.replace("_", " ")

    def state_description(state: str) -> str:
        return lifecycle.states.get(state, state)

    def role_label(role: str) -> str:
        label = ROLE_LABELS.get(str(role))
        return _(label) if label else str(role)

    def article_title(reference: str) -> str:
        return rulebook.article_title(reference) or ""

    def event_label(event: str) -> str:
        return readable(event)

    def element_label(request_type: str, name: str) -> str:
        spec = rulebook.types.get(request_type)
        if spec is not None:
            for e in (*spec.elements, *spec.optional_elements):
                if e.name == name:
                    return e.label
            for entry in rulebook.entries_for(request_type):  # elements a Party's declaration adds
                for e in getattr(entry.effect, "elements", None) or ():
                    if e.name == name:
                        return str(e.label)
        return readable(name)

    def element_article(request_type: str, name: str) -> str:
        spec = rulebook.types.get(request_type)
        for e in (*spec.elements, *spec.optional_elements) if spec else ():
            if e.name == name:
                return e.article
        return ""

    def ground_text(request_type: str, article: str) -> str:
        spec = rulebook.types.get(request_type)
        for g in (*spec.refusal_grounds, *spec.postponement_grounds) if spec else ():
            if g.article == article:
                return g.message
        return article_title(article)

    def deadline_label(request_type: str, name: str) -> str:
        if name == REVIEW_DEADLINE:
            return _(REVIEW_DEADLINE_LABEL)
        spec = rulebook.types.get(request_type)
        for d in spec.deadlines if spec else ():
            if d.name == name:
                return d.description
        return readable(name)

    def condition_kind_label(kind: str) -> str:
        label = CONDITION_KIND_LABELS.get(kind)
        return _(label) if label else readable(kind)

    def decision_label(kind: str) -> str:
        label = DECISION_LABELS.get(kind)
        return _(label) if label else readable(kind)

    def authority_label(authority: str) -> str:
        label = ROLE_LABELS.get(str(authority))
        return _(label) if label else readable(authority)

    def party_name(code: str) -> str:
        versions = law.parties.versions(str(code))
        return versions[-1].display_name(locale) if versions else str(code)

    def type_article(request_type: str) -> str:
        spec = rulebook.types.get(request_type)
        return spec.article if spec else ""

    return {"type_title": type_title, "party_name": party_name, "type_article": type_article,
            "state_label": state_label, "state_description": state_description,
            "role_label": role_label, "article_title": article_title, "event_label": event_label,
            "element_label": element_label, "element_article": element_article, "ground_text": ground_text,
            "deadline_label": deadline_label, "condition_kind_label": condition_kind_label,
            "decision_label": decision_label, "authority_label": authority_label}
