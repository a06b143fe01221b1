"""The verdict of the rules engine.

Plain slotted dataclasses: the engine is their only producer, so they are built without
re-validation (cheap: the bench holds the engine to 3x the cost of parsing). The parts are
frozen, so the engine shares the ones that come straight from the rule data between verdicts. Pydantic reads the
same classes for the JSON Schema and the JSON form, so the two cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    article: Annotated[str, Field(description="Canonical reference, e.g. 'CETS224 Art 7(3)(d)'")]
    element: str | None
    message: str


@dataclass(frozen=True, slots=True)
class Endpoint:
    party: str
    authority: Annotated[str, Field(description="central_authority, contact_24_7, art8_receiving, addressee, ...")]
    name: str | None = None
    contact: dict[str, str | None] | None = None


@dataclass(frozen=True, slots=True)
class CopyOut:
    from_: Annotated[Endpoint, Field(alias="from")]
    to: Endpoint
    article: str


@dataclass(frozen=True, slots=True)
class NotificationOut:
    to: Endpoint
    article: str
    message: str
    message_key: Annotated[str | None, Field(description=(
        "The key of `message` among the rule data's texts, translated in every language evidex speaks "
        "(declaration.<reference>.route_message)"))] = None


@dataclass(frozen=True, slots=True)
class Route:
    from_: Annotated[Endpoint, Field(alias="from")]
    to: Endpoint
    channel: str
    article: str
    copies: list[CopyOut] = field(default_factory=list)
    notifications: list[NotificationOut] = field(default_factory=list)
    outside_evidex: Annotated[list[str], Field(description=(
        "The means by which the request may travel when evidex does not carry it (the requested Party has no "
        "evidex node the sending node trusts): post, email, fax, network_24_7, interpol, diplomatic"))] = field(
        default_factory=list)
    # What `channel` says, for saying it in another language: the rule data's texts of the channel (and of
    # the urgent means), or of the route an MLA treaty sets.
    channel_index: Annotated[int | None, Field(description=(
        "The chosen channel's position among the request type's channels in the rule data (its words: "
        "text type.<type>.channel.<index>); null for the route an MLA treaty sets"))] = None
    urgent_means: Annotated[bool, Field(description=(
        "The channel adds the type's urgent means, as `channel` says (text type.<type>.urgent_means)"))] = False
    mla_treaty: Annotated[bool, Field(description=(
        "The route a mutual assistance treaty in force between the Parties sets instead of the type's channels "
        "(ETS185 Art 27(1); text type.<type>.mla_treaty.channel, naming {requesting} and {requested})"))] = False


@dataclass(frozen=True, slots=True)
class Deadline:
    name: str
    days: int | None
    due: Annotated[dt.date | None, Field(description="Null when the starting event is not in the document")]
    article: str


@dataclass(frozen=True, slots=True)
class Obligation:
    article: str
    message: str
    by: Literal["requesting", "requested", "addressee", "notified_authority"]


@dataclass(frozen=True, slots=True)
class Alternative:
    request_type: str
    article: str
    message: str


@dataclass(slots=True)
class Verdict:
    admissible: bool
    request_type: str
    requesting_party: str
    requested_party: str
    as_of: dt.date
    problems: list[Finding]
    warnings: list[Finding]
    route: Route | None
    deadlines: list[Deadline]
    obligations: list[Obligation]
    alternatives: list[Alternative] = field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = VERDICT_ADAPTER.dump_python(self, mode="json", by_alias=True)
        return out


VERDICT_ADAPTER: TypeAdapter[Verdict] = TypeAdapter(Verdict)


def verdict_json_schema() -> dict[str, Any]:
    schema = VERDICT_ADAPTER.json_schema(by_alias=True, mode="serialization")
    schema["title"] = "evidex verdict"
    return schema
