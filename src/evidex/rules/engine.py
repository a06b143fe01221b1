"""The rules engine: `check(request, parties, as_of) -> Verdict`. Pure: no I/O, no clock.

Every rule the engine applies comes from the data files (request types, catalogue of
declarations and reservations, Party profiles); the code here only knows the small vocabulary
of conditions and effects those files are written in (see declarations.yaml).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from evidex.core.errors import InvalidInput
from evidex.rules.document import KNOWN_FIELDS, RequestDocument, parse_document
from evidex.rules.loader import Parties, Rulebook, default_rulebook
from evidex.rules.refs import REFERENCE_RE, article_of
from evidex.rules.schema import (
    AUTHORITY_ROLES,
    CatalogueEntry,
    ChannelSpec,
    Condition,
    ConditionOnly,
    DualCriminality,
    ElementSpec,
    ExcludesType,
    Notification,
    PartyProfile,
    RedirectChannels,
    RequestTypeSpec,
    RequiresElements,
    RequiresOneOf,
    RequiresSupervision,
    language_key,
)
from evidex.rules.verdict import (
    Alternative,
    CopyOut,
    Deadline,
    Endpoint,
    Finding,
    NotificationOut,
    Obligation,
    Route,
    Verdict,
)

_TOP_LEVEL = frozenset({"issued_on", "received_on", "case_reference", "data_category", "language"})


def is_present(value: Any, nested: bool = False) -> bool:
    """LEGAL.md §2: a value that is empty, blank or false counts as missing. Inside a structured
    value, `false` is information (e.g. `preservation_status: {sought: false}`)."""
    if value is None:
        return False
    if value is False:
        return nested
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, list | tuple | set):
        return True
    for v in value:  # a plain loop: generators cost more than the check itself
        if v.__class__ is str:
            if v.strip():
                return True
        elif is_present(v, True):
            return True
    return False


def element_value(doc: RequestDocument, name: str) -> Any:
    if name == "issuing_authority":
        ia = doc.issuing_authority
        return ia.name if ia else None
    if name == "issuing_authority.contact":
        ia = doc.issuing_authority
        return dict(ia.contact.__dict__) if ia and ia.contact else None
    if name.startswith("addressee."):
        ad = doc.addressee
        return getattr(ad, name[10:], None) if ad else None
    if name in _TOP_LEVEL:
        return getattr(doc, name)
    return doc.elements.get(name)


def _str_present(v: Any) -> bool:
    return v.__class__ is str and bool(v.strip())


def _contact_present(doc: RequestDocument) -> bool:
    ia = doc.issuing_authority
    c = ia.contact if ia else None
    return c is not None and (_str_present(c.address) or _str_present(c.email) or _str_present(c.phone))


# How each name outside `elements` is shown present; one small function each, chosen once.
_TOP_GETTERS: dict[str, Any] = {
    "issuing_authority": lambda d: d.issuing_authority is not None and _str_present(d.issuing_authority.name),
    "issuing_authority.contact": _contact_present,
    "issued_on": lambda d: d.issued_on is not None,
    "received_on": lambda d: d.received_on is not None,
    "data_category": lambda d: d.data_category is not None,
    "case_reference": lambda d: _str_present(d.case_reference),
    "language": lambda d: _str_present(d.language),
    "addressee.name": lambda d: d.addressee is not None and _str_present(d.addressee.name),
    "addressee.address": lambda d: d.addressee is not None and _str_present(d.addressee.address),
    "addressee.kind": lambda d: d.addressee is not None and d.addressee.kind is not None,
}


def _in_elements(name: str) -> bool:
    """Whether an element name is read from the document's `elements` object."""
    return "." not in name and name not in _TOP_LEVEL and name != "issuing_authority"


@dataclass(slots=True)
class _Ctx:
    doc: RequestDocument
    spec: RequestTypeSpec
    requesting: PartyProfile
    requested: PartyProfile
    declared: dict[str, dict[str, Any]]
    mla_treaty: bool
    problems: list[Finding]
    warnings: list[Finding]
    present: dict[str, bool]  # lazily filled by has()
    party_languages: frozenset[str] = frozenset()
    domestic_languages: frozenset[str] = frozenset()
    notification: bool = False

    def has(self, name: str) -> bool:
        hit = self.present.get(name)
        if hit is None:
            getter = _TOP_GETTERS.get(name)
            hit = self.present[name] = getter(self.doc) if getter is not None else is_present(
                element_value(self.doc, name))
        return hit

    def holds(self, c: Condition | None) -> bool:
        if c is None:
            return True
        checks = _COMPILED.get(id(c))
        if checks is None:
            checks = _compile(c)
        d = self.doc
        for key, want in checks:
            if key == "urgent":
                ok = d.urgent == want
            elif key == "mla_treaty":
                ok = self.mla_treaty == want
            elif key == "sent_by":
                ok = d.sent_by in want
            elif key == "data_category":
                ok = d.data_category in want
            elif key == "element_present":
                ok = self.has(want)
            elif key == "declared":
                ok = want in self.declared
            elif key == "not_declared":
                ok = want not in self.declared
            else:  # notification
                ok = self.notification == want
            if not ok:
                return False
        return True


