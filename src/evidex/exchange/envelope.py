"""The envelope between nodes: signed (JWS, alg Ed25519, RFC 9864) then encrypted for the
recipient (JWE, ECDH-ES+A256KW with A256GCM), with joserfc.

A receiver rejects — with a typed error, never a crash — a bad signature, an unknown, expired or
revoked key, a wrong recipient, a replayed message id, a time outside the allowed window and an
unknown message type (ETS185 Art 25(3); CETS224 Art 6(4), 7(6), 8(5), 9(4), 10(2): secure and
authenticated transmission).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import json
import os
import re
from collections.abc import Callable
from typing import Any, Protocol

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jwe, jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from joserfc.registry import HeaderParameter
from pydantic import ValidationError

from evidex.core.canonical import canonical_json
from evidex.core.errors import EvidexError
from evidex.exchange.keys import NodeIdentity
from evidex.exchange.protocol import MESSAGE_TYPES, PROTOCOL_VERSION, AttachmentReference, Headers, describe

SIGNATURE_ALG = "Ed25519"  # RFC 9864 fully-specified; joserfc warns on the polymorphic EdDSA
KEY_WRAP_ALG, CONTENT_ALG = "ECDH-ES+A256KW", "A256GCM"
DEFAULT_WINDOW = dt.timedelta(minutes=10)
MAX_ENVELOPE_BYTES = 64 * 1024 * 1024
_PARTY = re.compile(r"^[A-Z]{2}$")


def _is_object(v: Any) -> None:
    if not isinstance(v, dict):
        raise ValueError("must be an object")


def _is_party(v: Any) -> None:
    if not isinstance(v, str) or not _PARTY.match(v):
        raise ValueError("must be a Party code")


# Our own header parameters, declared so the JOSE libraries check them instead of refusing them.
JWS_REGISTRY = jws.JWSRegistry(
    header_registry={"evx": HeaderParameter("evidex message headers", _is_object, required=True)},
    algorithms=[SIGNATURE_ALG])
JWE_REGISTRY = jwe.JWERegistry(
    header_registry={"evx_from": HeaderParameter("sending Party", _is_party, required=True),
                     "evx_to": HeaderParameter("receiving Party", _is_party, required=True)},
    algorithms=[KEY_WRAP_ALG, CONTENT_ALG])
# joserfc's default size limits (a 512-byte JWS header, 64 KiB of ciphertext) are far below an
# evidex message (headers naming an authority, documents, 1 MiB payloads): set ours explicitly.
JWS_REGISTRY.max_header_length = 16 * 1024
JWS_REGISTRY.max_payload_length = MAX_ENVELOPE_BYTES
JWE_REGISTRY.max_protected_header_length = 4 * 1024
JWE_REGISTRY.max_ciphertext_length = MAX_ENVELOPE_BYTES


class EnvelopeRejected(EvidexError):
    """A message that must not be accepted; `reason` is a stable code for the signed error reply."""

    reason = "rejected"

    def __init__(self, message: str, msg_id: str | None = None, *, authenticated: bool = False) -> None:
        super().__init__(message)
        self.msg_id = msg_id
        # True once the envelope decrypted and its signature verified with a peer's key: a real peer,
        # answered with a signed error. False (the default): junk anyone could send, counted, unsigned.
        self.authenticated = authenticated


class Undecryptable(EnvelopeRejected):
    reason = "undecryptable"  # tampered ciphertext, or not encrypted for this node's key


class BadSignature(EnvelopeRejected):
    reason = "bad_signature"


class UnknownKey(EnvelopeRejected):
    reason = "unknown_key"


class ExpiredKey(EnvelopeRejected):
    reason = "expired_key"


class RevokedKey(EnvelopeRejected):
    reason = "revoked_key"


class WrongRecipient(EnvelopeRejected):
    reason = "wrong_recipient"


class Replay(EnvelopeRejected):
    reason = "replay"


class OutsideWindow(EnvelopeRejected):
    reason = "outside_window"


class UnknownType(EnvelopeRejected):
    reason = "unknown_type"


class Malformed(EnvelopeRejected):
    reason = "malformed"


class UnsupportedVersion(EnvelopeRejected):
    reason = "unsupported_version"  # a protocol version newer than this node knows


class InvalidPayload(EnvelopeRejected):
    reason = "invalid_payload"  # the payload does not fit its message type's model (protocol.py)


class Trust(Protocol):
    """The trust list: which public keys speak for which Party, and when."""

    def signing_key(self, party: str, kid: str, at: dt.datetime) -> OKPKey: ...


@functools.lru_cache(maxsize=64)
def _public_key(jwk_json: bytes) -> OKPKey:
    """A peer's public key, imported once (every message to it is sealed with it)."""
    return OKPKey.import_key(json.loads(jwk_json))


