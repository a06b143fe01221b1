"""Request and response bodies of the API (Pydantic v2)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from evidex.parties.roles import Role

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the field within the body (query.x, path.x outside it)")
    message: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document (application/problem+json)."""
    type: str = Field(description="urn:evidex:problem:<code>")
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError] | None = None
    allowed: list[str] | None = None
    problems: list[dict[str, Any]] | None = None


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=1024)
    totp_code: str | None = Field(default=None, pattern=r"^\d{6}$")


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024, description="At least 12 characters; not the username")


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    username: str
    display_name: str
    party: str
    role: Role
    provider: str | None
    is_system: bool
    is_active: bool
    locked_until: dt.datetime | None = Field(default=None, description="Locked after repeated failed sign-ins "
                                                                       "until then (an administrator may unlock)")
    deactivated_at: dt.datetime | None = None
    second_factor_enrolment_due: bool = Field(default=False, description="The second factor was reset: the user "
                                                                         "enrols a new one before signing in")


class UserAdminIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=500,
                               description="Why (recorded in the audit log); required to deactivate a user and to "
                                           "reset a second factor")


class SecondFactorEnrolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=1024)


class SecondFactorEnrolled(BaseModel):
    totp_uri: str = Field(description="Shown once: enrol it in an authenticator app, then sign in with its code")


class TokenOut(BaseModel):
    token: str
    expires_at: dt.datetime
    user: UserRead


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=3, max_length=80, pattern=r"^[a-zA-Z0-9._@-]+$")
    display_name: str = Field(min_length=1, max_length=200)
    role: Role
    password: str | None = Field(default=None, min_length=12, max_length=1024)
    provider: str | None = Field(default=None, max_length=200)
    is_system: bool = False
    totp_code: str | None = Field(default=None, pattern=r"^\d{6}$",
                                  description="Your current second-factor code: needed for an administrator system "
                                              "user, whose first token acts as an administrator")


SECRET_NOTE = "Shown once, in the first answer"


class UserCreated(BaseModel):
    user: UserRead
    totp_uri: str | None = Field(default=None, description="Shown once: enrol it in an authenticator app")
    api_token: str | None = Field(default=None, description="Shown once, for systems")
    secret_note: str | None = Field(default=None, description="On an idempotent replay: the secrets were shown once "
                                                              "and are not stored, so they are absent here")


class ApiTokenRead(BaseModel):
    id: uuid.UUID
    name: str
    username: str
    scope: Literal["read", "write"]
    created_at: dt.datetime
    created_by: str | None
    expires_at: dt.datetime
    last_used_at: dt.datetime | None = Field(description="Updated at most once a minute")
    revoked_at: dt.datetime | None


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=120)
    scope: Literal["read", "write"] = "write"
    expires_days: int | None = Field(default=None, ge=1, le=366, description="Default EVIDEX_API_TOKEN_DAYS (90)")
    user_id: uuid.UUID | None = Field(default=None, description="An administrator: a system user of its Party "
                                                                "(default: yourself)")
    totp_code: str | None = Field(default=None, pattern=r"^\d{6}$",
                                  description="Your current second-factor code: needed for a token acting as an "
                                              "administrator")


class TokenCreated(BaseModel):
    token: ApiTokenRead
    api_token: str | None = Field(description="The secret, shown once")
    secret_note: str | None = None


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: str = Field(min_length=1, max_length=120)
    title: str = Field(min_length=1, max_length=300)


class CaseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    party: str
    reference: str
    title: str
    created_at: dt.datetime


class CaseListItem(CaseRead):
    request_count: int
    next_due_on: dt.date | None = Field(description="The earliest open deadline of the case's requests")


class RequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: uuid.UUID
    direction: Literal["outgoing", "incoming"] = "outgoing"
    document: dict[str, Any] = Field(description="The request document (see `evidex schema request`)")


class DocumentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: dict[str, Any]


class RequestSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    case_id: uuid.UUID
    direction: str
    request_type: str
    requesting_party: str
    requested_party: str
    status: str
    urgent: bool
    admissible: bool | None
    conversation_id: str | None = Field(default=None, description="Shared with the other Party's node")
    preserved_until: dt.date | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class RequestListItem(RequestSummary):
    """A row of a desk's list: what it needs without opening the request."""

    case_reference: str
    next_due_on: dt.date | None = Field(description="The earliest open deadline of the request")
    next_due_name: str | None = Field(description="Its name, e.g. preservation_minimum")


class RequestRead(RequestSummary):
    document: dict[str, Any]
    verdict: dict[str, Any] | None = Field(description=(
        "The rules engine's verdict of the last check, as POST /requests/{id}/check answers it (Verdict); one "
        "stored before a field was added to the verdict lacks that field (e.g. route.channel_index)"))
    checked_at: dt.datetime | None
    allowed_events: list[str] = []


class ConditionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["confidentiality", "use_limitation", "other"]
    text: str = Field(min_length=1, max_length=4000)
    article: str | None = Field(default=None, max_length=40)


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event: str = Field(min_length=1, max_length=40, pattern=r"^[a-z_]+$")
    reasons: str | None = Field(default=None, max_length=20000)
    grounds: list[str] = Field(default=[], max_length=20)
    conditions: list[ConditionIn] = Field(default=[], max_length=50)
    preserved_on: dt.date | None = None
    expected_version: int | None = Field(default=None, ge=1)
    means: str | None = Field(default=None, max_length=40, pattern=r"^[a-z][a-z0-9_]*$", description=(
        "send_outside only (the requested Party has no evidex node this node trusts, so evidex does not deliver "
        "the request): the means by which you send the official document yourself, one of those the route "
        "allows (the verdict's route.outside_evidex, e.g. post, email, fax, network_24_7, interpol, diplomatic)"),
        examples=["post"])
    dispatch_reference: str | None = Field(default=None, max_length=200, description=(
        "send_outside only, optional: the dispatch's own reference (registered-mail number, fax number, "
        "Interpol message reference)"), examples=["RR123456789RS"])


class ReviewIn(BaseModel):
    """A second person's review of an emergency sent alone (lifecycle four_eyes_waiver)."""

    model_config = ConfigDict(extra="forbid")
    reasons: str | None = Field(default=None, max_length=20000)


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    seq: int
    event: str
    from_status: str | None
    to_status: str
    actor: str
    actor_role: str
    at: dt.datetime
    reasons: str | None
    data: dict[str, Any]


class LetterRead(BaseModel):
    """A letter of the lifecycle the request's history gives (the requested Party's answer to the
    requesting Party): GET .../letters/{event_id}.pdf renders it."""

    model_config = ConfigDict(from_attributes=True)
    event_id: int = Field(description="The event's number in the request's history (EventRead.seq)")
    event: str
    kind: str = Field(description="acknowledgement, refusal, postponement, conditions, preservation, renewal "
                                  "(lifecycle.yaml letters)")
    at: dt.datetime
    title: str = Field(description="The letter's title, in the language asked")
    cites: list[str] = Field(description="The articles the letter cites")


class DecisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    kind: str
    grounds: list[str]
    reasons: str | None
    at: dt.datetime


class ConditionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    kind: str
    text: str
    article: str | None
    status: str
    binding: bool
    proposed_at: dt.datetime
    answered_at: dt.datetime | None


class DeadlineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    request_id: uuid.UUID
    name: str
    article: str
    days: int | None
    due_on: dt.date | None
    remind_on: dt.date | None
    status: str
    reminded_at: dt.datetime | None
    overdue_at: dt.datetime | None


class AuthorityRead(BaseModel):
    role: str
    name: str
    contact: dict[str, str | None] | None


class PartyRead(BaseModel):
    code: str
    name: str
    source: str
    instruments: list[str]
    languages: list[str]
    timezone: str
    authorities: list[AuthorityRead]
    declarations: dict[str, Any]
    reservations: dict[str, Any]


class Health(BaseModel):
    status: Literal["ok"]
    party: str
    schema_revision: str


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    request_id: uuid.UUID
    kind: str
    article: str | None
    message: str
    created_at: dt.datetime
    read_at: dt.datetime | None


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    seq: int = Field(description="Position in the node's hash chain")
    at: dt.datetime
    actor: str = Field(description="Username (anonymous: a failed sign-in; system: the node; cli: the command line)")
    party: str
    action: str
    object_type: str
    object_id: str | None
    personal_data: bool = Field(description="The entry records a read or change of personal data (CETS224 Art 14(8))")
    details: dict[str, Any]
    hash: str


class NotificationsMarkRead(BaseModel):
    model_config = ConfigDict(extra="forbid")
    before: AwareDatetime | None = Field(default=None, description="Mark those created up to this time (default: "
                                                                   "now)")
    ids: list[uuid.UUID] | None = Field(default=None, max_length=200,
                                        description="Only these (ids not visible to you are left alone)")


class NotificationsMarked(BaseModel):
    marked: int = Field(description="How many were unread and are now read")


class ReceiptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    msg_id: str
    kind: str
    issuer: str
    positive: bool
    token: str | None = Field(description="The signed receipt (JWS); null for a negative receipt")
    at: dt.datetime


class EvidenceStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=300)
    media_type: str = Field(default="application/octet-stream", max_length=120)
    size: int = Field(ge=0, le=1 << 40)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="SHA-256 the uploader declares")


class EvidenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    request_id: uuid.UUID
    name: str
    media_type: str
    status: str
    declared_size: int
    declared_sha256: str
    sha256: str | None
    chunk_size: int
    chunks_received: int
    bytes_received: int
    created_at: dt.datetime
    sealed_at: dt.datetime | None
    retain_until: dt.datetime | None = Field(default=None, description="End of the retention period (CETS224 "
                                                                       "Art 14(5)); disposed of after it")
    package_id: uuid.UUID | None = None
    conditions: list[str] = Field(default=[], description="Binding conditions of use, shown with every access")


class CustodyEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    seq: int
    event: str
    actor: str
    party: str
    at: dt.datetime
    hash_before: str | None
    hash_after: str | None
    details: dict[str, Any]
    hash: str


class Custody(BaseModel):
    intact: bool
    problems: list[str]
    events: list[CustodyEventRead]


class TimelineEvent(CustodyEventRead):
    evidence_id: uuid.UUID
    file_name: str


class RequestCustody(BaseModel):
    intact: bool = Field(description="Every file's chain links, hashes and signatures check out")
    problems: list[str]
    events: list[TimelineEvent] = Field(description="All custody events of the request's files, in time order")


class DisposeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


class PackageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    evidence_ids: list[uuid.UUID] = Field(min_length=1, max_length=10_000, description="Sealed files of the request")


class PackageFileRead(BaseModel):
    position: int
    name: str
    media_type: str | None = None
    size: int
    sha256: str
    evidence_id: str | None = Field(description="This node's file (the source, or the file received)")
    status: str | None
    chunks_received: int | None = None


class PackageRead(BaseModel):
    id: uuid.UUID
    direction: Literal["outgoing", "incoming"]
    peer: str
    request_id: uuid.UUID
    status: str = Field(description="outgoing: sending → sent → received | mismatch; incoming: receiving → "
                                    "received | mismatch")
    manifest_sha256: str
    signature: str = Field(description="JWS (Ed25519) of the manifest by the producing node")
    conditions: list[str]
    problems: list[str]
    files: list[PackageFileRead]
    receipts: list[dict[str, Any]]
    last_error: str | None
    created_at: dt.datetime
    settled_at: dt.datetime | None


class OnwardAuthorisationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recipient: str = Field(min_length=2, max_length=120, description="Third State or international organisation")
    purpose: str = Field(min_length=1, max_length=2000)
    reference: str = Field(min_length=1, max_length=300, description="The transferring Party's authorisation")


class OnwardAuthorisationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    request_id: uuid.UUID
    granted_by: str
    recipient: str
    purpose: str
    reference: str
    recorded_by: str
    recorded_at: dt.datetime


class OnwardTransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recipient: str = Field(min_length=2, max_length=120)
    purpose: str = Field(min_length=1, max_length=2000)


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    retain_until: dt.datetime
    reason: str = Field(min_length=1, max_length=2000)


class DifferenceRead(BaseModel):
    """One thing in an official document that differs from what its node sealed."""
    kind: Literal["signature", "request", "request_field", "page_count", "page_added", "page_missing",
                  "line_changed", "line_added", "line_removed", "appearance", "document"]
    message: str = Field(description="What differs, in English")
    page: int | None = Field(default=None, description="The page (from 1)")
    field: str | None = Field(default=None, description="The request's field or element the difference is in, "
                                                        "e.g. case_reference, elements.offence")
    label: str | None = Field(default=None, description="That element's label as the document prints it")
    signed: str | None = Field(default=None, description="The line or value as signed")
    found: str | None = Field(default=None, description="The line or value the document shows or carries now")
    parts: list[str] = Field(default=[], description="appearance: what draws the page and differs "
                                                     "(content, fonts, images, resources, annotations, geometry)")


class VerificationRead(BaseModel):
    """The answer about an official document: `valid` (sealed by a trusted node, nothing changed),
    `altered` (what differs is listed), `unknown_signer` (sealed with a key this node does not trust;
    party and authority are what the seal claims) or `not_sealed`."""
    status: Literal["valid", "altered", "unknown_signer", "not_sealed"]
    detail: str = Field(description="Why, in one English sentence")
    party: str | None = Field(default=None, description="The Party whose node sealed the document")
    authority: str | None = Field(default=None, description="The issuing authority the seal names")
    signed_at: dt.datetime | None = None
    kid: str | None = Field(default=None, description="The signing key (RFC 7638 thumbprint)")
    lang: str | None = Field(default=None, description="The document's language")
    translation_lang: str | None = Field(default=None, description="The language of its translation, if bilingual")
    request_type: str | None = None
    reference: str | None = Field(default=None, description="The request's case reference")
    request_id: str | None = Field(default=None, description="The issuing node's id of the request")
    differences: list[DifferenceRead] = []
    more_differences: int = Field(default=0, description="Differences beyond those listed")
    kind: Literal["request", "letter"] = Field(default="request", description=(
        "What the document is: a request, or a letter of its lifecycle (the requested Party's answer), whose "
        "own content is embedded as letter.json"))
    letter: str | None = Field(default=None, description="A letter's kind: acknowledgement, refusal, postponement, "
                                                         "conditions, preservation, renewal")