# Conditions compiled to their set fields only; keyed by identity (rule data lives for the
# process; the Condition objects are kept alive beside their compiled form).
_COMPILED: dict[int, tuple[tuple[str, Any], ...]] = {}
_KEEP: list[Condition] = []


def _compile(c: Condition) -> tuple[tuple[str, Any], ...]:
    checks = tuple(
        (k, frozenset(v) if isinstance(v, list) else v) for k, v in c.__dict__.items() if v is not None
    )
    if len(_KEEP) < 100_000:
        _KEEP.append(c)
        _COMPILED[id(c)] = checks
    return checks


_CONDITIONS: dict[str, Condition] = {}


def _condition(key: str, raw: dict[str, Any]) -> Condition:
    hit = _CONDITIONS.get(key)
    if hit is None:
        hit = _CONDITIONS[key] = Condition.model_validate(raw)
    return hit


def _open_instead(alts: list[Alternative]) -> str:
    if not alts:
        return ""
    return "Open instead: " + ", ".join(f"{a.request_type} ({a.article})" for a in alts) + "."


_TITLES: dict[tuple[int, str], str] = {}


def _title(rb: Rulebook, reference: str) -> str:
    key = (id(rb), reference)
    hit = _TITLES.get(key)
    if hit is None:
        t = rb.article_title(reference)
        hit = f"{article_of(reference)} — {t}" if t else article_of(reference)
        if len(_TITLES) < 10_000:
            _TITLES[key] = hit
    return hit


def _missing(ctx: _Ctx, rb: Rulebook, spec: ElementSpec) -> None:
    _missing_named(ctx, rb, spec.name, spec.article, spec.label)


_MISSING: dict[tuple[int, str, str, str], Finding] = {}


def _missing_named(ctx: _Ctx, rb: Rulebook, name: str, article: str, label: str) -> None:
    # The finding depends only on the rule data: build it once, share it (it is frozen).
    key = (id(rb), name, article, label)
    hit = _MISSING.get(key)
    if hit is None:
        hit = Finding(code="missing_element", article=article, element=name,
                      message=f"Missing: {label} ({article}; {_title(rb, article)})")
        if len(_MISSING) < 50_000:
            _MISSING[key] = hit
    ctx.problems.append(hit)


_ENDPOINTS: dict[tuple[int, str], tuple[Endpoint, bool]] = {}


def _party_endpoint(party: PartyProfile, role: str) -> tuple[Endpoint, bool]:
    key = (id(party), role)
    hit = _ENDPOINTS.get(key)
    if hit is None:
        auth = party.authorities.get(role)  # type: ignore[call-overload]
        if auth is None:
            hit = (Endpoint(party=party.code, authority=role, name=None, contact=None), False)
        else:
            contact = dict(auth.contact.__dict__) if auth.contact else None
            hit = (Endpoint(party=party.code, authority=role, name=auth.name, contact=contact), True)
        if len(_ENDPOINTS) > 4096:
            _ENDPOINTS.clear()
            _KEEP_PROFILES.clear()
        _ENDPOINTS[key] = hit
        _KEEP_PROFILES.append(party)  # ids stay unique while cached
    return hit


_KEEP_PROFILES: list[PartyProfile] = []


def _from_endpoint(ctx: _Ctx, which: str) -> Endpoint:
    doc, party = ctx.doc, ctx.requesting  # `which` is resolved already: "sender" never reaches here
    if which in AUTHORITY_ROLES:
        return _party_endpoint(party, which)[0]
    if which == "interpol":
        return Endpoint(party=party.code, authority="interpol",
                                        name="Interpol National Central Bureau", contact=None)
    ia = doc.issuing_authority
    c = ia.contact if ia else None
    key = (party.code, doc.sent_by, ia.name if ia else None, c.address if c else None, c.email if c else None,
           c.phone if c else None, c is not None)
    hit = _DOC_ENDPOINTS.get(key)
    if hit is None:
        hit = Endpoint(party=party.code, authority=doc.sent_by or "competent_authority",
                       name=key[2], contact={"address": key[3], "email": key[4], "phone": key[5]} if c else None)
        if len(_DOC_ENDPOINTS) > 10_000:
            _DOC_ENDPOINTS.clear()
        _DOC_ENDPOINTS[key] = hit
    return hit


# Endpoints built from a document's own issuing authority or addressee, by value (frozen, shared).
_DOC_ENDPOINTS: dict[tuple[Any, ...], Endpoint] = {}


_GENERIC_TO = {
    "judicial_authority": "Competent judicial authority",
    "competent_authority": "Competent authority",
    "interpol": "Interpol National Central Bureau",
}