def seal(*, payload: dict[str, Any] | None = None, headers: Headers, sender: NodeIdentity,
         recipient_encryption_jwk: dict[str, Any], body: bytes | None = None) -> str:
    """Sign, then encrypt for the recipient. Returns a compact JWE (5 dot-separated parts). The
    payload is given as a dict or already as its JSON bytes (`body`)."""
    protected = {"alg": SIGNATURE_ALG, "kid": sender.signing_jwk["kid"], "typ": "evidex+jws", "evx": headers.model_dump()}
    if body is None:
        body = canonical_json(payload)
    signed = jws.serialize_compact(protected, body, sender.signing_okp(), registry=JWS_REGISTRY)
    recipient_key = _public_key(canonical_json({k: v for k, v in recipient_encryption_jwk.items() if k != "d"}))
    outer = {"alg": KEY_WRAP_ALG, "enc": CONTENT_ALG, "kid": recipient_encryption_jwk.get("kid"),
             "cty": "evidex+jws", "evx_from": headers.sender, "evx_to": headers.recipient}
    return jwe.encrypt_compact(outer, signed.encode("ascii"), recipient_key, registry=JWE_REGISTRY)


# Large payloads travel beside the envelope, as AS4 carries payloads beside its SOAP envelope: the
# signed (and encrypted) envelope holds their SHA-256 and the key that encrypts them (AES-256-GCM,
# the message id as additional data); the bytes themselves are not base64-encoded twice over.
ATTACH_OVER = 64 * 1024
ATTACHMENT = "evx_attachment"


def seal_parts(*, payload: dict[str, Any] | None = None, headers: Headers, sender: NodeIdentity,
               recipient_encryption_jwk: dict[str, Any], payload_sha256: str | None = None,
               body: bytes | None = None) -> tuple[str, bytes | None]:
    """An envelope, and for a payload over ATTACH_OVER bytes its encrypted attachment. The payload
    is given as a dict or as its canonical bytes (`body`, with `payload_sha256` if known)."""
    if body is None:
        if payload is None:
            raise TypeError("a payload or its canonical bytes")
        body = canonical_json(payload)
    if len(body) <= ATTACH_OVER:
        return seal(body=body, headers=headers, sender=sender,
                    recipient_encryption_jwk=recipient_encryption_jwk), None
    key, nonce = AESGCM.generate_key(bit_length=256), os.urandom(12)
    attachment = AESGCM(key).encrypt(nonce, body, headers.msg_id.encode("utf-8"))
    reference = {ATTACHMENT: AttachmentReference(
        alg="A256GCM", size=len(body), sha256=payload_sha256 or hashlib.sha256(body).hexdigest(),
        key=base64.urlsafe_b64encode(key).decode(), nonce=base64.urlsafe_b64encode(nonce).decode()).model_dump()}
    return seal(payload=reference, headers=headers, sender=sender,
                recipient_encryption_jwk=recipient_encryption_jwk), attachment


def parse_json(body: bytes | str) -> Any:
    """Exactly what json.loads returns, faster for large payloads: msgspec decodes the same JSON to the
    same values (integers of any size included) or refuses it; what it refuses and Python's json
    accepts (NaN, lone surrogates, numbers out of float range, UTF-16) goes to json.loads, which also
    raises the error (ValueError) for what is not JSON at all."""
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return json.loads(body)


def _resolve_attachment(headers: Headers, payload: dict[str, Any], attachment: bytes | memoryview | None,
                        digests: dict[str, str] | None, bodies: dict[str, bytes] | None) -> dict[str, Any]:
    ref = payload.get(ATTACHMENT) if len(payload) == 1 else None
    if ref is None:
        if attachment is not None:
            raise Malformed("an attachment came with a message that refers to none", headers.msg_id)
        return payload
    if attachment is None:
        raise Malformed("the message refers to an attachment that did not come with it", headers.msg_id)
    try:
        reference = AttachmentReference.model_validate(ref)
    except ValidationError as e:  # signed by the sender: an authenticated refusal
        raise Malformed(f"not an attachment reference: {describe(e)}", headers.msg_id, authenticated=True) from e
    try:
        key, nonce = base64.urlsafe_b64decode(reference.key), base64.urlsafe_b64decode(reference.nonce)
        body = AESGCM(key).decrypt(nonce, attachment, headers.msg_id.encode("utf-8"))
    except (InvalidTag, TypeError, ValueError, binascii.Error) as e:
        raise Undecryptable("the attachment does not decrypt: altered in transit", headers.msg_id) from e
    if len(body) != reference.size or hashlib.sha256(body).hexdigest() != reference.sha256:
        raise BadSignature("the attachment differs from the SHA-256 the sender signed", headers.msg_id)
    try:
        full = parse_json(body)
    except ValueError as e:
        raise Malformed("the attachment is not JSON", headers.msg_id) from e
    if not isinstance(full, dict):
        raise Malformed("the attachment is not a JSON object", headers.msg_id)
    if digests is not None:  # the verified SHA-256 of the bytes the sender signed: no need to hash again
        digests[headers.msg_id] = reference.sha256
    if bodies is not None:  # and those bytes, to be stored as they came
        bodies[headers.msg_id] = body
    return full


