"""The federation protocol, declared: the signed headers every envelope carries, and one model per
message type (MESSAGE_TYPES). Senders build these models; receivers validate every payload into
its model before anything is stored or applied (a payload that does not fit is refused with a
signed error, reason `invalid_payload`). `evidex schema message TYPE` prints each JSON Schema.

Envelopes are secure and authenticated channels between the Parties' nodes (ETS185 Art 25(3);
CETS224 Art 6(4), 7(6), 8(5), 9(4), 10(2)); envelope.py seals and opens them.

Compatibility rules (what a node of another version may rely on):
- Version. The signed headers carry `protocol_version` (PROTOCOL_VERSION). Headers without it
  come from nodes older than this declaration and are version 1: what they send is what version 1
  is. A receiver refuses a higher version than it knows (reason `unsupported_version`); a sender
  raises the version only for a change an older receiver would misread, never to add a field.
- Types are closed: a type not in MESSAGE_TYPES is refused (`unknown_type`). Something new to do
  is a new type, so an older node refuses it instead of half-understanding it.
- Payloads and headers are open: unknown fields are ignored (not refused), so a newer sender may
  add optional fields; the payload is still stored as it came. A field an older receiver must
  not ignore needs a new type or version.
- Closed where a misreading is unsafe: the attachment reference (`evx_attachment`, its cipher
  and key) forbids unknown fields and other values.
- Values are strict: a number is a JSON number, a string a JSON string (no coercion).
- Bytes: the sender signs the RFC 8785 canonical form of the payload (core/canonical.py); the
  receiver hashes and stores the bytes exactly as signed and never re-encodes them, so its
  receipts are over the sender's bytes, whatever canonical form an older sender used.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

PROTOCOL_VERSION = 1
PARTY = r"^[A-Z]{2}$"  # ISO 3166-1 alpha-2
MAX_PACKAGE_FILES = 10_000
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256, lower-case hex")]


class Headers(BaseModel):
    """The signed headers of every envelope (the JWS protected header `evx`)."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")

    protocol_version: int = Field(PROTOCOL_VERSION, ge=1, description="absent: 1 (nodes before it was declared)")
    msg_id: str = Field(min_length=1, max_length=36, description="unique per message; receiving is idempotent on it")
    conversation_id: str = Field(min_length=1, max_length=64, description="one request and every message about it")
    sender: str = Field(pattern=PARTY, description="Party code of the sending node")
    recipient: str = Field(pattern=PARTY, description="Party code of the receiving node")
    type: str = Field(max_length=30, description="one of the message types")
    issued_at: str = Field(description="ISO 8601 time with zone; accepted within a window of the receiver's clock")
    in_reply_to: str | None = None
    issuing_authority: str | None = Field(None, description="the registered authority that issued a request")

    @classmethod
    def new(cls, *, sender: str, recipient: str, type: str, conversation_id: str, now: dt.datetime,
            in_reply_to: str | None = None, issuing_authority: str | None = None) -> Headers:
        return cls(msg_id=str(uuid.uuid4()), conversation_id=conversation_id, sender=sender, recipient=recipient,
                   type=type, issued_at=now.astimezone(dt.UTC).isoformat(), in_reply_to=in_reply_to,
                   issuing_authority=issuing_authority)


class AttachmentReference(BaseModel):
    """A payload over 64 KiB travels beside its envelope, encrypted (AES-256-GCM, the message id as
    additional data); the signed envelope carries only this reference. Closed: a reference this
    node does not fully understand must not be half-read."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    alg: Literal["A256GCM"]
    size: int = Field(ge=0)
    sha256: Sha256
    key: str = Field(description="the AES-256 key, base64url")
    nonce: str = Field(description="the 96-bit nonce, base64url")


class Message(BaseModel):
    """A payload; subclasses name their type (TYPE) and say what it does at the receiving node."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")
    TYPE: ClassVar[str]

    def wire(self) -> dict[str, Any]:
        """The payload as JSON values, ready to be canonicalised and signed."""
        return self.model_dump(mode="json")


