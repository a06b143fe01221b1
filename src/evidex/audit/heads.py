"""Signed heads of the audit chain (CETS224 Art 14(8): records of access and changes that no
insider can quietly rewrite). The hash chain alone has no key: whoever can write the database can
edit an entry and recompute every later hash. So the head (entry number, hash, time) is signed by
the node's key at intervals (the worker) and at every `evidex audit verify`, stored in
`audit_signatures` and exported (`evidex audit heads export`) to where the database's
administrator cannot reach; verify recomputes the chain and checks it against every signed head.

Keys: the node's Ed25519 signing key (its federation identity; anyone holding the node's public
`node.json` can check the heads). A node without an identity signs with HMAC-SHA256 (JWS HS256)
under a key derived from EVIDEX_SECRET_KEY: it proves the heads to whoever holds that secret, and
nothing against someone who has it; verify says which kind it checked."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OctKey, OKPKey
from sqlalchemy.orm import Session

from evidex.audit.models import AuditEntry, AuditHead, AuditSignature
from evidex.audit.service import GENESIS, ChainProblem, entry_canon, walk_chain
from evidex.core.canonical import CANON_JCS, canonical_json
from evidex.core.db import command
from evidex.core.errors import EvidexError

ED25519, HS256 = "Ed25519", "HS256"
REGISTRY = jws.JWSRegistry(algorithms=[ED25519, HS256])
HMAC_INFO = b"evidex audit head signatures v1"
CLAIMS_TYPE = "evidex.audit_head"


class ChainNotExtended(EvidexError):
    """The entries written since the last signed head do not extend it: the head is not signed."""


@dataclass(frozen=True)
class HeadKey:
    """A key that signs (private) or checks (public) heads; `label` says what kind to a reader."""

    alg: str
    kid: str
    key: OKPKey | OctKey
    label: str


def ed25519_key(jwk: dict[str, Any], party: str) -> HeadKey:
    """From the node's signing JWK (public, or private with `d`), `kid` its RFC 7638 thumbprint."""
    key = OKPKey.import_key({k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "d")})
    kid = str(jwk.get("kid") or key.thumbprint())
    return HeadKey(ED25519, kid, key, f"Ed25519, node {party} key {kid[:12]}…")


def signing_key(node: Any | None, secret: str) -> HeadKey:
    """What this node signs its heads with: its Ed25519 identity key (a NodeIdentity) when it has one
    open, else the HMAC key of its secret."""
    if node is not None:
        kid = str(node.signing_jwk["kid"])
        return HeadKey(ED25519, kid, node.signing_okp(), f"Ed25519, node {node.party} key {kid[:12]}…")
    return secret_key(secret)


