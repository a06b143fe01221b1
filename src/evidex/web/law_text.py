"""The law's labels as a page shows them: request types, states, roles and article titles, in the
viewer's language, from the rule data (rules/). Templates call these; nothing here is a treaty text."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from evidex.cases.service import Law
from evidex.rules.schema import Condition
from evidex.rules.texts import ChannelWords
from evidex.rules.texts import readable as readable  # the fallback for a name without a label
from evidex.rules.verdict import Verdict
from evidex.web.i18n import _, lazy

# Deadlines of the node's own lifecycle, not of a request type's data.
NODE_DEADLINES = {"four_eyes_review": lazy("Review by a second person (an emergency sent alone)")}
# The document format's closed vocabularies (rules/schema.py), in words.
AUTHORITY_KIND_LABELS = {"prosecutor": lazy("Prosecutor"), "judge": lazy("Judge"), "court": lazy("Court"),
                         "police": lazy("Police"), "other": lazy("Other")}
DATA_CATEGORY_LABELS = {"subscriber": lazy("Subscriber information"), "traffic": lazy("Traffic data"),
                        "content": lazy("Content data"), "registration": lazy("Domain name registration information")}
# The types of access number a Party may declare it accepts orders for (CETS224 Art 7(9)(b)).
ACCESS_NUMBER_TYPE_LABELS = {"static_ip_address": lazy("Static IP address"),
                             "dynamic_ip_address": lazy("Dynamic IP address")}
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
# The names the lifecycle gives conditions and decisions: words for them until the rule data carries
# its own (then read from there).
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


def spaced(name: str) -> str:
    return name.replace("_", " ")


def word(table: dict[str, str], fallback: Callable[[str], str]) -> Callable[[str], str]:
    """A closed vocabulary of the data in words: its translated label, else `fallback(key)`."""
    def label(key: str) -> str:
        found = table.get(str(key))
        return _(found) if found else fallback(str(key))
    return label


# The closed vocabularies the templates show in words (translated when called, in the page's locale).
VOCABULARIES: dict[str, Callable[[str], str]] = {
    "notification_kind": word(NOTIFICATION_KINDS, spaced),
    "condition_kind_label": word(CONDITION_KIND_LABELS, readable),
    "decision_label": word(DECISION_LABELS, readable),
    "authority_kind_label": word(AUTHORITY_KIND_LABELS, str),
    "data_category_label": word(DATA_CATEGORY_LABELS, str),
    "addressee_kind_label": word(ADDRESSEE_KIND_LABELS, str),
    "access_number_type_label": word(ACCESS_NUMBER_TYPE_LABELS, readable),
    "effect_label": word(EFFECTS, str),
    "obliged_label": word(OBLIGED, str),
    "deadline_start": word(DEADLINE_STARTS, str),
}


def helpers(law: Law, locale: str) -> dict[str, Callable[..., Any]]:
    """The template functions for `law` in `locale` (called while rendering, in that locale)."""
    texts, rulebook = law.texts, law.rulebook

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

    def deadline_label(request_type: str, name: str, article: str = "") -> str:
        found = texts.deadline_text(request_type, name, article, locale)
        if found:
            return found
        own = NODE_DEADLINES.get(name)
        return _(own) if own else name.replace("_", " ")

    def next_step_text(request_type: str, name: str, article: str = "") -> str:
        """What the data proposes once the deadline has lapsed (its `on_lapse`), in the reader's language."""
        return texts.deadline_text(request_type, name, article, locale, on_lapse=True) or ""

    def element_label(request_type: str, name: str, requested_party: str = "") -> str:
        """An element of the type (or one a declaration adds); one the requested Party's own law
        requires (mla_elements) as the data words it; else the name as words."""
        found = texts.element_label(request_type, name, locale)
        if found:
            return found
        word = texts.element_words(name, locale) or readable(name)
        spec = rulebook.types.get(request_type)
        if spec is not None and spec.mla_elements is not None and requested_party and any(
                name in p.mla_required_elements for p in law.parties.versions(requested_party)):
            return texts.text(f"type.{request_type}.mla_elements", locale).format(element=word, party=requested_party)
        return word

    def type_help(request_type: str) -> str:
        """One line on how a request of the type travels: its first channel in the data."""
        return texts.channel_text(request_type, 0, locale) if request_type in rulebook.types else ""

    def element_article(request_type: str, name: str) -> str:
        spec = rulebook.types.get(request_type)
        for e in (*spec.elements, *spec.optional_elements) if spec else ():
            if e.name == name:
                return e.article
        return ""

    def ground_text(request_type: str, article: str, kind: str | None = None) -> str:
        """What a refusal or postponement ground of the type's catalogue (or of an MLA treaty's) means, in
        words; `kind` (refusal, postponement) first where one article is a ground of both (ETS185 Art 25(4))."""
        for k in dict.fromkeys([kind, "refusal", "postponement"]):
            if k in ("refusal", "postponement") and f"type.{request_type}.{k}.{article}" in texts.source:
                return texts.ground_text(request_type, k, article, locale)  # type: ignore[arg-type]
        return article_title(article)

    def authority_label(authority: str) -> str:
        """An authority a route or a document names (an actor of the rule data, or a role)."""
        for key, label in ((f"actor.{authority}", texts.actor_label), (f"role.{authority}", texts.role_label)):
            if key in texts.source:
                return label(str(authority), locale)
        own = AUTHORITY_LABELS.get(str(authority))
        return _(own) if own else readable(authority)

    def means_label(means: str) -> str:
        """A means by which a request travels outside evidex (post, e-mail, Interpol ...), in words."""
        return texts.means_label(str(means), locale) if str(means) in rulebook.outside_evidex else readable(means)

    def party_name(code: str) -> str:
        versions = law.parties.versions(str(code))
        return versions[-1].display_name(locale) if versions else str(code)

    def type_article(request_type: str) -> str:
        spec = rulebook.types.get(request_type)
        return spec.article if spec else ""

    def _deadline(request_type: str, index: int, on_lapse: bool = False) -> str:
        """By position: a type may have two deadlines of one name under different conditions (Art 8(6)(a))."""
        spec = rulebook.types.get(request_type)
        if spec is None or not 0 <= index < len(spec.deadlines):
            return ""
        d = spec.deadlines[index]
        return texts.deadline_text(request_type, d.name, d.article, locale, on_lapse=on_lapse) or ""

    def deadline_description(request_type: str, index: int) -> str:
        return _deadline(request_type, index)

    def on_lapse_text(request_type: str, index: int) -> str:
        return _deadline(request_type, index, on_lapse=True)

    def channel_means(request_type: str, index: int) -> str:
        spec = rulebook.types.get(request_type)
        return texts.channel_text(request_type, index, locale) if spec and 0 <= index < len(spec.channels) else ""

    def urgent_means(request_type: str) -> str:
        spec = rulebook.types.get(request_type)
        return texts.text(f"type.{request_type}.urgent_means", locale) if spec and spec.urgent_means else ""

    def route_channel(verdict: Verdict | Mapping[str, Any]) -> ChannelWords | None:
        """The channel of a verdict's route in the reader's language (rules/texts.py route_channel); None:
        say its English (a verdict stored before routes said which channel they take)."""
        found = verdict.to_json_dict() if isinstance(verdict, Verdict) else verdict
        spec, route = rulebook.types.get(str(found.get("request_type"))), found.get("route")
        if spec is None or not isinstance(route, Mapping):
            return None
        return texts.route_channel(spec, route, str(found.get("requesting_party")),
                                   str(found.get("requested_party")), locale)

    def route_notification(notification: Any) -> str | None:
        """What a route's notification tells the requesting Party, in the reader's language; None: its English."""
        found = notification if isinstance(notification, Mapping) else dataclasses.asdict(notification)
        return texts.route_notification(found, locale)

    def finding_words(verdict: Verdict | Mapping[str, Any], finding: Any) -> str | None:
        """A problem, warning or obligation of a verdict in the reader's language: a missing element by its
        label; one the rule data words, in its words (rules/texts.py finding_text); None: say its English."""
        found = verdict.to_json_dict() if isinstance(verdict, Verdict) else verdict
        f = finding if isinstance(finding, Mapping) else dataclasses.asdict(finding)
        request_type, requested = str(found.get("request_type")), str(found.get("requested_party"))
        if f.get("code") == "missing_element" and f.get("element"):
            return _("Missing: %(element)s", element=element_label(request_type, str(f["element"]), requested))
        return texts.finding_text(f, request_type, str(found.get("requesting_party")), requested, locale)

    def obligation_text(request_type: str, index: int) -> str:
        spec = rulebook.types.get(request_type)
        return texts.obligation_text(request_type, index, locale) if spec and 0 <= index < len(
            spec.obligations) else ""

    def declaration_title(reference: str) -> str:
        return texts.declaration_text(reference, locale) if reference in rulebook.catalogue else reference

    def declaration_message(reference: str) -> str:
        return texts.declaration_message(reference, locale) if reference in rulebook.catalogue else ""

    def period_description(period: str) -> str:
        return texts.period_text(period, locale) if period in rulebook.periods else period

    def period_practice(period: str) -> str:
        p = rulebook.periods.get(period)
        return p.practice or "" if p else ""

    def instrument_title(code: str) -> str:
        return texts.instrument_title(code, locale) if code in rulebook.instruments else code

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

    return {**VOCABULARIES, "type_title": type_title, "deadline_label": deadline_label,
            "next_step_text": next_step_text,
            "state_label": state_label, "state_description": state_description, "role_label": role_label,
            "article_title": article_title, "event_label": event_label, "element_label": element_label,
            "element_article": element_article, "ground_text": ground_text, "party_name": party_name,
            "type_article": type_article, "means_label": means_label,
            "authority_label": authority_label, "actor_label": authority_label,
            "type_help": type_help,
            "deadline_description": deadline_description, "on_lapse_text": on_lapse_text,
            "channel_means": channel_means, "urgent_means": urgent_means, "obligation_text": obligation_text,
            "route_channel": route_channel, "route_notification": route_notification, "finding_words": finding_words,
            "declaration_title": declaration_title, "declaration_message": declaration_message,
            "period_description": period_description, "period_practice": period_practice,
            "instrument_title": instrument_title,
            "condition_text": condition_text}