class RequestMessage(Message):
    """A request, sent by the requesting Party's node: registered there as received (ETS185 Art 25,
    27, 29-31, 35; CETS224 Art 6-10)."""

    TYPE: ClassVar[str] = "request"
    document: dict[str, Any] = Field(description="the request document (LEGAL.md §2), checked again on arrival")
    request_type: str | None = Field(None, description="informative: the receiver reads the type from the document")


class StepMessage(Message):
    """A step of the lifecycle at the sending node, applied at the receiving node as the `record_*`
    event it names. An event this node does not know is stored and not applied (a newer sender)."""

    event: str = Field(max_length=60, description="the record_* event of the lifecycle it applies here")
    status: str | None = Field(None, description="informative: the state at the sending node")
    reasons: str | None = Field(None, description="reasons, mandatory for a refusal or postponement (ETS185 Art 27(7))")
    grounds: list[str] = Field(default_factory=list, description="grounds from the catalogue (ETS185 Art 25(4), 27(4), 29(5))")
    conditions: list[dict[str, Any]] = Field(default_factory=list,
                                             description="conditions proposed (ETS185 Art 27(6), 28(2); CETS224 Art 8(8), 9(6))")
    preserved_on: dt.date | None = Field(None, description="the day the data was preserved (ETS185 Art 29(7))")


class AcknowledgementMessage(StepMessage):
    """The requested Party's node acknowledges a request (event record_acknowledgement)."""

    TYPE: ClassVar[str] = "acknowledgement"


class DecisionMessage(StepMessage):
    """The requested Party's decision or progress: in execution, executed (partly), refused with
    reasons (ETS185 Art 27(7)), postponed (Art 27(5)), data preserved (Art 29(7)), data transmitted."""

    TYPE: ClassVar[str] = "decision"


class ConditionsMessage(StepMessage):
    """Conditions proposed by the requested Party (ETS185 Art 27(6), 28(2); CETS224 Art 8(8), 9(6))."""

    TYPE: ClassVar[str] = "conditions"


class ConditionsAnswerMessage(StepMessage):
    """The requesting Party accepts (then bound by them, ETS185 Art 28(3)) or declines the conditions."""

    TYPE: ClassVar[str] = "conditions_answer"


class ReceiptMessage(Message):
    """A signed retrieval receipt: the requested Party's node opened the request (non-repudiation).
    Delivery receipts are the signed answer to a POST, not messages."""

    TYPE: ClassVar[str] = "receipt"
    kind: Literal["retrieval"] = "retrieval"
    token: str = Field(description="JWS (Ed25519) by the sending node over the receipt's claims")


class ErrorMessage(Message):
    """Reserved: a refusal sent as a message. Today refusals are the signed answer to a POST; a
    message of this type is stored and not applied."""

    TYPE: ClassVar[str] = "error"
    error: str | None = None
    detail: str | None = None
    msg_id: str | None = None


class DataTransmittedMessage(Message):
    """Reserved for data sent inside the channel; today data travels as evidence packages and a
    message of this type is stored and not applied (any fields)."""

    TYPE: ClassVar[str] = "data_transmitted"


