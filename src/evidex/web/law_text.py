"""The law's labels as a page shows them: request types, states, roles and article titles, in the
viewer's language, from the rule data (rules/). Templates call these; nothing here is a treaty text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evidex.cases.service import Law
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


NOTIFICATION_KINDS = {
    "reminder": lazy("Reminder"),
    "overdue": lazy("Overdue"),
    "next_step": lazy("Next step"),
    "review_due": lazy("Review due"),
    "dead_letter": lazy("Not delivered"),
    "negative_receipt": lazy("No receipt"),
    "evidence_mismatch": lazy("Evidence does not match"),
    "package": lazy("Evidence package"),
    "retention_review": lazy("Retention review"),
}


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

    def deadline_label(request_type: str, name: str) -> str:
        spec = rulebook.types.get(request_type)
        found = next((d for d in spec.deadlines if d.name == name), None) if spec else None
        return found.description if found is not None and found.description else name.replace("_", " ")

    def notification_kind(kind: str) -> str:
        label = NOTIFICATION_KINDS.get(kind)
        return _(label) if label else kind.replace("_", " ")

    return {"type_title": type_title, "deadline_label": deadline_label, "notification_kind": notification_kind, "state_label": state_label, "state_description": state_description,
            "role_label": role_label, "article_title": article_title}
