"""Pydantic models of the law as data: instruments, request types, the catalogue of
declarations and reservations, and Party profiles. Loaded and validated at start-up."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from evidex.rules.refs import INSTRUMENTS, Reference, article_of

AuthorityRole = Literal[
    "central_authority",  # ETS185 Art 27(2)
    "contact_24_7",  # ETS185 Art 35
    "art6_consultation",  # CETS224 Art 6(6)
    "art7_notification",  # CETS224 Art 7(5)(e)
    "art8_sending",  # CETS224 Art 8(10)(a)
    "art8_receiving",  # CETS224 Art 8(10)(b)
]
AUTHORITY_ROLES: tuple[str, ...] = AuthorityRole.__args__  # type: ignore[attr-defined]

SentBy = Literal["central_authority", "contact_24_7", "competent_authority", "judicial_authority", "interpol"]
DataCategory = Literal["subscriber", "traffic", "content", "registration"]
AuthorityKind = Literal["prosecutor", "judge", "court", "police", "other"]
AddresseeKind = Literal["service_provider", "registrar"]
InstrumentCode = Literal["ETS185", "CETS224", "UNCC"]
assert InstrumentCode.__args__ == INSTRUMENTS  # type: ignore[attr-defined]

ElementName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")]
# A means by which a request travels when evidex does not carry it (a name in request_types.yaml
# `outside_evidex`): post, e-mail, fax, the 24/7 network, Interpol ...
MeansName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- request types
class Condition(_Strict):
    """All given keys must hold (AND)."""

    urgent: bool | None = None
    mla_treaty: bool | None = None
    sent_by: list[SentBy] | None = None
    data_category: list[DataCategory] | None = None
    element_present: ElementName | None = None
    declared: Reference | None = None
    not_declared: Reference | None = None
    notification: bool | None = None


class ElementSpec(_Strict):
    name: ElementName
    article: Reference
    label: str
    when: Condition | None = None


class CopySpec(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    from_: AuthorityRole = Field(alias="from")
    to: AuthorityRole
    article: Reference


ChannelFrom = Literal[AuthorityRole, "issuing_authority", "interpol", "sender"]
ChannelTo = Literal[AuthorityRole, "addressee", "judicial_authority", "competent_authority", "interpol"]


class ChannelSpec(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    sent_by: list[SentBy] = Field(min_length=1)
    from_: ChannelFrom = Field(alias="from")
    to: ChannelTo
    article: Reference
    means: str
    # The means its article allows when evidex does not carry the request (the requested Party has
    # no evidex node this node trusts): the person sends the official document by one of them.
    outside_evidex: list[MeansName] = Field(min_length=1)
    when: Condition | None = None
    under: Reference | None = None  # the paragraph a channel belongs to (for redirect_channels)
    copies: list[CopySpec] = []


class NextStep(_Strict):
    """What to propose when a deadline has lapsed (e.g. CETS224 Art 7(7): enforcement only via Art 8)."""

    article: Reference
    message: str


class DeadlineSpec(_Strict):
    name: str
    article: Reference
    description: str
    start: Literal["received_or_issued", "service"]
    period: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")] | None = None  # an id in periods.yaml
    days_from_element: ElementName | None = None
    longer_of_element: ElementName | None = None
    requires_complete: bool = False
    when: Condition | None = None
    on_lapse: NextStep | None = None  # proposed to the requesting side once the deadline has passed

    @model_validator(mode="after")
    def _days_given(self) -> DeadlineSpec:
        if self.period is None and self.days_from_element is None:
            raise ValueError("a deadline needs 'period' (an id in periods.yaml) or 'days_from_element'")
        return self


ObligedBy = Literal["requesting", "requested", "addressee", "notified_authority"]


class ObligationSpec(_Strict):
    by: ObligedBy
    article: Reference
    message: str
    when: Condition | None = None


class WarningSpec(_Strict):
    code: str
    article: Reference
    message: str
    when: Condition | None = None


class GroundSpec(_Strict):
    article: Reference
    message: str


class DataCategoryRule(_Strict):
    allowed: list[DataCategory]
    article: Reference


class ConfidentialElements(_Strict):
    article: Reference
    names: list[ElementName]


class UrgentMeans(_Strict):
    article: Reference
    means: str
    outside_evidex: list[MeansName] = Field(min_length=1)  # added to the channel's for an urgent request

    def added_to(self, channel: str) -> str:
        """The channel of an urgent request in the engine's words (its English): the channel's means and these."""
        return f"{channel}; urgent ({self.article}): {self.means}"


class PartyRequiredElements(_Strict):
    """Elements the requested Party's own law requires (its profile's `mla_required_elements`),
    e.g. ETS185 Art 25(4). `label` may name `{element}` and `{party}`."""

    article: Reference
    label: str


class MlaTreatyRoute(_Strict):
    """Where the two Parties have a mutual assistance treaty in force, the type's channels give way
    to it (ETS185 Art 27(1), 28(1)). `channel` and `warning` may name `{requesting}`, `{requested}`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    article: Reference
    from_: AuthorityRole = Field(alias="from")
    to: AuthorityRole
    channel: str
    warning: str
    outside_evidex: list[MeansName] = Field(min_length=1)  # as a channel's: the means the treaty allows
    # The articles the treaty displaces (ETS185 Art 27(1), 28(1)): what cites one of them (a letter's
    # articles, a condition's) cites the treaty, by `article`, instead; a refusal or a postponement on
    # one of them is not open (the treaty's grounds are: ETS185 Art 25(4)).
    displaces: list[Reference] = []
    # Grounds for postponing under the treaty, which the type's own (Art 27(5)) give way to.
    postponement_grounds: list[GroundSpec] = []

    def displaces_reference(self, reference: str | None) -> bool:
        """Whether `reference` is an article the treaty displaces (never the article that says so)."""
        if not reference or reference == self.article:
            return False
        try:
            return article_of(reference) in {article_of(a) for a in self.displaces}
        except ValueError:
            return False