def open_envelope(token: str | bytes, *, me: NodeIdentity, trust: Trust, now: dt.datetime,
                  seen: Callable[[str], bool], window: dt.timedelta = DEFAULT_WINDOW,
                  old_encryption_keys: list[OKPKey] | None = None, attachment: bytes | memoryview | None = None,
                  digests: dict[str, str] | None = None,
                  bodies: dict[str, bytes] | None = None) -> tuple[Headers, dict[str, Any]]:
    """Decrypt, verify and check an envelope (and its attachment, if it refers to one); raises an
    EnvelopeRejected subclass on any fault. For an attachment, `digests` and `bodies` receive its
    verified SHA-256 and bytes under the message id; for a payload inside the envelope, `bodies`
    receives its bytes as signed (the receiver hashes and stores those, never a re-encoding: the
    sender's canonical form is the one its receipts are over)."""
    if isinstance(token, bytes):
        if len(token) > MAX_ENVELOPE_BYTES:
            raise Malformed("envelope too large")
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError as e:
            raise Malformed("an envelope is ASCII (compact JWE)") from e
    if token.count(".") != 4:
        raise Malformed("not a compact JWE")
    signed: bytes | None = None
    outer: dict[str, Any] = {}
    for key in [me.encryption_okp(), *(old_encryption_keys or [])]:  # keys rotate: old messages still open
        try:
            decrypted = jwe.decrypt_compact(token, key, registry=JWE_REGISTRY)
            signed, outer = decrypted.plaintext, dict(decrypted.protected)
            break
        except (JoseError, ValueError, TypeError):
            continue
    if signed is None:
        raise Undecryptable("cannot decrypt: altered in transit or not encrypted for this node")
    try:
        # Only the (small) protected header is read before the signature is checked: which key to use.
        inner = json.loads(base64.urlsafe_b64decode(signed.split(b".", 1)[0] + b"=="))
        evx = inner["evx"]
        if not isinstance(evx, dict):
            raise TypeError("evx is not an object")
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error) as e:
        raise Malformed(f"the signed content is not an evidex message ({type(e).__name__}: {e})") from e
    msg_id = evx.get("msg_id") if isinstance(evx.get("msg_id"), str) else None
    sender = evx.get("sender")
    if not isinstance(sender, str) or not _PARTY.match(sender) or outer.get("evx_from") != sender:
        raise Malformed("sender missing or differs between the envelope and the signed message", msg_id)
    kid = inner.get("kid")
    if inner.get("alg") != SIGNATURE_ALG or not isinstance(kid, str):
        raise BadSignature(f"signature algorithm must be {SIGNATURE_ALG} with a key id", msg_id)
    key = trust.signing_key(sender, kid, now)  # UnknownKey / ExpiredKey / RevokedKey
    try:
        verified = jws.deserialize_compact(signed, key, registry=JWS_REGISTRY)
    except (JoseError, ValueError) as e:
        raise BadSignature("the signature does not verify with the sender's registered key", msg_id) from e
    try:  # from here the sender is authenticated: its refusals get a signed answer (and an audit entry)
        if verified.headers() != inner:  # what was read before verifying is what was signed
            raise Malformed("the signed header differs from the one read", msg_id)
        try:
            headers = Headers.model_validate(evx)
        except ValidationError as e:
            raise Malformed(f"the signed headers are not an evidex message's: {describe(e)}", msg_id) from e
        if headers.protocol_version > PROTOCOL_VERSION:
            raise UnsupportedVersion(f"protocol version {headers.protocol_version}; this node speaks up to "
                                     f"{PROTOCOL_VERSION}", headers.msg_id)
        if headers.recipient != me.party or outer.get("evx_to") != me.party:
            raise WrongRecipient(f"addressed to {headers.recipient}, not {me.party}", headers.msg_id)
        if headers.type not in MESSAGE_TYPES:
            raise UnknownType(f"unknown message type {headers.type!r}", headers.msg_id)
        try:
            issued = dt.datetime.fromisoformat(headers.issued_at)
            if issued.tzinfo is None:
                raise ValueError
        except (TypeError, ValueError) as e:
            raise Malformed("issued_at is not an ISO 8601 time with zone", headers.msg_id) from e
        if abs(now - issued) > window:
            raise OutsideWindow(f"issued at {headers.issued_at}, outside ±{int(window.total_seconds())} s of now",
                                headers.msg_id)
        if seen(headers.msg_id):
            raise Replay(f"message {headers.msg_id} was already received", headers.msg_id)
        try:
            payload = parse_json(verified.payload)
        except ValueError as e:
            raise Malformed("the payload is not JSON", headers.msg_id) from e
        if not isinstance(payload, dict):
            raise Malformed("the payload is not a JSON object", headers.msg_id)
    except EnvelopeRejected as e:
        e.authenticated = True
        raise
    # An attachment that does not match is not authenticated (anyone can attach bytes to a captured envelope).
    full = _resolve_attachment(headers, payload, attachment, digests, bodies)
    if full is payload and bodies is not None:  # the payload was signed inside the envelope: its bytes as signed
        bodies[headers.msg_id] = verified.payload
    return headers, full