def _to_endpoint(ctx: _Ctx, which: str, article: str) -> Endpoint:
    party = ctx.requested
    if which in AUTHORITY_ROLES:
        ep, registered = _party_endpoint(party, which)
        if not registered:
            ctx.warnings.append(Finding(
                code="authority_not_registered", article=article, element=None,
                message=f"{party.code} has no {which} in its profile: the addressee must be confirmed from the official registry"))
        return ep
    if which == "addressee":
        ad = ctx.doc.addressee
        key = (party.code, "addressee", ad.name if ad else None, ad.address if ad else None)
        hit = _DOC_ENDPOINTS.get(key)
        if hit is None:
            hit = Endpoint(party=party.code, authority="addressee", name=key[2],
                           contact={"address": key[3]} if key[3] else None)
            if len(_DOC_ENDPOINTS) > 10_000:
                _DOC_ENDPOINTS.clear()
            _DOC_ENDPOINTS[key] = hit
        return hit
    return Endpoint(party=party.code, authority=which,
                                    name=f"{_GENERIC_TO[which]} of {party.display_name()}", contact=None)


_ACCEPTED: dict[tuple[tuple[str, ...], frozenset[str]], frozenset[str]] = {}


def _accepted(listed: tuple[str, ...], domestic: frozenset[str]) -> frozenset[str]:
    key = (listed, domestic)
    hit = _ACCEPTED.get(key)
    if hit is None:
        hit = frozenset(language_key(x) for x in listed) | domestic
        if len(_ACCEPTED) < 10_000:
            _ACCEPTED[key] = hit
    return hit


def _language_problem(ctx: _Ctx, accepted: set[str] | frozenset[str], given: list[str], article: str, message: str) -> None:
    if not accepted.intersection(given):
        ctx.problems.append(Finding(code="language_not_accepted", article=article, element="language", message=message))


_STATIC_KEYS = frozenset({"mla_treaty", "declared", "not_declared"})


def _prefilter(items: list[tuple[Condition | None, Any]], declared: dict[str, Any], mla_treaty: bool,
               ) -> list[tuple[Condition | None, Any]]:
    """Decide the conditions that depend only on the Parties once per plan; keep the rest."""
    out: list[tuple[Condition | None, Any]] = []
    for when, item in items:
        if when is None:
            out.append((None, item))
            continue
        set_keys = {k for k, v in when.__dict__.items() if v is not None}
        if not set_keys <= _STATIC_KEYS:
            out.append((when, item))
            continue
        ok = ((when.mla_treaty is None or when.mla_treaty == mla_treaty)
              and (when.declared is None or when.declared in declared)
              and (when.not_declared is None or when.not_declared not in declared))
        if ok:
            out.append((None, item))
    return out


@dataclass(frozen=True, slots=True)
class _Plan:
    entries: list[CatalogueEntry]
    declared: dict[str, dict[str, Any]]
    mla_treaty: bool
    instrument_problems: tuple[Finding, ...]
    alternatives: tuple[Alternative, ...]
    party_languages: frozenset[str]
    domestic_languages: frozenset[str]
    obligations: list[tuple[Condition | None, Obligation]]
    warnings: list[tuple[Condition | None, Finding]]
    required: tuple[tuple[str, str, str, bool], ...]  # (element, article, label, in `elements`?) always mandatory here
    conditional: tuple[ElementSpec, ...]  # mandatory only when their condition holds
    channels: list[tuple[Condition | None, ChannelSpec]]  # static conditions already decided
    has_dynamic_obligations: bool
    fixed_obligations: tuple[Obligation, ...]  # used when no obligation depends on the document
    dynamic_channels: bool = True
    routes: dict[Any, tuple[Any, ...]] = field(default_factory=dict)
    selections: dict[str | None, tuple[ChannelSpec, str, tuple[Finding, ...]]] = field(default_factory=dict)



_EMPTY_DOC = RequestDocument(type="", requesting_party="AA", requested_party="BB")