class AddresseeKindRule(_Strict):
    """The kind of addressee an article concerns (LEGAL.md §2): CETS224 Art 6(1) a registrar,
    Art 7(1), 8(1) and 9(1) a service provider."""

    kind: AddresseeKind
    article: Reference
    message: str


class RequestTypeSpec(_Strict):
    type: Annotated[str, Field(pattern=r"^[a-z_]+$")]
    class_name: str
    title: str
    article: Reference
    instruments: list[InstrumentCode] = Field(min_length=1)
    mla_elements: PartyRequiredElements | None = None  # the requested Party's mla_required_elements apply
    displaced_by_mla_treaty: MlaTreatyRoute | None = None
    language_rule: Literal["addressee", "requested_party", "convention"] = "convention"
    # The article a language finding cites (LEGAL.md §5: its own article, e.g. ETS185 Art 26(1) for
    # spontaneous information, which is not assistance; CETS224 Art 4(2) for a provider's languages).
    language_article: Reference
    addressee_kind: AddresseeKindRule | None = None
    data_categories: DataCategoryRule | None = None
    elements: list[ElementSpec]
    optional_elements: list[ElementSpec] = []
    confidential_elements: ConfidentialElements | None = None
    channels: list[ChannelSpec] = Field(min_length=1)
    channel_rule_article: Reference | None = None
    urgent_means: UrgentMeans | None = None
    warnings: list[WarningSpec] = []
    deadlines: list[DeadlineSpec] = []
    obligations: list[ObligationSpec] = []
    refusal_grounds: list[GroundSpec] = []
    postponement_grounds: list[GroundSpec] = []
    alternatives: list[str] = []

    def governing_treaty(self, route: Any) -> MlaTreatyRoute | None:
        """The rule of the MLA treaty that governs a request of this type whose verdict's `route` (JSON)
        is given, if the route says one does (ETS185 Art 27(1), 28(1): Art 27 and 28 do not apply)."""
        treaty = self.displaced_by_mla_treaty
        governs = isinstance(route, Mapping) and route.get("mla_treaty") is True
        return treaty if treaty is not None and governs else None

    def answer_grounds(self, kind: Literal["refusal", "postponement"], route: Any) -> list[GroundSpec]:
        """The grounds on which the requested Party may refuse or postpone a request of this type whose
        verdict's `route` (JSON) is given: the type's; where an MLA treaty governs it, those on articles
        the treaty displaces give way to the treaty's (ETS185 Art 25(4), 27(1))."""
        own = self.refusal_grounds if kind == "refusal" else self.postponement_grounds
        treaty = self.governing_treaty(route)
        if treaty is None:
            return list(own)
        kept = [g for g in own if not treaty.displaces_reference(g.article)]
        if kind == "postponement":
            kept += [g for g in treaty.postponement_grounds if all(g.article != k.article for k in kept)]
        return kept

    @property
    def mla(self) -> bool:
        """The requested Party's own requirements for mutual assistance apply to this type."""
        return self.mla_elements is not None


