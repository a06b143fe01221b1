"""The trust list: which public keys speak for which Party node, and when. Keys rotate: a key
keeps verifying what was signed while it was valid; a revoked key verifies nothing after its
revocation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from joserfc.jwk import OKPKey

from evidex.exchange.envelope import ExpiredKey, RevokedKey, UnknownKey


@dataclass(frozen=True)
class PeerKey:
    party: str
    jwk: dict[str, Any]
    valid_from: dt.datetime
    valid_until: dt.datetime
    revoked_at: dt.datetime | None = None

    @property
    def kid(self) -> str:
        return str(self.jwk["kid"])

    @property
    def use(self) -> str:
        return str(self.jwk.get("use", "sig"))


@dataclass
class TrustList:
    keys: list[PeerKey] = field(default_factory=list)
    _imported: dict[str, OKPKey] = field(default_factory=dict, repr=False)  # kid → key, imported once

    def add(self, key: PeerKey) -> None:
        self.keys.append(key)

    def signing_key(self, party: str, kid: str, at: dt.datetime) -> OKPKey:
        matches = [k for k in self.keys if k.party == party and k.kid == kid and k.use == "sig"]
        if not matches:
            raise UnknownKey(f"no signing key {kid[:12]}… of {party} in the trust list")
        k = matches[-1]
        if k.revoked_at is not None and at >= k.revoked_at:
            raise RevokedKey(f"the key {kid[:12]}… of {party} was revoked on {k.revoked_at.isoformat()}")
        if not (k.valid_from <= at < k.valid_until):
            raise ExpiredKey(f"the key {kid[:12]}… of {party} is valid {k.valid_from.date()} to {k.valid_until.date()}")
        if kid not in self._imported:
            self._imported[kid] = OKPKey.import_key({x: v for x, v in k.jwk.items() if x != "d"})
        return self._imported[kid]

    def encryption_jwk(self, party: str, at: dt.datetime) -> dict[str, Any]:
        """The newest valid encryption key of a Party (to seal messages for it)."""
        valid = [k for k in self.keys if k.party == party and k.use == "enc" and k.revoked_at is None
                 and k.valid_from <= at < k.valid_until]
        if not valid:
            raise UnknownKey(f"no valid encryption key of {party} in the trust list")
        return max(valid, key=lambda k: k.valid_from).jwk

    @classmethod
    def from_public_document(cls, doc: dict[str, Any]) -> list[PeerKey]:
        frm, until = dt.datetime.fromisoformat(doc["valid_from"]), dt.datetime.fromisoformat(doc["valid_until"])
        return [PeerKey(party=doc["party"], jwk=k, valid_from=frm, valid_until=until) for k in doc["keys"]]
