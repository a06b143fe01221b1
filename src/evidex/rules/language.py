"""Language (LEGAL.md §5). CETS224 Art 4: the document or its translation in a language accepted
by the requested Party (4(1): Art 8, 9, 10, and a Party notified under Art 7(5)) or by the
registrar or provider (4(2): Art 6, 7). ETS185 sets no language rule: a language the requested
Party does not list is only a warning, citing the type's own article."""

from __future__ import annotations

from evidex.rules.context import Context
from evidex.rules.verdict import Finding


def _not_accepted(ctx: Context, accepted: frozenset[str], given: list[str], article: str, message: str) -> None:
    if accepted.isdisjoint(given):
        ctx.problems.append(Finding(code="language_not_accepted", article=article, element="language", message=message))


def check_language(ctx: Context) -> None:
    doc, plan = ctx.doc, ctx.plan
    spec, requested = plan.spec, plan.requested
    key = ctx.texts.language
    given = [key(t) for t in (doc.language, doc.translation_language) if t and t.strip()]
    if spec.language_rule == "convention":
        if given and plan.party_languages.isdisjoint(given):
            assert spec.language_article is not None  # required by the schema for this rule
            ctx.warnings.append(Finding(
                code="language_not_listed", article=spec.language_article, element="language",
                message=f"{requested.code} lists {', '.join(requested.languages)} for requests; "
                        f"the Convention sets no language rule, but a translation may be required"))
        return
    if not given:
        ctx.problems.append(Finding(
            code="language_missing", element="language",
            article="CETS224 Art 4(2)" if spec.language_rule == "addressee" else "CETS224 Art 4(1)",
            message="The language of the document is not stated, so its acceptability cannot be shown"))
        return
    if spec.language_rule == "addressee":
        addressee = doc.addressee
        # 4(2)(a): the provider accepts the language of its Party's comparable domestic process.
        listed = tuple(addressee.accepted_languages) if addressee else ()
        accepted = plan.accepted.get(listed)
        if accepted is None:
            accepted = frozenset(key(t) for t in listed) | plan.domestic_languages
            if len(plan.accepted) < 64:
                plan.accepted[listed] = accepted
        _not_accepted(ctx, accepted, given, "CETS224 Art 4(2)",
                      f"Neither the document nor a translation is in a language the addressee accepts "
                      f"({', '.join(sorted(accepted))})")
        if not ctx.notification:
            return
        who = f"The Party notified under CETS224 Art 7(5) ({requested.code})"
    else:
        who = requested.code
    _not_accepted(ctx, plan.party_languages, given, "CETS224 Art 4(1)",
                  f"{who} accepts {', '.join(requested.languages)}; attach a translation into one of them")