# Every name a channel, a copy or an obligation may give an actor: each needs its label (`actors`).
ACTORS: tuple[str, ...] = tuple(dict.fromkeys(
    (*AUTHORITY_ROLES, *SentBy.__args__, *ChannelFrom.__args__, *ChannelTo.__args__,  # type: ignore[attr-defined]
     *ObligedBy.__args__)))  # type: ignore[attr-defined]
Actor = Literal[ACTORS]  # type: ignore[valid-type]


class RequestTypesFile(_Strict):
    version: dt.date
    actors: dict[Actor, Annotated[str, Field(min_length=1)]]
    # Each means a request may travel by outside evidex, with the words a person reads.
    outside_evidex: dict[MeansName, Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    # Elements a Party's own law may require that no type names (ETS185 Art 25(4)), with their words.
    element_words: dict[ElementName, Annotated[str, Field(min_length=1)]] = {}
    types: list[RequestTypeSpec]

    @model_validator(mode="after")
    def _every_actor_labelled(self) -> RequestTypesFile:
        missing = [a for a in ACTORS if a not in self.actors]
        if missing:
            raise ValueError(f"actors: no label for {', '.join(missing)}: every actor a channel or an "
                             "obligation may name needs the words a person reads")
        for t in self.types:
            named = [(f"channels[{i}]", c.outside_evidex) for i, c in enumerate(t.channels)]
            if t.urgent_means is not None:
                named.append(("urgent_means", t.urgent_means.outside_evidex))
            if t.displaced_by_mla_treaty is not None:
                named.append(("displaced_by_mla_treaty", t.displaced_by_mla_treaty.outside_evidex))
            for where, means in named:
                unknown = [m for m in means if m not in self.outside_evidex]
                if unknown:
                    raise ValueError(f"types[{t.type}].{where}.outside_evidex: {', '.join(unknown)} not in "
                                     f"outside_evidex ({', '.join(self.outside_evidex)})")
        return self


# --------------------------------------------------------------------------- catalogue
class ExcludesType(_Strict):
    kind: Literal["excludes_type"]
    message: str
    when: Condition | None = None
    element: ElementName | None = None  # with `parameter`: excluded when the element's value
    parameter: str | None = None  # is in the Party's parameter list


class RequiresSupervision(_Strict):
    kind: Literal["requires_supervision"]
    message: str
    allowed_kinds: list[AuthorityKind]


class RequiresElements(_Strict):
    kind: Literal["requires_elements"]
    message: str
    parameter: str


class RequiresOneOf(_Strict):
    kind: Literal["requires_one_of"]
    message: str
    when: Condition | None = None  # e.g. CETS224 Art 7(8): subscriber information only
    elements: list[ElementSpec] = Field(min_length=2)


class RedirectChannels(_Strict):
    kind: Literal["redirect_channels"]
    message: str
    under: Reference
    to: AuthorityRole


class Notification(_Strict):
    kind: Literal["notification"]
    message: str
    # What the route tells the requesting Party to send the notified authority, and when (a verdict's
    # route notification: its words in every language, i18n key declaration.<reference>.route_message).
    route_message: str
    authority: AuthorityRole
    elements: list[ElementSpec]
    language_article: Reference | None = None  # the notified Party's languages apply too (CETS224 Art 4(1))


class DualCriminality(_Strict):
    kind: Literal["dual_criminality"]
    message: str
    offences: list[Reference]
    element: ElementName


class ConditionOnly(_Strict):
    kind: Literal["condition"]
    message: str


Effect = Annotated[
    ExcludesType
    | RequiresSupervision
    | RequiresElements
    | RequiresOneOf
    | RedirectChannels
    | Notification
    | DualCriminality
    | ConditionOnly,
    Field(discriminator="kind"),
]


class CatalogueEntry(_Strict):
    reference: Reference
    kind: Literal["declaration", "reservation"]
    title: str
    applies_to: list[str] = Field(min_length=1)
    parameters: dict[str, str] = {}
    effect: Effect


class CatalogueFile(_Strict):
    version: dt.date
    entries: list[CatalogueEntry]


# --------------------------------------------------------------------------- periods
class DatedDays(_Strict):
    """A number of days and the day from which it applies (until the next value's day)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    from_: dt.date = Field(alias="from")
    days: int = Field(gt=0)


class Period(_Strict):
    """A named number of days, as an OpenFisca parameter: it can change at a date, and a lookup
    takes the date. Each value applies from its `from` until the next one's; the earliest also
    answers for earlier dates (a document may be dated before a treaty existed)."""

    article: Reference | None = None  # the article that sets the value
    practice: str | None = None  # or, for a value no treaty sets (a reminder's lead time): why
    description: str
    values: list[DatedDays] = Field(min_length=1)

    @model_validator(mode="after")
    def _basis_and_dates(self) -> Period:
        if (self.article is None) == (self.practice is None):
            raise ValueError("article: required — the treaty article that sets the value (or, for a value no "
                             "treaty sets, `practice` instead, saying why the node chose it)")
        for i in range(1, len(self.values)):
            prev, this = self.values[i - 1].from_, self.values[i].from_
            if this <= prev:
                raise ValueError(f"values[{i}].from: {this} overlaps values[{i - 1}] (from {prev}): each value "
                                 "applies from its date until the next one's; list them in date order, one per date")
        return self

    def on(self, day: dt.date) -> int:
        days = self.values[0].days
        for v in self.values[1:]:
            if v.from_ > day:
                break
            days = v.days
        return days


class PeriodsFile(_Strict):
    version: dt.date
    periods: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], Period]


# --------------------------------------------------------------------------- instruments
class Instrument(_Strict):
    code: InstrumentCode
    title: str
    adopted_on: dt.date
    place: str
    requires: list[InstrumentCode] = []
    articles: dict[Annotated[str, Field(pattern=r"^\d+$")], str]


class InstrumentsFile(_Strict):
    version: dt.date
    instruments: list[Instrument]


# --------------------------------------------------------------------------- Party profiles
class Contact(_Strict):
    address: str | None = None
    email: str | None = None
    phone: str | None = None


class Authority(_Strict):
    name: str = Field(min_length=1)
    contact: Contact | None = None


class InstrumentBinding(_Strict):
    code: InstrumentCode
    since: dt.date | None = None
    until: dt.date | None = None

    def in_force(self, on: dt.date) -> bool:
        return (self.since is None or self.since <= on) and (self.until is None or on < self.until)


LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")


def language_key(tag: str) -> str:
    """Primary language subtag, lower case: `sr-Latn` -> `sr`."""
    return tag.strip().replace("_", "-", 1).split("-", 1)[0].lower()


LanguageTag = Annotated[str, Field(pattern=LANGUAGE_RE.pattern)]
PartyCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class PartyProfile(_Strict):
    code: PartyCode
    source: str = "official"
    valid_from: dt.date | None = None
    name: dict[str, str] | str
    instruments: list[InstrumentBinding]
    languages: list[LanguageTag] = Field(min_length=1)
    domestic_languages: list[LanguageTag] | None = None
    timezone: str = "UTC"
    authorities: dict[AuthorityRole, Authority] = {}
    declarations: dict[Reference, bool | dict[str, Any]] = {}
    reservations: dict[Reference, bool | dict[str, Any]] = {}
    mla_treaties: list[PartyCode] = []
    mla_required_elements: list[ElementName] = []
    retention_days: int | None = Field(default=None, gt=0)

    @field_validator("instruments", mode="before")
    @classmethod
    def _instrument_codes(cls, v: Any) -> Any:
        # LEGAL.md §3 lists plain codes; a binding may also carry its dates.
        if isinstance(v, list):
            return [{"code": x} if isinstance(x, str) else x for x in v]
        return v

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {v!r}") from e
        return v

    def display_name(self, locale: str = "en") -> str:
        if isinstance(self.name, str):
            return self.name
        return self.name.get(locale) or self.name.get("en") or next(iter(self.name.values()), self.code)

    def bound_by(self, instrument: str, on: dt.date) -> bool:
        for b in self.instruments:
            if b.code == instrument and (b.since is None or b.since <= on) and (b.until is None or on < b.until):
                return True
        return False

    def domestic(self) -> list[str]:
        # CETS224 Art 4(2)(a): the language of the Party in which the provider accepts
        # comparable domestic process; without an explicit list, the first accepted language.
        return self.domestic_languages if self.domestic_languages else self.languages[:1]