class ManifestRequest(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")
    conversation_id: str
    requesting_party: str = Field(pattern=PARTY)
    requested_party: str = Field(pattern=PARTY)
    request_type: str


class ManifestProducer(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")
    party: str = Field(pattern=PARTY)
    node_key: str = Field(description="key id (RFC 7638 thumbprint) of the producing node's signing key")
    user: str
    role: str


class ManifestFile(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")
    position: int = Field(ge=0, description="0, 1, 2 … in order")
    name: str
    media_type: str | None = None
    size: int = Field(ge=0, description="bytes")
    sha256: Sha256
    source_evidence_id: str = Field(description="the file's id at the producing node")
    custody_head: str | None = Field(None, description="hash of the file's last custody event at the producing node")


class Manifest(BaseModel):
    """What an evidence package holds, signed by the producing node (JWS over its RFC 8785 bytes)."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")
    version: int = Field(1, ge=1)
    package_id: uuid.UUID
    request: ManifestRequest
    producer: ManifestProducer
    created_at: AwareDatetime
    conditions: list[str] = Field(default_factory=list,
                                  description="conditions binding the data (ETS185 Art 28(2)-(3); CETS224 Art 8(9)(b), 9(7))")
    chunk_size: int = Field(gt=0)
    files: list[ManifestFile] = Field(min_length=1, max_length=MAX_PACKAGE_FILES)


class EvidenceManifestMessage(Message):
    """An evidence package announced by the producing node: its signed manifest and the key that
    seals its chunks (erased from both nodes' stores once the package settles)."""

    TYPE: ClassVar[str] = "evidence_manifest"
    manifest: Manifest = Field(description="a copy of the manifest; what counts is the one the signature carries")
    signature: str = Field(description="compact JWS (Ed25519) by the producing node over the manifest's RFC 8785 bytes")
    transfer_key: str = Field(description="AES-256 key of the package's chunks, base64")


class EvidenceReceiptMessage(Message):
    """The receiving node's signed verdict on a package: every file verified against the manifest,
    or the mismatches."""

    TYPE: ClassVar[str] = "evidence_receipt"
    token: str = Field(description="JWS (Ed25519) by the receiving node over the package receipt's claims")


EvidenceMessage = EvidenceManifestMessage | EvidenceReceiptMessage  # what evidence.packages handles


class FileVerified(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")
    position: int = Field(ge=0)
    sha256: Sha256 | None = Field(None, description="as computed here; none if the file could not be read whole")
    size: int = Field(description="bytes as received; -1 if the file could not be read whole")
    verified: bool


class PackageReceiptClaims(BaseModel):
    """What the receiving node signs about a package (the token of an evidence_receipt message)."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")
    receipt: Literal["package"] = "package"
    package_id: uuid.UUID
    manifest_sha256: Sha256 = Field(description="SHA-256 of the manifest's bytes as the producing node signed them")
    conversation_id: str
    positive: bool = Field(description="every file matches the signed manifest")
    files: list[FileVerified] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)
    by: str = Field(pattern=PARTY)
    at: AwareDatetime


class FileProgress(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")
    position: int = Field(ge=0)
    chunks_received: int = Field(ge=0)


class PackageProgress(BaseModel):
    """The receiving node's answer to GET /federation/v1/packages/{id}: the chunks it holds (the
    producing node resumes from there)."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")
    package_id: uuid.UUID
    status: str
    files: list[FileProgress]


MESSAGE_TYPES: dict[str, type[Message]] = {m.TYPE: m for m in (
    RequestMessage, AcknowledgementMessage, DecisionMessage, ConditionsMessage, ConditionsAnswerMessage,
    ReceiptMessage, ErrorMessage, DataTransmittedMessage, EvidenceManifestMessage, EvidenceReceiptMessage)}


class InvalidMessage(ValueError):
    """A payload that does not fit its type's model; the message names the fields."""


def read(type: str, body: bytes | bytearray | str) -> Message:
    """The payload (its JSON bytes, as signed) validated into its type's model."""
    model = MESSAGE_TYPES.get(type)
    if model is None:
        raise InvalidMessage(f"unknown message type {type!r}")
    try:
        return model.model_validate_json(body, strict=True)
    except ValidationError as e:
        raise InvalidMessage(f"not a valid {type} message: {describe(e)}") from e


def describe(e: ValidationError, limit: int = 3) -> str:
    """A validation error in one line, naming fields by dotted path; never echoes the input."""
    parts = [f"{'.'.join(str(p) for p in err['loc']) or 'payload'}: {err['msg']}" for err in e.errors()[:limit]]
    more = e.error_count() - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def json_schema(type: str) -> dict[str, Any]:
    """The JSON Schema of a message type's payload, with its version and type named."""
    model = MESSAGE_TYPES[type]
    schema = model.model_json_schema()
    schema["$id"] = f"urn:evidex:federation:v{PROTOCOL_VERSION}:message:{type}"
    schema["title"] = f"evidex federation message {type!r} (protocol version {PROTOCOL_VERSION})"
    return schema
