"""A node's identity: an Ed25519 signing key, an X25519 encryption key (private keys encrypted at
rest), and a self-signed TLS certificate for its endpoint. `evidex node init` creates them."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.x509.oid import NameOID
from joserfc.jwk import OKPKey

from evidex.core.errors import EvidexError

SIGNING_FILE, ENCRYPTION_FILE, TLS_KEY_FILE, TLS_CERT_FILE, PUBLIC_FILE = (
    "signing.key.pem", "encryption.key.pem", "tls.key.pem", "tls.crt.pem", "node.json")


class KeyError_(EvidexError):
    """A node key file is missing, unreadable or its passphrase is wrong."""


def _protect(passphrase: bytes) -> serialization.KeySerializationEncryption:
    return serialization.BestAvailableEncryption(passphrase)


def jwk_of(public_key: ed25519.Ed25519PublicKey | x25519.X25519PublicKey) -> dict[str, Any]:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    crv = "Ed25519" if isinstance(public_key, ed25519.Ed25519PublicKey) else "X25519"
    key = OKPKey.import_key({"kty": "OKP", "crv": crv, "x": _b64(raw)})
    out: dict[str, Any] = key.as_dict(private=False)
    out["kid"] = key.thumbprint()  # RFC 7638: the key names itself
    out["use"] = "sig" if crv == "Ed25519" else "enc"
    return out


def _b64(raw: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class NodeIdentity:
    party: str
    url: str
    signing: ed25519.Ed25519PrivateKey
    encryption: x25519.X25519PrivateKey
    folder: Path | None = None  # where it was loaded from (its TLS certificate and key, for mutual TLS)

    def tls_files(self) -> tuple[str, str] | None:
        """(certificate, key) this node presents as a TLS client, when it has them."""
        if self.folder is None or not (self.folder / TLS_CERT_FILE).exists():
            return None
        return str(self.folder / TLS_CERT_FILE), str(self.folder / TLS_KEY_FILE)

    @cached_property
    def signing_jwk(self) -> dict[str, Any]:
        return jwk_of(self.signing.public_key())

    @cached_property
    def encryption_jwk(self) -> dict[str, Any]:
        return jwk_of(self.encryption.public_key())

    def signing_okp(self) -> OKPKey:
        return self._signing_okp

    def encryption_okp(self) -> OKPKey:
        return self._encryption_okp

    @cached_property
    def _signing_okp(self) -> OKPKey:  # built once: every message and receipt is signed with it
        raw = self.signing.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                         serialization.NoEncryption())
        return OKPKey.import_key({**self.signing_jwk, "d": _b64(raw)})

    @cached_property
    def _encryption_okp(self) -> OKPKey:
        raw = self.encryption.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                            serialization.NoEncryption())
        return OKPKey.import_key({**self.encryption_jwk, "d": _b64(raw)})

    def public_document(self, valid_from: dt.datetime, valid_until: dt.datetime) -> dict[str, Any]:
        """What a peer's administrator imports into its trust list (`evidex peers add`)."""
        return {"party": self.party, "url": self.url, "valid_from": valid_from.isoformat(),
                "valid_until": valid_until.isoformat(),
                "keys": [self.signing_jwk, self.encryption_jwk]}


def generate(party: str, url: str) -> NodeIdentity:
    return NodeIdentity(party=party, url=url, signing=ed25519.Ed25519PrivateKey.generate(),
                        encryption=x25519.X25519PrivateKey.generate())


def tls_certificate(party: str, url: str, days: int = 825) -> tuple[bytes, bytes]:
    """A self-signed certificate for the node's endpoint (peers pin it through the trust list)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    host = urlparse(url).hostname or "localhost"
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        san = x509.DNSName(host)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"evidex node {party}"),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, party)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def save(identity: NodeIdentity, folder: Path, passphrase: bytes, *, valid_days: int = 730,
         overwrite: bool = False) -> dict[str, Any]:
    """Write the identity: private keys encrypted with `passphrase`, files readable by the owner only."""
    if len(passphrase) < 12:
        raise KeyError_("the key passphrase must have at least 12 characters")
    if (folder / SIGNING_FILE).exists() and not overwrite:
        raise KeyError_(f"{folder} already holds a node identity; refusing to overwrite it")
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)

    def write(name: str, data: bytes) -> None:
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)

    enc = _protect(passphrase)
    write(SIGNING_FILE, identity.signing.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc))
    write(ENCRYPTION_FILE, identity.encryption.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc))
    cert, tls_key = tls_certificate(identity.party, identity.url)
    write(TLS_CERT_FILE, cert)
    write(TLS_KEY_FILE, tls_key)
    now = dt.datetime.now(dt.UTC)
    public = identity.public_document(now, now + dt.timedelta(days=valid_days))
    public["tls_certificate"] = cert.decode("ascii")
    write(PUBLIC_FILE, json.dumps(public, indent=2).encode("utf-8"))
    return public


def load(folder: Path, passphrase: bytes) -> NodeIdentity:
    try:
        public = json.loads((folder / PUBLIC_FILE).read_text(encoding="utf-8"))
        signing = serialization.load_pem_private_key((folder / SIGNING_FILE).read_bytes(), passphrase)
        encryption = serialization.load_pem_private_key((folder / ENCRYPTION_FILE).read_bytes(), passphrase)
    except FileNotFoundError as e:
        raise KeyError_(f"{folder}: no node identity ({e.filename}); run `evidex node init`") from e
    except (ValueError, TypeError) as e:
        raise KeyError_(f"{folder}: the node keys cannot be opened (wrong passphrase?)") from e
    if not isinstance(signing, ed25519.Ed25519PrivateKey) or not isinstance(encryption, x25519.X25519PrivateKey):
        raise KeyError_(f"{folder}: unexpected key types")
    return NodeIdentity(party=public["party"], url=public["url"], signing=signing, encryption=encryption,
                        folder=folder)


def load_configured(settings: Any) -> NodeIdentity | None:
    """The node's identity from its settings: None if `evidex node init` has made none. A node that has
    one but cannot open it (EVIDEX_NODE_KEY_PASSPHRASE unset or wrong) is refused (KeyError_, one line):
    a server or worker running without it would write unsigned custody events and leave the outbox unsent."""
    folder: Path = settings.node_dir
    if not (folder / PUBLIC_FILE).exists():
        return None
    if settings.node_key_passphrase is None:
        raise KeyError_(f"{folder} holds this node's identity, but EVIDEX_NODE_KEY_PASSPHRASE is not set: "
                        "the server and the worker both need it to sign")
    return load(folder, settings.node_key_passphrase.get_secret_value().encode())
