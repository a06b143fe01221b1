"""Language (LEGAL.md §5). CETS224 Art 4: the document or its translation in a language accepted
by the requested Party (4(1): Art 8, 9, 10, and a Party notified under Art 7(5)) or by the
registrar or provider (4(2): Art 6, 7). ETS185 sets no language rule: a language the requested
Party does not list is only a warning, citing the type's own article."""

from __future__ import annotations

from evidex.rules.context import Context
from evidex.rules.plan import LanguageKey, LanguageOutcome, Plan, remember
from evidex.rules.schema import language_key
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
            assert spec.language_article is not None  # required by the schema for this rule
            return (), (Finding(
                code="language_not_listed", article=spec.language_article, element="language",
                message=f"{requested.code} lists {', '.join(requested.languages)} for requests; "
                        f"the Convention sets no language rule, but a translation may be required"),)
        return (), ()
    if not given:
        return (Finding(
            code="language_missing", element="language",
            article="CETS224 Art 4(2)" if spec.language_rule == "addressee" else "CETS224 Art 4(1)",
            message="The language of the document is not stated, so its acceptability cannot be shown"),), ()
    problems = []
    if spec.language_rule == "addressee":
        # 4(2)(a): the provider accepts the language of its Party's comparable domestic process.
        accepted = frozenset(language_key(t) for t in listed) | plan.domestic_languages
        if accepted.isdisjoint(given):
            problems.append(Finding(
                code="language_not_accepted", article="CETS224 Art 4(2)", element="language",
                message=f"Neither the document nor a translation is in a language the addressee accepts "
                        f"({', '.join(sorted(accepted))})"))
        if not notification:
            return tuple(problems), ()
        who = f"The Party notified under CETS224 Art 7(5) ({requested.code})"
    else:
        who = requested.code
    if plan.party_languages.isdisjoint(given):
        problems.append(Finding(
            code="language_not_accepted", article="CETS224 Art 4(1)", element="language",
            message=f"{who} accepts {', '.join(requested.languages)}; attach a translation into one of them"))
    return tuple(problems), ()
