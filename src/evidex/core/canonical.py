"""One canonical JSON for everything evidex hashes or signs: RFC 8785, the JSON Canonicalization
Scheme (JCS) — keys sorted by UTF-16 code units, no whitespace, numbers as ECMAScript writes them,
strings as UTF-8 with the minimal escapes. Two nodes, or a node and an auditor years later,
compute the same bytes from the same value with any conforming implementation.

Records hashed into a chain (the audit log, custody events) say which canonical form their hash
is over: the hash input of canon 2 starts with CANON_TAG; a record whose hash is over a bare JSON
array was written before (canon 1, Python's `json.dumps(sort_keys=True)`) and is verified the old
way, never written so again (`legacy_chain_hash`)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

CANON_LEGACY, CANON_JCS = 1, 2
CANON_TAG = b"evidex-jcs\n"  # starts every canon-2 hash input; a canon-1 input starts with "["


class NotCanonical(ValueError):
    """A value RFC 8785 cannot encode: a non-finite number, an integer beyond ±(2^53 − 1) (I-JSON,
    RFC 7493), a key that is not a string, a lone surrogate, or a type JSON does not have."""


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 bytes of a JSON value (dict, list, str, int, float, bool, None)."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as e:
        raise NotCanonical(str(e)) from e
    except (TypeError, RecursionError) as e:
        raise NotCanonical(f"not a JSON value: {e}") from e


def canonical_sha256(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def chain_hash(fields: list[Any]) -> str:
    """The SHA-256 that links a record into its chain (canon 2): over CANON_TAG and the RFC 8785
    bytes of its fields."""
    return hashlib.sha256(CANON_TAG + canonical_json(fields)).hexdigest()


def legacy_chain_hash(fields: list[Any], *, ensure_ascii: bool) -> str:
    """Canon 1, read only: the hash evidex wrote before RFC 8785, over Python's sorted compact JSON
    (the audit chain wrote it with `ensure_ascii=False`, custody events with escapes). Kept to
    verify what was written then; nothing is written so again."""
    legacy = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=ensure_ascii, default=str)
    return hashlib.sha256(legacy.encode("utf-8")).hexdigest()
