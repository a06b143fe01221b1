"""Small secrets sealed at rest (TOTP secrets): AES-256-GCM under a key derived by HKDF from the
node secret with a label of its own, so it never equals the evidence key. The key id travels with
the value; keys from previous node secrets still open what they sealed (rotation), never seal."""

from __future__ import annotations

import base64
import hashlib
import os
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from evidex.core.errors import EvidexError

if TYPE_CHECKING:  # the box is built where settings are read; the code that uses it never reads them
    from evidex.core.settings import Settings

PREFIX = "tot1:"  # what a sealed value starts with; anything else is a legacy plaintext value


class SealedSecretError(EvidexError):
    """A sealed value this node cannot open (unknown key or altered)."""


def derive_keys(secret: bytes, previous: list[bytes] | None = None, *, label: bytes,
                kid_prefix: str = "") -> tuple[str, dict[str, bytes]]:
    """The keys one purpose (`label`, the HKDF info) derives from the node secret: the current key's
    id and every key by id — the current secret's, which seals or wraps, and those of `previous`
    secrets, which still open until everything is re-sealed. An id names a key, revealing nothing."""
    def derive(s: bytes) -> tuple[str, bytes]:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(s)
        return kid_prefix + hashlib.sha256(key).hexdigest()[:12], key

    current, key = derive(secret)
    keys = dict(derive(p) for p in previous or [])
    keys[current] = key
    return current, keys


class SecretBox:
    def __init__(self, secret: bytes, previous: list[bytes] | None = None, *, label: bytes) -> None:
        self.current, self.keys = derive_keys(secret, previous, label=label)

    @classmethod
    def for_totp(cls, secret: bytes, previous: list[bytes] | None = None) -> SecretBox:
        return cls(secret, previous, label=b"evidex totp secrets v1")

    def is_current(self, stored: str) -> bool:
        """Sealed under the current key (a plaintext or an older key's value is sealed again on use)."""
        return stored.startswith(f"{PREFIX}{self.current}:")

    def seal(self, plain: str) -> str:
        nonce = os.urandom(12)
        aad = f"{PREFIX}{self.current}".encode()
        blob = nonce + AESGCM(self.keys[self.current]).encrypt(nonce, plain.encode("utf-8"), aad)
        return f"{PREFIX}{self.current}:{base64.b64encode(blob).decode('ascii')}"

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # a value written before secrets were sealed
        kid, _, b64 = stored[len(PREFIX):].partition(":")
        key = self.keys.get(kid)
        if key is None:
            raise SealedSecretError(f"a secret is sealed under key {kid}, which this node does not hold "
                                    "(put the node secret it came from in EVIDEX_PREVIOUS_SECRET_KEYS)")
        try:
            blob = base64.b64decode(b64, validate=True)
            return AESGCM(key).decrypt(blob[:12], blob[12:], f"{PREFIX}{kid}".encode()).decode("utf-8")
        except (ValueError, InvalidTag) as e:
            raise SealedSecretError("a sealed secret is damaged") from e


def totp_box(settings: Settings) -> SecretBox:
    """The box for TOTP secrets of this node, from its settings (server and CLI build it once)."""
    return SecretBox.for_totp(settings.secret_key.get_secret_value().encode(),
                              [p.get_secret_value().encode() for p in settings.previous_secret_keys])
