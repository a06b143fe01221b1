"""The request document (LEGAL.md §2): the input of `evidex check`.

Reading is strict only where LEGAL.md says a document cannot be read as a request (not an
object, unknown type or Party, the same Party twice, a date that is not a date); any other
malformed field becomes a problem in the verdict, never an exception.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from evidex.core.errors import InvalidInput
from evidex.rules.schema import AddresseeKind, AuthorityKind, DataCategory, SentBy

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date(v: Any) -> Any:
    if v is None or (isinstance(v, dt.date) and not isinstance(v, dt.datetime)):
        return v
    if isinstance(v, str) and _DATE_RE.match(v.strip()):
        try:
            return dt.date.fromisoformat(v.strip())
        except ValueError:
            pass
    raise ValueError(f"{v!r} is not a date (YYYY-MM-DD)")


def _party(v: Any) -> Any:
    if isinstance(v, str) and re.fullmatch(r"[A-Za-z]{2}", v.strip()):
        return v.strip().upper()
    raise ValueError(f"{v!r} is not a Party code (ISO 3166-1 alpha-2, e.g. RS)")


DocDate = Annotated[dt.date | None, BeforeValidator(_date)]
PartyCodeField = Annotated[str, BeforeValidator(_party)]


class Contact(BaseModel):
    model_config = ConfigDict(extra="ignore")
    address: str | None = None
    email: str | None = None
    phone: str | None = None


class IssuingAuthority(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = None
    kind: AuthorityKind | None = None
    independent_supervision: bool | None = None
    contact: Contact | None = None


class Addressee(BaseModel):
    model_config = ConfigDict(extra="ignore")
    kind: AddresseeKind | None = None
    name: str | None = None
    address: str | None = None
    accepted_languages: list[str] = []


class RequestDocument(BaseModel):
    """A request, order or communication between Parties, as LEGAL.md §2 describes it."""

    model_config = ConfigDict(extra="allow", title="evidex request document")

    type: str = Field(description="Request type, e.g. preservation, subscriber_order")
    requesting_party: PartyCodeField = Field(description="ISO 3166-1 alpha-2 code of the requesting Party")
    requested_party: PartyCodeField = Field(description="ISO 3166-1 alpha-2 code of the requested Party")
    case_reference: str | None = Field(
        default=None, description="The specific investigation or proceeding (ETS185 Art 25(1); CETS224 Art 2(1)(a))"
    )
    issued_on: DocDate = Field(default=None, description="Date the request or order was issued")
    received_on: DocDate = Field(
        default=None, description="Date the addressee received it; deadlines start here, else at issued_on"
    )
    language: str | None = Field(default=None, description="Language of the document (CETS224 Art 4)")
    translation_language: str | None = Field(default=None, description="Language of an attached translation")
    urgent: bool = False
    sent_by: SentBy | None = None
    issuing_authority: IssuingAuthority | None = None
    addressee: Addressee | None = Field(
        default=None, description="The service provider or registrar concerned (CETS224 Art 6-9)"
    )
    data_category: DataCategory | None = None
    elements: dict[str, Any] = Field(
        default_factory=dict,
        description="Mandatory and optional elements by name; empty, blank or false counts as missing",
    )


FATAL_FIELDS = frozenset({"type", "requesting_party", "requested_party", "issued_on", "received_on"})
KNOWN_FIELDS = frozenset(RequestDocument.model_fields)


def parse_document(data: Any) -> tuple[RequestDocument, Sequence[tuple[str, str]]]:
    """Read a request document. Returns the document and the fields that had to be dropped
    because they were malformed (field, message). Raises InvalidInput for what cannot be read."""
    if isinstance(data, RequestDocument):
        return data, ()
    if not isinstance(data, dict):
        raise InvalidInput(f"a request document must be an object (mapping), not {type(data).__name__}")
    try:
        return RequestDocument.model_validate(data), ()
    except ValidationError as e:
        errors = e.errors()
    dropped: list[tuple[str, str]] = []
    for err in errors:
        field = str(err["loc"][0]) if err["loc"] else ""
        if not field or field in FATAL_FIELDS:
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "missing":
                raise InvalidInput(f"'{field}' is missing: a request document needs type, requesting_party and requested_party")
            raise InvalidInput(f"{field}: {msg}")
        if field not in {f for f, _ in dropped}:
            dropped.append((field, err["msg"].removeprefix("Value error, ")))
    cleaned = {k: v for k, v in data.items() if k not in {f for f, _ in dropped}}
    try:
        return RequestDocument.model_validate(cleaned), dropped
    except ValidationError as e:  # pragma: no cover - every remaining field is optional
        raise InvalidInput(str(e.errors()[0]["msg"])) from e