def secret_key(secret: str) -> HeadKey:
    """HMAC-SHA256 under a key derived (HKDF) from the node secret: for a node without an identity."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HMAC_INFO).derive(secret.encode("utf-8"))
    kid = "hs-" + hashlib.sha256(b"kid:" + derived).hexdigest()[:16]  # names the key, reveals nothing of it
    return HeadKey(HS256, kid, OctKey.import_key(derived), f"HMAC-SHA256 under EVIDEX_SECRET_KEY ({kid})")


def public_keys(node_documents: Iterable[dict[str, Any]], secrets: Iterable[str]) -> dict[str, HeadKey]:
    """What verify checks with: the Ed25519 signing keys of the node's public documents (node.json,
    current and earlier ones) and the HMAC keys of the current and previous node secrets."""
    keys: dict[str, HeadKey] = {}
    for doc in node_documents:
        for jwk in doc.get("keys", []):
            if jwk.get("crv") == "Ed25519" and "d" not in jwk:
                k = ed25519_key(jwk, str(doc.get("party", "?")))
                keys[k.kid] = k
    for secret in secrets:
        k = secret_key(secret)
        keys[k.kid] = k
    return keys


@dataclass(frozen=True)
class SignedHead:
    seq: int
    hash: str
    at: str
    alg: str
    kid: str
    token: str
    where: str  # "signature row 12", "witness FILE line 3": named in problems

    def line(self, party: str) -> str:
        """One line of `evidex audit heads export`: the JWS and, for reading, what it says."""
        return canonical_json({"party": party, "seq": self.seq, "hash": self.hash, "at": self.at, "alg": self.alg,
                               "kid": self.kid, "jws": self.token}).decode("utf-8")


@command
def sign_head(db: Session, *, key: HeadKey, party: str, now: dt.datetime,
              min_interval: dt.timedelta | None = None) -> AuditSignature | None:
    """Sign the chain's head if it moved since the last signed head (and, with `min_interval`, that
    long after it). The entries since the last signed head must extend it (they are recomputed
    first): a chain rewritten behind it is not signed (ChainNotExtended). None if nothing to sign."""
    head = db.get(AuditHead, 1)
    if head is None or head.seq == 0:
        return None
    last = db.execute(sa.select(AuditSignature).order_by(AuditSignature.seq.desc(), AuditSignature.id.desc())
                      .limit(1)).scalar_one_or_none()
    if last is not None and (last.seq >= head.seq or (min_interval is not None and now - last.signed_at < min_interval)):
        return None
    _check_extends(db, last.seq if last else 0, last.hash if last else GENESIS, head.seq, head.hash)
    at = now.astimezone(dt.UTC).isoformat()
    claims = {"typ": CLAIMS_TYPE, "party": party, "seq": head.seq, "hash": head.hash, "at": at}
    token = jws.serialize_compact({"alg": key.alg, "kid": key.kid}, canonical_json(claims),
                                  key.key, registry=REGISTRY)
    row = AuditSignature(seq=head.seq, hash=head.hash, signed_at=now, alg=key.alg, kid=key.kid, token=token)
    db.add(row)
    db.flush()
    return row


def _check_extends(db: Session, seq: int, hash_: str, head_seq: int, head_hash: str, batch: int = 1000) -> None:
    prev, expected, canon = hash_, seq + 1, CANON_JCS
    while expected <= head_seq:
        rows = db.execute(sa.select(AuditEntry).where(AuditEntry.seq >= expected, AuditEntry.seq <= head_seq)
                          .order_by(AuditEntry.seq).limit(batch)).scalars().all()
        if not rows:
            break
        for e in rows:
            found, h = entry_canon(e, prev_hash=prev, first=canon)
            canon = found or canon
            if e.seq != expected or e.prev_hash != prev or found is None:
                raise ChainNotExtended(f"audit entry {e.seq} does not extend the head signed at entry {seq}: "
                                       "run `evidex audit verify`")
            prev, expected = h, expected + 1
    if expected != head_seq + 1 or prev != head_hash:
        raise ChainNotExtended(f"the audit head (entry {head_seq}) does not extend the head signed at entry {seq}")


def stored_heads(db: Session) -> list[SignedHead]:
    return [SignedHead(r.seq, r.hash, r.signed_at.astimezone(dt.UTC).isoformat(), r.alg, r.kid, r.token,
                       f"signature row {r.id}")
            for r in db.execute(sa.select(AuditSignature).order_by(AuditSignature.seq, AuditSignature.id)).scalars()]


def read_witness(lines: Iterable[str], name: str) -> tuple[list[SignedHead], list[ChainProblem]]:
    """Heads exported earlier (JSON lines); a line that cannot be read is a problem, not an error."""
    heads: list[SignedHead] = []
    problems: list[ChainProblem] = []
    for n, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            d = json.loads(text)
            heads.append(SignedHead(int(d["seq"]), str(d["hash"]), str(d["at"]), str(d["alg"]), str(d["kid"]),
                                    str(d["jws"]), f"witness {name} line {n}"))
        except (ValueError, KeyError, TypeError):
            problems.append(ChainProblem(None, f"witness {name} line {n}: not a signed head"))
    return heads, problems


@dataclass
class HeadsCheck:
    entries: int
    problems: list[ChainProblem]
    checked: dict[str, int] = field(default_factory=dict)  # key label → signed heads checked with it


def verify_heads(db: Session, *, keys: dict[str, HeadKey], witness: list[SignedHead] | None = None,
                 batch: int = 1000) -> HeadsCheck:
    """The chain walked (hash and link of every entry, as audit.verify) and checked against every
    signed head, stored and witnessed: the signature must verify with a key of this node, and the
    hash it signed must be the one recomputed from the entries at that number."""
    stored = stored_heads(db)
    witness = witness or []
    problems: list[ChainProblem] = []
    checked: dict[str, int] = {}
    valid: list[tuple[SignedHead, dict[str, Any]]] = []
    for head in stored + witness:
        claims = _verified(head, keys, problems)
        if claims is not None:
            checked[keys[head.kid].label] = checked.get(keys[head.kid].label, 0) + 1
            valid.append((head, claims))
    walk = walk_chain(db, batch=batch, wanted={int(c["seq"]) for _, c in valid})
    problems = walk.problems + problems
    # Removed signature rows: a head exported earlier (and verified) that the table no longer holds.
    tokens = {h.token for h in stored}
    for head, claims in valid:
        if head.where.startswith("witness") and head.token not in tokens:
            problems.append(ChainProblem(None, f"{head.where}: the head of entry {claims['seq']} signed at "
                                               f"{claims['at']} is no longer among the stored signatures "
                                               "(signature rows removed)"))
    # The first signed head (by entry number) the recomputed chain no longer matches, and the range
    # in which the edit lies: after the last signed head that still matches, up to it.
    by_seq = sorted(valid, key=lambda v: int(v[1]["seq"]))
    good = 0
    for i, (head, claims) in enumerate(by_seq):
        seq = int(claims["seq"])
        if seq > walk.last_seq:
            problems.append(ChainProblem(None, f"{head.where}: a head signed at {claims['at']} names entry {seq}, "
                                               f"but the chain ends at entry {walk.last_seq}: entries removed"))
            break
        if walk.recomputed.get(seq) != claims["hash"]:
            later = len({int(c["seq"]) for _, c in by_seq[i + 1:]})
            problems.append(ChainProblem(None, f"the head of entry {seq} signed at {claims['at']} ({head.where}) no "
                                               f"longer matches the chain: an entry from {good + 1} to {seq} was "
                                               "changed, removed or inserted and the later hashes recomputed"
                                               + (f" ({later} later signed head(s) do not match either)" if later else "")))
            break
        good = seq
    return HeadsCheck(walk.count, problems, checked)


def _verified(head: SignedHead, keys: dict[str, HeadKey], problems: list[ChainProblem]) -> dict[str, Any] | None:
    key = keys.get(head.kid)
    if key is None:
        problems.append(ChainProblem(None, f"{head.where}: the head of entry {head.seq} is signed by key {head.kid}, "
                                           "which this node does not hold (a key replaced since? pass the node "
                                           "document that had it with --key)"))
        return None
    try:
        claims: dict[str, Any] = json.loads(jws.deserialize_compact(head.token, key.key, registry=REGISTRY).payload)
        if jws.extract_compact(head.token.encode("ascii"), registry=REGISTRY).headers().get("alg") != key.alg:
            raise ValueError("algorithm")
        if claims.get("typ") != CLAIMS_TYPE or not isinstance(claims.get("seq"), int) \
                or not isinstance(claims.get("hash"), str):
            raise ValueError("claims")
    except (JoseError, ValueError, TypeError, UnicodeError):
        problems.append(ChainProblem(None, f"{head.where}: the signature of the head of entry {head.seq} does not "
                                           f"verify ({key.label}): forged or altered"))
        return None
    if claims["seq"] != head.seq or claims["hash"] != head.hash:
        problems.append(ChainProblem(None, f"{head.where}: says entry {head.seq} but its signature covers entry "
                                           f"{claims['seq']}: altered"))
        return None
    return claims


@dataclass
class Verification:
    """What `evidex audit verify` (and the audit page's button) found: the entries walked, the problems
    (none: intact), the signed heads checked per kind of key, and the head signed now if intact."""

    entries: int
    problems: list[ChainProblem]
    checked: dict[str, int]
    signed: AuditSignature | None = None

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def first_broken_entry(self) -> int | None:
        """The lowest entry number a problem names (None: intact, or only heads disagree)."""
        return min((p.seq for p in self.problems if p.seq is not None), default=None)


@command
def verify_and_sign(db: Session, *, keys: dict[str, HeadKey], signer: HeadKey, party: str, now: dt.datetime,
                    witness: list[SignedHead] | None = None, problems: list[ChainProblem] | None = None,
                    ) -> Verification:
    """Check the chain against every signed head (verify_heads) and, when nothing is wrong, sign its head
    (flushed; the caller commits): a broken chain is never signed, its heads would vouch for the rewrite.
    `problems`: found before (unreadable witness lines), reported with the rest."""
    check = verify_heads(db, keys=keys, witness=witness)
    found = check.problems + list(problems or [])
    signed = None
    if not found:
        try:
            signed = sign_head(db, key=signer, party=party, now=now)
        except ChainNotExtended as e:  # written to meanwhile by someone rewriting it: report, never sign
            found.append(ChainProblem(None, str(e)))
    return Verification(check.entries, found, check.checked, signed)