class Engine:
    """Applies one rulebook to request documents."""

    def __init__(self, rulebook: Rulebook | None = None) -> None:
        self.rb = rulebook or default_rulebook()
        self._entries = {t: self.rb.entries_for(t) for t in self.rb.types}
        self._plans: dict[tuple[str, int, int, int, dt.date], _Plan] = {}
        self._keep: list[tuple[PartyProfile, PartyProfile, Parties]] = []  # keeps cached ids unique
        self._needs = {name: frozenset(spec.instruments) for name, spec in self.rb.types.items()}
        # Verdict parts that come straight from the data are built once and shared (frozen).
        self._obligations = {
            name: [(o.when, Obligation(article=o.article, message=o.message, by=o.by)) for o in spec.obligations]
            for name, spec in self.rb.types.items()
        }
        self._warnings = {
            name: [(w.when, Finding(code=w.code, article=w.article, element=None, message=w.message))
                   for w in spec.warnings]
            for name, spec in self.rb.types.items()
        }

    # ------------------------------------------------------------------ public
    def check(self, request: Any, parties: Parties, as_of: dt.date) -> Verdict:
        doc, dropped = parse_document(request)
        rb = self.rb
        spec = rb.types.get(doc.type)
        if spec is None:
            raise InvalidInput(f"unknown request type {doc.type!r}; known: {', '.join(rb.types)}")
        if doc.requesting_party == doc.requested_party:
            raise InvalidInput(f"requesting_party and requested_party are both {doc.requesting_party}")
        requesting = parties.get(doc.requesting_party, as_of) or self._party(
            parties, doc.requesting_party, as_of, "requesting_party")
        requested = parties.get(doc.requested_party, as_of) or self._party(
            parties, doc.requested_party, as_of, "requested_party")
        plan = self._plan(spec, requesting, requested, parties, as_of)
        ctx = _Ctx(doc, spec, requesting, requested, plan.declared, plan.mla_treaty,
                   list(plan.instrument_problems), [], {}, plan.party_languages, plan.domestic_languages)
        entries = plan.entries

        for fld, msg in dropped:
            ctx.problems.append(Finding(
                code="invalid_field", article=spec.article, element=fld,
                message=f"{fld}: {msg}; the field was ignored"))
        alternatives = list(plan.alternatives)
        if entries:
            alternatives += self._exclusions(ctx, entries, parties, as_of)
            self._notification(ctx, entries)
        self._elements(ctx, plan)
        if entries:
            self._declaration_effects(ctx, entries)
        self._unknown(ctx, parties)
        self._language(ctx)
        route = self._route(ctx, entries, plan)
        deadlines = self._deadlines(ctx)
        holds = ctx.holds
        obligations = [o for when, o in plan.obligations if when is None or holds(when)] \
            if plan.has_dynamic_obligations else list(plan.fixed_obligations)
        if plan.warnings:
            ctx.warnings.extend([w for when, w in plan.warnings if when is None or holds(when)])
        if doc.received_on and doc.issued_on and doc.received_on < doc.issued_on:
            ctx.warnings.append(Finding(
                code="received_before_issued", article=spec.article, element="received_on",
                message="received_on is earlier than issued_on"))
        return Verdict(
            admissible=not ctx.problems,
            request_type=spec.type,
            requesting_party=requesting.code,
            requested_party=requested.code,
            as_of=as_of,
            problems=ctx.problems,
            warnings=ctx.warnings,
            route=route,
            deadlines=deadlines,
            obligations=obligations,
            alternatives=alternatives,
        )

    # ------------------------------------------------------------------ steps
    def _plan(self, spec: RequestTypeSpec, requesting: PartyProfile, requested: PartyProfile,
              parties: Parties, as_of: dt.date) -> _Plan:
        """What depends only on the type, the two Parties and the date: computed once, reused for
        every document between the same Parties (a node checks many of those)."""
        key = (spec.type, id(requesting), id(requested), id(parties), as_of)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        declared = parties.in_effect(requested, as_of)
        mla_treaty = requested.code in requesting.mla_treaties or requesting.code in requested.mla_treaties
        probe = _Ctx(_EMPTY_DOC, spec, requesting, requested, declared, mla_treaty, [], [], {})
        alternatives = self._instruments(probe, parties, as_of)
        obligations = _prefilter(self._obligations[spec.type], declared, mla_treaty)
        channels = _prefilter([(c.when, c) for c in spec.channels], declared, mla_treaty)
        plan = _Plan(
            entries=[e for e in self._entries[spec.type] if e.reference in declared],
            declared=declared,
            mla_treaty=mla_treaty,
            instrument_problems=tuple(probe.problems),
            alternatives=tuple(alternatives),
            obligations=obligations,
            has_dynamic_obligations=any(w is not None for w, _ in obligations),
            fixed_obligations=tuple(o for _, o in obligations),
            warnings=_prefilter(self._warnings[spec.type], declared, mla_treaty),
            required=tuple(
                (name, article, label, _in_elements(name))
                for name, article, label in [(e.name, e.article, e.label) for e in spec.elements if e.when is None]
                + ([(n, "ETS185 Art 25(4)",
                     f"{n.replace('_', ' ')}, required by the law of {requested.code} for mutual assistance")
                    for n in requested.mla_required_elements] if spec.mla else [])
            ),
            conditional=tuple(e for e in spec.elements if e.when is not None),
            channels=channels,
            dynamic_channels=any(w is not None for w, _ in channels),
            party_languages=frozenset(language_key(x) for x in requested.languages),
            domestic_languages=frozenset(language_key(x) for x in requested.domestic()),
        )
        if len(self._plans) > 10_000:
            self._plans.clear()
        self._plans[key] = plan
        self._keep.append((requesting, requested, parties))
        if len(self._keep) > 10_000:
            self._keep.clear()
            self._plans.clear()
        return plan

    @staticmethod
    def _party(parties: Parties, code: str, as_of: dt.date, role: str) -> PartyProfile:
        p = parties.get(code, as_of)
        if p is None:
            if code in parties:
                raise InvalidInput(f"{role}: Party {code} has no profile in effect on {as_of.isoformat()}")
            raise InvalidInput(f"{role}: unknown Party {code!r}; known: {', '.join(parties.codes())}")
        return p

    def _available(self, type_name: str, ctx: _Ctx, parties: Parties, as_of: dt.date) -> bool:
        alt = self.rb.types[type_name]
        if not all(ctx.requesting.bound_by(i, as_of) and ctx.requested.bound_by(i, as_of) for i in alt.instruments):
            return False
        for e in self._entries[type_name]:
            if (e.reference in ctx.declared and isinstance(e.effect, ExcludesType)
                    and self._excludes(ctx, e) is not None):
                return False
        return True

    def _alternatives(self, ctx: _Ctx, parties: Parties, as_of: dt.date, why: str) -> list[Alternative]:
        out = []
        for name in ctx.spec.alternatives:
            if self._available(name, ctx, parties, as_of):
                alt = self.rb.types[name]
                out.append(Alternative(
                    request_type=name, article=alt.article,
                    message=f"{why}: a {name} request ({alt.article}, {alt.title}) is open instead"))
        return out

    def _instruments(self, ctx: _Ctx, parties: Parties, as_of: dt.date) -> list[Alternative]:
        needed = self._needs[ctx.spec.type]
        if needed <= parties.instruments_in_force(ctx.requesting, as_of) and needed <= parties.instruments_in_force(
            ctx.requested, as_of
        ):
            return []
        missing = []
        for inst in ctx.spec.instruments:
            for party in (ctx.requesting, ctx.requested):
                if not party.bound_by(inst, as_of):
                    missing.append((party.code, inst))
        if not missing:
            return []
        who = ", ".join(f"{p} is not bound by {i}" for p, i in missing)
        alts = self._alternatives(ctx, parties, as_of, who)
        open_route = _open_instead(alts) or "No treaty route under ETS185/CETS224 is open between these Parties."
        ctx.problems.append(Finding(
            code="instrument_not_binding", article=ctx.spec.article, element=None,
            message=f"{who} on {as_of.isoformat()}. {open_route}"))
        return alts

    def _excludes(self, ctx: _Ctx, entry: CatalogueEntry) -> str | None:
        eff = entry.effect
        assert isinstance(eff, ExcludesType)
        if not ctx.holds(eff.when):
            return None
        if eff.element and eff.parameter:
            listed = ctx.declared[entry.reference].get(eff.parameter)
            value = element_value(ctx.doc, eff.element)
            if listed is None:
                return "all" if is_present(value) else None
            if not isinstance(value, str) or value.strip().lower() not in {str(x).lower() for x in listed}:
                return None
            return f"{eff.element} {value!r}"
        return "all"

    def _exclusions(self, ctx: _Ctx, entries: list[CatalogueEntry], parties: Parties, as_of: dt.date) -> list[Alternative]:
        alts: list[Alternative] = []
        for e in entries:
            if not isinstance(e.effect, ExcludesType):
                continue
            what = self._excludes(ctx, e)
            if what is None:
                continue
            element = e.effect.element or ("data_category" if e.effect.when and e.effect.when.data_category else None)
            new = self._alternatives(ctx, parties, as_of, f"{ctx.requested.code} {e.kind} {e.reference}")
            open_route = _open_instead(new)
            ctx.problems.append(Finding(
                code=f"excluded_by_{e.kind}", article=e.reference, element=element,
                message=f"{ctx.requested.code}: {e.effect.message} {open_route}".strip()))
            alts += new
        return alts

    def _notification(self, ctx: _Ctx, entries: list[CatalogueEntry]) -> None:
        for e in entries:
            if not isinstance(e.effect, Notification):
                continue
            when = ctx.declared[e.reference].get("when", "always")
            if when == "always":
                ctx.notification = True
                continue
            texts = []
            for c in when:
                if isinstance(c, dict):
                    if ctx.holds(_condition(repr(sorted(c.items())), c)):
                        ctx.notification = True
                else:
                    texts.append(str(c))
            if texts and not ctx.notification:
                ctx.warnings.append(Finding(
                    code="notification_circumstances", article=e.reference, element=None,
                    message=f"{ctx.requested.code} requires notification in these circumstances: "
                            f"{'; '.join(texts)}. If one applies, notify its {e.effect.authority} simultaneously."))

    def _elements(self, ctx: _Ctx, plan: _Plan) -> None:
        rb = self.rb
        doc = ctx.doc
        els = doc.elements
        has = ctx.has
        for name, article, label, in_elements in plan.required:
            if in_elements:  # the common case, inlined: a non-blank string is present
                v = els.get(name)
                if v.__class__ is str:
                    if v.strip():
                        continue
                elif is_present(v):
                    continue
            elif getter(doc) if (getter := _TOP_GETTERS.get(name)) is not None else has(name):  # hot path
                continue
            _missing_named(ctx, rb, name, article, label)
        for spec in plan.conditional:
            if not has(spec.name) and ctx.holds(spec.when):
                _missing(ctx, rb, spec)
        dc = ctx.spec.data_categories
        if dc and ctx.doc.data_category is not None and ctx.doc.data_category not in dc.allowed:
            ctx.problems.append(Finding(
                code="data_category_not_allowed", article=dc.article, element="data_category",
                message=f"{ctx.spec.type} covers only {' or '.join(dc.allowed)} data, not {ctx.doc.data_category}"))
        v = els.get("deadline_and_manner")
        if v is not None and self._days(v) is None and is_present(v):
            art = next((e.article for e in ctx.spec.elements if e.name == "deadline_and_manner"), ctx.spec.article)
            ctx.problems.append(Finding(
                code="invalid_element", article=art, element="deadline_and_manner",
                message="deadline_and_manner must be an object {days, manner} with days a positive whole number"))

    @staticmethod
    def _days(v: Any) -> int | None:
        if isinstance(v, dict):
            d = v.get("days")
            if isinstance(d, int) and not isinstance(d, bool) and 0 < d <= 3650:
                return d
        return None

    def _declaration_effects(self, ctx: _Ctx, entries: list[CatalogueEntry]) -> None:
        rb, doc = self.rb, ctx.doc
        for e in entries:
            eff = e.effect
            params = ctx.declared[e.reference]
            if isinstance(eff, Notification):
                if ctx.notification:
                    for spec in eff.elements:
                        if not ctx.has(spec.name):
                            _missing(ctx, rb, spec)
            elif isinstance(eff, RequiresElements):
                for name in params.get(eff.parameter, []):
                    if not ctx.has(name):
                        _missing_named(ctx, rb, name, e.reference,
                                       f"{name.replace('_', ' ')}, additional supporting information declared by {ctx.requested.code}")
            elif isinstance(eff, RequiresOneOf):
                if not any(ctx.has(s.name) for s in eff.elements):
                    names = " or ".join(s.name for s in eff.elements)
                    ctx.problems.append(Finding(
                        code="missing_element", article=e.reference, element=eff.elements[0].name,
                        message=f"Missing: {names}. {eff.message}"))
            elif isinstance(eff, RequiresSupervision):
                ia = doc.issuing_authority
                if ia is not None and ctx.has("issuing_authority") and not (
                    ia.kind in eff.allowed_kinds or ia.independent_supervision is True
                ):
                    ctx.problems.append(Finding(
                        code="supervision_required", article=e.reference, element="issuing_authority",
                        message=f"{ctx.requested.code}: {eff.message} The issuing authority is "
                                f"{ia.kind or 'of unstated kind'} without stated independent supervision."))
            elif isinstance(eff, DualCriminality):
                value = doc.elements.get(eff.element)
                if self._convention_article(value) not in eff.offences:
                    ctx.warnings.append(Finding(
                        code="dual_criminality_may_be_required", article=e.reference, element=eff.element,
                        message=f"{ctx.requested.code}: {eff.message}"))
            elif isinstance(eff, ConditionOnly | ExcludesType | RedirectChannels):
                pass  # applied where the request type's data or the route refers to them

    @staticmethod
    def _convention_article(value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        v = value.strip()
        if REFERENCE_RE.match(v):
            return article_of(v)
        m = re.match(r"^(?:ETS\s*185\s*)?(?:Art(?:icle)?\.?\s*)?(\d+)\b", v, re.IGNORECASE)
        return f"ETS185 Art {m.group(1)}" if m else None

    def _unknown(self, ctx: _Ctx, parties: Parties) -> None:
        extra = ctx.doc.__pydantic_extra__
        for key in extra or ():
            ctx.warnings.append(Finding(
                code="unknown_field", article=ctx.spec.article, element=key,
                message=f"Unknown field {key!r} ignored (known: {', '.join(sorted(KNOWN_FIELDS))})"))
        vocab = self.rb.vocabulary
        if vocab.issuperset(ctx.doc.elements):
            return
        pvocab = parties.vocabulary()
        for key in ctx.doc.elements:
            if key not in vocab and key not in pvocab:
                ctx.warnings.append(Finding(
                    code="unknown_element", article=ctx.spec.article, element=key,
                    message=f"Unknown element {key!r}: not an element of any request type"))

    def _language(self, ctx: _Ctx) -> None:
        doc, rule = ctx.doc, ctx.spec.language_rule
        given = []
        if doc.language and doc.language.strip():
            given.append(language_key(doc.language))
        if doc.translation_language and doc.translation_language.strip():
            given.append(language_key(doc.translation_language))
        if rule == "convention":
            if given and not ctx.party_languages.intersection(given):
                ctx.warnings.append(Finding(
                    code="language_not_listed", article="ETS185 Art 25(4)", element="language",
                    message=f"{ctx.requested.code} lists {', '.join(ctx.requested.languages)} for requests; "
                            f"the Convention sets no language rule, but a translation may be required"))
            return
        if not given:
            art = "CETS224 Art 4(2)" if rule == "addressee" else "CETS224 Art 4(1)"
            ctx.problems.append(Finding(
                code="language_missing", article=art, element="language",
                message="The language of the document is not stated, so its acceptability cannot be shown"))
            return
        if rule == "addressee":
            ad = doc.addressee
            accepted = _accepted(tuple(ad.accepted_languages) if ad else (), ctx.domestic_languages)
            _language_problem(ctx, accepted, given, "CETS224 Art 4(2)",
                              f"Neither the document nor a translation is in a language the addressee accepts "
                              f"({', '.join(sorted(accepted))})")
            if not ctx.notification:
                return
            who = f"The Party notified under CETS224 Art 7(5) ({ctx.requested.code})"
        else:
            who = ctx.requested.code
        _language_problem(ctx, ctx.party_languages, given, "CETS224 Art 4(1)",
                          f"{who} accepts {', '.join(ctx.requested.languages)}; attach a translation into one of them")

    def _route(self, ctx: _Ctx, entries: list[CatalogueEntry], plan: _Plan) -> Route:
        spec, doc = ctx.spec, ctx.doc
        if spec.displaced_by_mla_treaty and ctx.mla_treaty:
            hit = plan.routes.get("mla_treaty")
            if hit is None:
                hit = plan.routes["mla_treaty"] = (Route(
                    from_=_party_endpoint(ctx.requesting, "central_authority")[0],
                    to=_to_endpoint(ctx, "central_authority", "ETS185 Art 27(1)"),
                    channel=f"As provided by the mutual assistance treaty between {ctx.requesting.code} and {ctx.requested.code}",
                    article="ETS185 Art 27(1)", copies=[], notifications=[]), (Finding(
                    code="mla_treaty_applies", article="ETS185 Art 27(1)", element=None,
                    message=f"{ctx.requesting.code} and {ctx.requested.code} have a mutual assistance treaty in force: "
                            f"ETS185 Art 27 and 28 do not apply (Art 27(1), 28(1)); route and conditions follow that treaty"),))
            ctx.warnings.extend(hit[1])
            route: Route = hit[0]
            return route
        if plan.dynamic_channels:
            chosen, from_which, problems = self._select(ctx, entries, plan)
        else:  # the choice depends only on sent_by: decide once per plan
            sel = plan.selections.get(doc.sent_by)
            if sel is None:
                sel = plan.selections[doc.sent_by] = self._select(ctx, entries, plan)
            chosen, from_which, problems = sel
        if problems:
            ctx.problems.extend(problems)
        # Everything below depends only on the Parties and the channel, except an endpoint that is
        # the document's own issuing authority or addressee: cache the rest in the plan.
        key = (id(chosen), from_which, doc.urgent, ctx.notification)
        hit = plan.routes.get(key)
        if hit is None:
            hit = self._route_template(ctx, entries, chosen, from_which)
            if len(plan.routes) < 64:
                plan.routes[key] = hit
        full, from_ep, to_ep, to_role, channel, copies, notifications, warnings = hit
        if warnings:
            ctx.warnings.extend(warnings)
        if full is not None:
            return full  # type: ignore[no-any-return]
        return Route(
            from_=from_ep if from_ep is not None else _from_endpoint(ctx, from_which),
            to=to_ep if to_ep is not None else _to_endpoint(ctx, to_role, chosen.article),
            channel=channel, article=chosen.article, copies=copies, notifications=notifications)

    def _select(self, ctx: _Ctx, entries: list[CatalogueEntry], plan: _Plan,
                ) -> tuple[ChannelSpec, str, tuple[Finding, ...]]:
        """Choose the channel for the document's sender; a sender the treaty does not allow is a problem."""
        spec, doc = ctx.spec, ctx.doc
        holds = ctx.holds
        open_channels = [c for when, c in plan.channels if when is None or holds(when)]
        chosen: ChannelSpec | None = None
        problems: tuple[Finding, ...] = ()
        sent_by = doc.sent_by
        if sent_by is None:
            chosen = open_channels[0] if open_channels else spec.channels[0]
        else:
            for c in open_channels:
                if sent_by in c.sent_by:
                    chosen = c
                    break
            if chosen is None:
                chosen = self._mutually_determined(ctx, entries)
            if chosen is None:
                same = next((c for c in spec.channels if sent_by in c.sent_by), None)
                article = (same.when.not_declared if same and same.when and same.when.not_declared
                           else same.article if same else spec.channel_rule_article or spec.channels[0].article)
                allowed = sorted({s for c in open_channels for s in c.sent_by})
                problems = (Finding(
                    code="channel_not_allowed", article=article, element="sent_by",
                    message=f"A {spec.type} request cannot be sent by {sent_by} here"
                            f"{' (' + self.rb.catalogue[article].effect.message + ')' if article in self.rb.catalogue else ''}; "
                            f"allowed: {', '.join(allowed) or 'none'}"),)
                chosen = open_channels[0] if open_channels else spec.channels[0]
        from_which: str = chosen.from_
        if from_which == "sender":
            from_which = sent_by if sent_by in AUTHORITY_ROLES else "issuing_authority"
        return chosen, from_which, problems

    def _route_template(self, ctx: _Ctx, entries: list[CatalogueEntry], chosen: ChannelSpec,
                        from_which: str) -> tuple[Any, ...]:
        spec, doc = ctx.spec, ctx.doc
        warnings: list[Finding] = []
        to_role: str = chosen.to
        for e in entries:
            if isinstance(e.effect, RedirectChannels) and chosen.under == e.effect.under:
                to_role = e.effect.to
                warnings.append(Finding(
                    code="route_changed_by_declaration", article=e.reference, element="sent_by",
                    message=f"{ctx.requested.code}: {e.effect.message}"))
        channel = chosen.means
        if doc.urgent and spec.urgent_means:
            channel += f"; urgent ({spec.urgent_means.article}): {spec.urgent_means.means}"
        before = len(ctx.warnings)
        copies = [
            CopyOut(from_=_party_endpoint(ctx.requesting, c.from_)[0],
                    to=_to_endpoint(ctx, c.to, c.article), article=c.article)
            for c in chosen.copies
        ]
        notifications = []
        if ctx.notification:
            for e in entries:
                if isinstance(e.effect, Notification):
                    notifications.append(NotificationOut(
                        to=_to_endpoint(ctx, e.effect.authority, e.reference), article=e.reference,
                        message="At the same time as the order goes to the provider: the order, the supplementary information and a summary of the facts"))
        from_ep = _party_endpoint(ctx.requesting, from_which)[0] if from_which in AUTHORITY_ROLES else None
        to_ep = _to_endpoint(ctx, to_role, chosen.article) if to_role in AUTHORITY_ROLES else None
        warnings += ctx.warnings[before:]  # authority_not_registered, found while building
        del ctx.warnings[before:]
        full = (Route(from_=from_ep, to=to_ep, channel=channel, article=chosen.article, copies=copies,
                      notifications=notifications) if from_ep is not None and to_ep is not None else None)
        return full, from_ep, to_ep, to_role, channel, copies, notifications, tuple(warnings)

    def _mutually_determined(self, ctx: _Ctx, entries: list[CatalogueEntry]) -> ChannelSpec | None:
        # CETS224 Art 8(11): "or by such other authority as mutually determined" — a channel closed
        # only by that declaration stays open to the authorities the Parties determined together.
        for c in ctx.spec.channels:
            if ctx.doc.sent_by in c.sent_by and c.when and c.when.not_declared:
                listed = ctx.declared.get(c.when.not_declared, {}).get("authorities") or []
                rest = c.when.model_copy(update={"not_declared": None})
                if ctx.doc.sent_by in listed and ctx.holds(rest):
                    return c
        return None

    def _deadlines(self, ctx: _Ctx) -> list[Deadline]:
        doc = ctx.doc
        start_date = doc.received_on or doc.issued_on
        out = []
        for d in ctx.spec.deadlines:
            if d.when is not None and not ctx.holds(d.when):
                continue
            days = d.days
            if d.days_from_element:
                days = self._days(doc.elements.get(d.days_from_element))
            if d.longer_of_element:
                given = self._days(doc.elements.get(d.longer_of_element))
                if given is not None and days is not None:
                    days = max(days, given)  # CETS224 Art 7(7): whichever is longer
            start = start_date if d.start == "received_or_issued" else None
            if d.requires_complete:
                for p in ctx.problems:
                    if p.code == "missing_element":
                        start = None  # the period runs only from receipt of complete information
                        break
            due = start + dt.timedelta(days=days) if start is not None and days is not None else None
            key = (d.name, days, due, d.article)
            hit = _DEADLINES.get(key)
            if hit is None:
                hit = Deadline(name=d.name, days=days, due=due, article=d.article)
                if len(_DEADLINES) < 50_000:
                    _DEADLINES[key] = hit
            out.append(hit)
        return out


_DEADLINES: dict[tuple[str, int | None, dt.date | None, str], Deadline] = {}
_default_engine: Engine | None = None


def check(request: Any, parties: Parties, as_of: dt.date, rulebook: Rulebook | None = None) -> Verdict:
    """Check a request document against the treaties and the two Parties' profiles as of a date."""
    global _default_engine
    if rulebook is not None:
        return Engine(rulebook).check(request, parties, as_of)
    if _default_engine is None:
        _default_engine = Engine()
    return _default_engine.check(request, parties, as_of)
