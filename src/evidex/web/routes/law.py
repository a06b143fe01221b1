"""Parties and the law (issue 14 item 7): the Party cards (instruments, declarations and reservations,
languages, authorities and their contacts) and the request types with their elements, channels,
deadlines and grounds — what `evidex parties show` and `evidex rules show` print, from the same data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from babel import Locale, UnknownLocaleError
from fastapi import APIRouter, Request
from starlette.responses import Response

from evidex.api.deps import LawDep, NowDep
from evidex.core.errors import NotFound
from evidex.rules.explain import deadlines_of, declarations_of
from evidex.rules.schema import AUTHORITY_ROLES, PartyProfile
from evidex.web import i18n, law_text
from evidex.web.i18n import _
from evidex.web.page import SignedIn, page

router = APIRouter(include_in_schema=False)
# The authorities every card names first (ETS185 Art 27(2) central authority, Art 35 24/7 contact);
# the rest follow in the rule data's order.
MAIN_AUTHORITIES = ("central_authority", "contact_24_7")


def language_namer(locale: str) -> Callable[[str], str]:
    """A Party's language tag (its profile: `sr`, `sr-Latn`) named in the viewer's language (Babel's data)."""
    shown_in = i18n.babel_locale(locale)

    def name(tag: str) -> str:
        try:
            return Locale.parse(tag.replace("-", "_")).get_display_name(shown_in) or tag
        except (ValueError, UnknownLocaleError):
            return tag

    return name


def _card(profile: PartyProfile, law: LawDep, on: dt.date) -> dict[str, object]:
    return {"profile": profile, "declarations": declarations_of(profile, law.rulebook, on),
            "authorities": [(r, profile.authorities[r]) for r in AUTHORITY_ROLES if r in profile.authorities],
            "versions": law.parties.versions(profile.code)}


@router.get("/parties")
def parties(request: Request, viewer: SignedIn, law: LawDep, now: NowDep) -> Response:
    on = now.date()
    cards = [_card(p, law, on) for code in law.parties.codes() if (p := law.parties.get(code, on)) is not None]
    with i18n.using(viewer.locale):
        title = _("Parties")
    return page(request, viewer, "law/parties.html", title=title, cards=cards, today=on,
                main_authorities=MAIN_AUTHORITIES, language_name=language_namer(viewer.locale))


@router.get("/parties/{code}")
def party(request: Request, code: str, viewer: SignedIn, law: LawDep, now: NowDep) -> Response:
    on = now.date()
    profile = law.parties.get(code.upper(), on) if len(code) == 2 and code.isalpha() else None
    if profile is None:
        raise NotFound(f"no Party {code!r}")
    mla_article = next((t.mla_elements.article for t in law.rulebook.types.values() if t.mla_elements), None)
    with i18n.using(viewer.locale):
        title = _("%(party)s: Party card", party=profile.display_name(viewer.locale))
    return page(request, viewer, "law/party.html", title=title, card=_card(profile, law, on), today=on,
                mla_article=mla_article, language_name=language_namer(viewer.locale))


@router.get("/law")
def request_types(request: Request, viewer: SignedIn, law: LawDep, now: NowDep) -> Response:
    on = now.date()
    rb = law.rulebook
    periods = [(pid, p, rb.value(pid, on=on)) for pid, p in rb.periods.items()]
    with i18n.using(viewer.locale):
        title = _("The law")
    return page(request, viewer, "law/types.html", title=title, types=list(rb.types.values()),
                instruments=list(rb.instruments.values()), periods=periods, today=on,
                deadlines={t: deadlines_of(rb, spec, on) for t, spec in rb.types.items()})


@router.get("/law/{request_type}")
def request_type(request: Request, request_type: str, viewer: SignedIn, law: LawDep, now: NowDep) -> Response:
    on = now.date()
    rb = law.rulebook
    spec = rb.types.get(request_type)
    if spec is None:
        raise NotFound(f"no request type {request_type!r}")
    with i18n.using(viewer.locale):
        title = law_text.helpers(law, viewer.locale)["type_title"](spec.type)
    return page(request, viewer, "law/type.html", title=title, spec=spec, today=on,
                deadlines=deadlines_of(rb, spec, on), entries=rb.entries_for(spec.type),
                declared_by={e.reference: [c for c in law.parties.codes()
                                           if (p := law.parties.get(c, on)) is not None
                                           and e.reference in law.parties.in_effect(p, on)]
                             for e in rb.entries_for(spec.type)})
