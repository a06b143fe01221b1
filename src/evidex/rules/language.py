"""Language (LEGAL.md §5). The document or its translation in a language accepted by the requested
Party (`language_rule: requested_party`; CETS224 Art 4(1) for Art 8, 9, 10), or by the registrar or
provider (`addressee`; 4(2) for Art 6, 7) and then also by a Party notified of the order (the
catalogue's notification effect names its `language_article`). Under `convention` (ETS185 sets no
language rule) a language the requested Party does not list is only a warning. Every finding
cites the article the data gives."""

from __future__ import annotations

from evidex.rules.context import Context
from evidex.rules.plan import LanguageKey, LanguageOutcome, Plan, remember
from evidex.rules.schema import Notification, language_key
from evidex.rules.verdict import Finding


def check_language(ctx: Context) -> None:
    doc, plan = ctx.doc, ctx.plan
    addressee = doc.addressee
    listed = tuple(addressee.accepted_languages) if addressee and plan.spec.language_rule == "addressee" else ()
    key = (doc.language, doc.translation_language, listed, ctx.notification)
    # The outcome depends only on these and the Parties: documents name a handful of languages.
    problems, warnings = plan.languages.get(key) or remember(plan.languages, key, _outcome(plan, key))
    if problems:
        ctx.problems.extend(problems)
    if warnings:
        ctx.warnings.extend(warnings)


def _outcome(plan: Plan, key: LanguageKey) -> LanguageOutcome:
    language, translation, listed, notification = key
    spec, requested = plan.spec, plan.requested
    given = [language_key(t) for t in (language, translation) if t and t.strip()]
    if spec.language_rule == "convention":
        if given and plan.party_languages.isdisjoint(given):
            return (), (Finding(
                code="language_not_listed", article=spec.language_article, element="language",
                message=f"{requested.code} lists {', '.join(requested.languages)} for requests; "
                        f"the Convention sets no language rule, but a translation may be required"),)
        return (), ()
    if not given:
        return (Finding(
            code="language_missing", element="language", article=spec.language_article,
            message="The language of the document is not stated, so its acceptability cannot be shown"),), ()
    problems = []
    article = spec.language_article
    if spec.language_rule == "addressee":
        # The provider accepts the language of its Party's comparable domestic process (CETS224 Art 4(2)(a)).
        accepted = frozenset(language_key(t) for t in listed) | plan.domestic_languages
        if accepted.isdisjoint(given):
            problems.append(Finding(
                code="language_not_accepted", article=article, element="language",
                message=f"Neither the document nor a translation is in a language the addressee accepts "
                        f"({', '.join(sorted(accepted))})"))
        # A Party notified of the order (a catalogue `notification` effect) accepts its own languages.
        notified = [(r.entry.reference, r.entry.effect.language_article) for r in plan.notifications
                    if notification and isinstance(r.entry.effect, Notification) and r.entry.effect.language_article]
        if not notified:
            return tuple(problems), ()
        reference, article = notified[0]
        who = f"The Party notified under {reference} ({requested.code})"
    else:
        who = requested.code
    if plan.party_languages.isdisjoint(given):
        problems.append(Finding(
            code="language_not_accepted", article=article, element="language",
            message=f"{who} accepts {', '.join(requested.languages)}; attach a translation into one of them"))
    return tuple(problems), ()
