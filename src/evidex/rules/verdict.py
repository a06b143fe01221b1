"""The verdict of the rules engine. Built without re-validation (the engine is the only
producer); the JSON Schema comes from the same models."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class Finding(_Out):
    code: str
    article: str = Field(description="Canonical reference, e.g. 'CETS224 Art 7(3)(d)'")
    element: str | None = None
    message: str


class Endpoint(_Out):
    party: str
    authority: str = Field(description="Role: central_authority, contact_24_7, art8_receiving, addressee, ...")
    name: str | None = None
    contact: dict[str, str | None] | None = None


class CopyOut(_Out):
    from_: Endpoint = Field(alias="from")
    to: Endpoint
    article: str


class NotificationOut(_Out):
    to: Endpoint
    article: str
    message: str


class Route(_Out):
    from_: Endpoint = Field(alias="from")
    to: Endpoint
    channel: str
    article: str
    copies: list[CopyOut] = []
    notifications: list[NotificationOut] = []


class Deadline(_Out):
    name: str
    days: int | None
    due: dt.date | None = Field(description="Null when the starting event is not in the document")
    article: str


class Obligation(_Out):
    article: str
    message: str
    by: Literal["requesting", "requested", "addressee", "notified_authority"]


class Alternative(_Out):
    request_type: str
    article: str
    message: str


class Verdict(_Out):
    model_config = ConfigDict(populate_by_name=True, title="evidex verdict")
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
    alternatives: list[Alternative] = []

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)
