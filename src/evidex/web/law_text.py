"""The law's labels as a page shows them: request types, states, roles and article titles, in the
viewer's language, from the rule data (rules/). Templates call these; nothing here is a treaty text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evidex.cases.service import Law
from evidex.web.i18n import _, lazy

# Deadlines of the node's own lifecycle, not of a request type's data.
NODE_DEADLINES = {"four_eyes_review": lazy("Review by a second person (an emergency sent alone)")}

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
    texts = law.texts

    def type_title(request_type: str) -> str:
        return texts.type_title(request_type, locale)

    def state_label(state: str) -> str:
        return texts.state_label(state, locale)

    def state_description(state: str) -> str:
        return texts.state_description(state, locale)

    def role_label(role: str) -> str:
        return texts.role_label(str(role), locale)

    def article_title(reference: str) -> str:
        return texts.article_title(reference, locale) or ""

    def event_label(event: str) -> str:
        return texts.event_label(event, locale)

    def deadline_label(request_type: str, name: str, article: str) -> str:
        found = texts.deadline_text(request_type, name, article, locale)
        if found:
            return found
        own = NODE_DEADLINES.get(name)
        return _(own) if own else name.replace("_", " ")

    def notification_kind(kind: str) -> str:
        label = NOTIFICATION_KINDS.get(kind)
        return _(label) if label else kind.replace("_", " ")

    return {"type_title": type_title, "deadline_label": deadline_label, "notification_kind": notification_kind, "state_label": state_label, "state_description": state_description,
            "role_label": role_label, "article_title": article_title, "event_label": event_label}
