"""The law's labels as a page shows them: request types, states, roles and article titles, in the
viewer's language, from the rule data (rules/). Templates call these; nothing here is a treaty text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evidex.cases.service import Law
from evidex.rules.schema import Condition, ElementSpec, RequestTypeSpec
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

# The authorities a Party registers and the senders a channel names (rules/schema.py AuthorityRole,
# SentBy, ChannelFrom/To), each with the article that creates it.
AUTHORITY_LABELS = {
    "central_authority": lazy("Central authority"),  # ETS185 Art 27(2)
    "contact_24_7": lazy("24/7 point of contact"),  # ETS185 Art 35
    "art6_consultation": lazy("Authority consulted on domain name registration requests"),  # CETS224 Art 6(6)
    "art7_notification": lazy("Authority notified of orders to service providers"),  # CETS224 Art 7(5)(e)
    "art8_sending": lazy("Authority sending orders for giving effect"),  # CETS224 Art 8(10)(a)
    "art8_receiving": lazy("Authority receiving orders for giving effect"),  # CETS224 Art 8(10)(b)
    "competent_authority": lazy("Competent authority"),
    "judicial_authority": lazy("Judicial authority"),
    "issuing_authority": lazy("Issuing authority"),
    "interpol": lazy("INTERPOL"),
    "addressee": lazy("Addressee (service provider or registrar)"),
    "sender": lazy("Sender"),
}
OBLIGED = {
    "requesting": lazy("Requesting Party"),
    "requested": lazy("Requested Party"),
    "addressee": lazy("Addressee"),
    "notified_authority": lazy("Notified authority"),
}
DEADLINE_STARTS = {
    "received_or_issued": lazy("from receipt (or issue)"),
    "service": lazy("from service on the addressee"),
}
EFFECTS = {  # declarations.yaml: the closed vocabulary of what a declaration or reservation changes
    "excludes_type": lazy("Excludes a request type"),
    "requires_supervision": lazy("Requires supervision of the issuing authority"),
    "requires_elements": lazy("Requires additional elements"),
    "requires_one_of": lazy("Requires one of several elements"),
    "redirect_channels": lazy("Redirects the channel"),
    "notification": lazy("Requires simultaneous notification"),
    "dual_criminality": lazy("Dual criminality may be required"),
    "condition": lazy("Changes a condition of the rules"),
}


def _element(spec: RequestTypeSpec | None, name: str) -> ElementSpec | None:
    if spec is None:
        return None
    return next((e for e in (*spec.elements, *spec.optional_elements) if e.name == name), None)


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

    def element_label(request_type: str, name: str) -> str:
        element = _element(rulebook.types.get(request_type), name)
        return element.label if element else name.replace("_", " ")

    def ground_text(request_type: str, kind: str, article: str) -> str:
        """A refusal or postponement ground of a type (`kind`: refusal | postponement), in words."""
        spec = rulebook.types.get(request_type)
        grounds = (spec.refusal_grounds if kind == "refusal" else spec.postponement_grounds) if spec else []
        return next((g.message for g in grounds if g.article == article), article)

    def deadline_description(request_type: str, index: int) -> str:
        """By position: a type may have two deadlines of one name under different conditions (Art 8(6)(a))."""
        spec = rulebook.types.get(request_type)
        return spec.deadlines[index].description if spec and 0 <= index < len(spec.deadlines) else ""

    def on_lapse_text(request_type: str, index: int) -> str:
        spec = rulebook.types.get(request_type)
        step = spec.deadlines[index].on_lapse if spec and 0 <= index < len(spec.deadlines) else None
        return step.message if step else ""

    def channel_means(request_type: str, index: int) -> str:
        spec = rulebook.types.get(request_type)
        return spec.channels[index].means if spec and 0 <= index < len(spec.channels) else ""

    def urgent_means(request_type: str) -> str:
        spec = rulebook.types.get(request_type)
        return spec.urgent_means.means if spec and spec.urgent_means else ""

    def obligation_text(request_type: str, index: int) -> str:
        spec = rulebook.types.get(request_type)
        return spec.obligations[index].message if spec and 0 <= index < len(spec.obligations) else ""

    def declaration_title(reference: str) -> str:
        entry = rulebook.catalogue.get(reference)
        return entry.title if entry else reference

    def declaration_message(reference: str) -> str:
        entry = rulebook.catalogue.get(reference)
        return entry.effect.message if entry else ""

    def effect_label(kind: str) -> str:
        label = EFFECTS.get(kind)
        return _(label) if label else kind

    def period_description(period: str) -> str:
        p = rulebook.periods.get(period)
        return p.description if p else period

    def period_practice(period: str) -> str:
        p = rulebook.periods.get(period)
        return p.practice or "" if p else ""

    def instrument_title(code: str) -> str:
        inst = rulebook.instruments.get(code)
        return inst.title if inst else code

    def authority_label(role: str) -> str:
        label = AUTHORITY_LABELS.get(role)
        return _(label) if label else role.replace("_", " ")

    def obliged_label(by: str) -> str:
        label = OBLIGED.get(by)
        return _(label) if label else by

    def deadline_start(start: str) -> str:
        label = DEADLINE_STARTS.get(start)
        return _(label) if label else start

    def party_name(code: str) -> str:
        versions = law.parties.versions(code)
        return versions[-1].display_name(locale) if versions else code

    def condition_text(condition: Condition | dict[str, Any] | None) -> str:
        """When a rule applies (rules/schema.py Condition: all of its keys hold), in words; a Party's
        declaration may state one as a mapping."""
        if condition is None:
            return ""
        if isinstance(condition, dict):
            given = condition
            try:
                condition = Condition.model_validate(given)
            except ValueError:
                return ", ".join(f"{k}: {v}" for k, v in given.items())
        parts: list[str] = []
        if condition.urgent is not None:
            parts.append(_("urgent") if condition.urgent else _("not urgent"))
        if condition.mla_treaty is not None:
            parts.append(_("a mutual assistance treaty is in force between the Parties") if condition.mla_treaty
                         else _("no mutual assistance treaty is in force between the Parties"))
        if condition.sent_by:
            parts.append(_("sent by %(who)s", who=", ".join(authority_label(w) for w in condition.sent_by)))
        if condition.data_category:
            parts.append(_("data of the category %(categories)s", categories=", ".join(condition.data_category)))
        if condition.element_present:
            parts.append(_("the document gives “%(element)s”", element=condition.element_present.replace("_", " ")))
        if condition.declared:
            parts.append(_("the requested Party made %(reference)s", reference=condition.declared))
        if condition.not_declared:
            parts.append(_("the requested Party did not make %(reference)s", reference=condition.not_declared))
        if condition.notification is not None:
            parts.append(_("with simultaneous notification") if condition.notification
                         else _("without simultaneous notification"))
        return "; ".join(parts)

    return {"type_title": type_title, "state_label": state_label, "state_description": state_description,
            "role_label": role_label, "article_title": article_title, "element_label": element_label,
            "ground_text": ground_text, "deadline_description": deadline_description, "on_lapse_text": on_lapse_text,
            "channel_means": channel_means, "urgent_means": urgent_means, "obligation_text": obligation_text,
            "declaration_title": declaration_title, "declaration_message": declaration_message,
            "effect_label": effect_label, "period_description": period_description, "period_practice": period_practice,
            "instrument_title": instrument_title, "authority_label": authority_label, "obliged_label": obliged_label,
            "deadline_start": deadline_start, "party_name": party_name, "condition_text": condition_text}
