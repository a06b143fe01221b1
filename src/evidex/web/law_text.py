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
# Who a route names (rules/verdict.py Endpoint.authority): the authorities a Party registers, the
# document's own sender and addressee. English words for the data's names, translated when shown.
ACTOR_LABELS = {
    "central_authority": lazy("Central authority"),
    "contact_24_7": lazy("24/7 point of contact"),
    "competent_authority": lazy("Competent authority"),
    "judicial_authority": lazy("Judicial authority"),
    "interpol": lazy("Interpol"),
    "art6_consultation": lazy("Authority for consultations on domain name requests"),
    "art7_notification": lazy("Authority notified of orders to providers"),
    "art8_sending": lazy("Authority submitting orders to give effect to"),
    "art8_receiving": lazy("Authority receiving orders to give effect to"),
    "addressee": lazy("Addressee (service provider or registrar)"),
    "issuing_authority": lazy("Issuing authority"),
}
# The document format's closed vocabularies (rules/schema.py), in words.
AUTHORITY_KIND_LABELS = {"prosecutor": lazy("Prosecutor"), "judge": lazy("Judge"), "court": lazy("Court"),
                         "police": lazy("Police"), "other": lazy("Other")}
DATA_CATEGORY_LABELS = {"subscriber": lazy("Subscriber information"), "traffic": lazy("Traffic data"),
                        "content": lazy("Content data"), "registration": lazy("Domain name registration information")}
ADDRESSEE_KIND_LABELS = {"service_provider": lazy("Service provider"), "registrar": lazy("Registrar (domain names)")}


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

    def type_article(request_type: str) -> str:
        spec = rulebook.types.get(request_type)
        return spec.article if spec else ""

    def type_help(request_type: str) -> str:
        """One line on how a request of the type travels: its first channel in the data."""
        spec = rulebook.types.get(request_type)
        return spec.channels[0].means if spec is not None else ""

    def element_label(request_type: str, element: str, requested_party: str = "") -> str:
        """An element's label as the rule data gives it: the type's, a declaration's, the requested
        Party's own law's (mla_elements), else its name in words."""
        spec = rulebook.types.get(request_type)
        if spec is not None:
            for e in (*spec.elements, *spec.optional_elements):
                if e.name == element:
                    return e.label
            for entry in rulebook.entries_for(request_type):
                for e in getattr(entry.effect, "elements", ()):
                    if e.name == element:
                        return str(e.label)
            if spec.mla_elements is not None and requested_party and any(
                    element in p.mla_required_elements for p in law.parties.versions(requested_party)):
                return spec.mla_elements.label.format(element=element.replace("_", " "), party=requested_party)
        return element.replace("_", " ").replace(".", ": ").capitalize()

    def actor_label(name: str) -> str:
        label = ACTOR_LABELS.get(str(name))
        return _(label) if label else str(name).replace("_", " ")

    def party_name(code: str) -> str:
        versions = law.parties.versions(str(code))
        return versions[-1].display_name(locale) if versions else str(code)

    def authority_kind_label(kind: str) -> str:
        label = AUTHORITY_KIND_LABELS.get(str(kind))
        return _(label) if label else str(kind)

    def data_category_label(category: str) -> str:
        label = DATA_CATEGORY_LABELS.get(str(category))
        return _(label) if label else str(category)

    def addressee_kind_label(kind: str) -> str:
        label = ADDRESSEE_KIND_LABELS.get(str(kind))
        return _(label) if label else str(kind)

    def deadline_label(request_type: str, name: str) -> str:
        spec = rulebook.types.get(request_type)
        found = next((d for d in spec.deadlines if d.name == name), None) if spec else None
        return found.description if found is not None and found.description else name.replace("_", " ")

    def notification_kind(kind: str) -> str:
        label = NOTIFICATION_KINDS.get(kind)
        return _(label) if label else kind.replace("_", " ")

    return {"type_title": type_title, "deadline_label": deadline_label, "notification_kind": notification_kind,
            "state_label": state_label, "state_description": state_description, "role_label": role_label,
            "article_title": article_title, "type_article": type_article, "type_help": type_help,
            "element_label": element_label, "actor_label": actor_label, "party_name": party_name,
            "authority_kind_label": authority_kind_label, "data_category_label": data_category_label,
            "addressee_kind_label": addressee_kind_label}
