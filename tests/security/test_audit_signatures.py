"""Records no insider can quietly rewrite (issue 12): the audit chain's head signed by the node's key,
checked by the real `evidex audit verify`, exported as a witness. An insider with database access
edits an entry and recomputes every later hash (and the head): the plain hash chain says intact;
the signed heads do not. SQLite and PostgreSQL (a database of its own per test)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ed25519
from joserfc import jws
from joserfc.jwk import OKPKey

from evidex.audit import service as audit
from evidex.audit.models import AuditEntry, AuditHead, AuditSignature
from evidex.cases import service
from evidex.core.db import make_engine, make_sessionmaker
from evidex.parties.roles import Role
from tests.conftest import run_cli
from tests.factories import NOW, new_request, user

pytestmark = pytest.mark.slow  # long-running: started first by parallel runs (tests/conftest.py)

LAW = service.Law()
PASSPHRASE = "audit heads passphrase 2026"


def history(url: str, tag: str, reads: int = 2) -> int:
    """Some entries (a case, a request, reads of it), committed; the last entry's number."""
    engine = make_engine(url)
    with make_sessionmaker(engine)() as db:
        rs = user(db, "RS", Role.central_authority, name=f"aud-{tag}")
        req = new_request(db, rs, LAW, case_ref=f"AUD-{tag}")
        for _ in range(reads):
            service.get_request(db, actor=rs, request_id=req.id, now=NOW)
        db.commit()
        last = db.execute(sa.select(sa.func.max(AuditEntry.seq))).scalar_one()
    engine.dispose()
    return int(last)


def rewrite(url: str, seq: int, **changes: object) -> None:
    """What an insider does: change entry `seq`, recompute it and every later hash, and the head."""
    engine = make_engine(url)
    with make_sessionmaker(engine)() as db:
        entries = db.execute(sa.select(AuditEntry).where(AuditEntry.seq >= seq).order_by(AuditEntry.seq)).scalars().all()
        prev = entries[0].prev_hash
        for e in entries:
            if e.seq == seq:
                for k, v in changes.items():
                    setattr(e, k, v)
            e.prev_hash = prev
            e.hash = prev = audit.entry_hash(seq=e.seq, at=e.at, actor=e.actor, party=e.party, action=e.action,
                                             object_type=e.object_type, object_id=e.object_id,
                                             personal_data=e.personal_data, details=e.details, prev_hash=e.prev_hash)
        head = db.get(AuditHead, 1)
        assert head is not None
        head.hash = prev
        db.commit()
    engine.dispose()


def signatures(url: str) -> list[AuditSignature]:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as db:
        rows = list(db.execute(sa.select(AuditSignature).order_by(AuditSignature.id)).scalars())
    engine.dispose()
    return rows


def with_identity(url: str, tmp_path: Path) -> dict[str, str]:
    env = {"EVIDEX_DATABASE_URL": url, "EVIDEX_NODE_DIR": str(tmp_path / "node"),
           "EVIDEX_NODE_KEY_PASSPHRASE": PASSPHRASE, "EVIDEX_SECRET_KEY": "a test secret of the audit heads 2026"}
    r = run_cli("node", "init", "--url", "https://127.0.0.1:9", env=env)
    assert r.returncode == 0, r.stderr
    return env


def test_a_recomputed_chain_is_reported_by_verify(own_database_url, tmp_path):
    env = with_identity(own_database_url, tmp_path)
    first = history(own_database_url, "a")
    r = run_cli("audit", "verify", env=env)
    assert r.returncode == 0, r.stderr
    assert f"signed the head of entry {first} (Ed25519" in r.stdout
    second = history(own_database_url, "b")
    r = run_cli("audit", "verify", env=env)
    assert r.returncode == 0 and "signed heads checked: 1 by Ed25519" in r.stdout, r.stdout + r.stderr
    assert [s.seq for s in signatures(own_database_url)] == [first, second]
    # Entry first + 2 edited, every later hash and the head recomputed: the chain itself is consistent.
    rewrite(own_database_url, first + 2, action="request.nothing_to_see")
    r = run_cli("audit", "verify", env=env)
    assert r.returncode == 1, r.stdout
    assert f"the head of entry {second} signed at" in r.stderr
    assert f"an entry from {first + 1} to {second} was changed" in r.stderr
    assert "content changed" not in r.stderr  # the forger recomputed the hashes: only the signature tells
    assert len(signatures(own_database_url)) == 2  # a broken chain is not signed


def test_a_forged_or_altered_signature_is_reported(own_database_url, tmp_path):
    env = with_identity(own_database_url, tmp_path)
    last = history(own_database_url, "f")
    assert run_cli("audit", "verify", env=env).returncode == 0
    (row,) = signatures(own_database_url)
    # A rewrite with a head "signed" under the node's key id by some other key.
    rewrite(own_database_url, last - 1, actor="someone-else")
    engine = make_engine(own_database_url)
    with make_sessionmaker(engine)() as db:
        head = db.get(AuditHead, 1)
        assert head is not None
        forged_key = OKPKey.import_key(ed25519.Ed25519PrivateKey.generate())
        claims = {"typ": "evidex.audit_head", "party": "RS", "seq": head.seq, "hash": head.hash,
                  "at": dt.datetime.now(dt.UTC).isoformat()}
        token = jws.serialize_compact({"alg": "Ed25519", "kid": row.kid}, json.dumps(claims).encode(), forged_key,
                                      algorithms=["Ed25519"])
        db.execute(sa.update(AuditSignature).where(AuditSignature.id == row.id)
                   .values(hash=head.hash, token=token))
        db.commit()
    engine.dispose()
    r = run_cli("audit", "verify", env=env)
    assert r.returncode == 1
    assert f"signature row {row.id}: the signature of the head of entry {last} does not verify" in r.stderr
    assert "forged or altered" in r.stderr


def test_without_an_identity_heads_are_signed_under_the_secret_and_said_so(own_database_url):
    env = {"EVIDEX_DATABASE_URL": own_database_url, "EVIDEX_SECRET_KEY": "one secret of this node, long enough"}
    last = history(own_database_url, "h")
    r = run_cli("worker", "--once", env=env)  # the worker's duty: sign the head when it moved
    assert r.returncode == 0, r.stderr
    assert [(s.seq, s.alg) for s in signatures(own_database_url)] == [(last, "HS256")]
    assert run_cli("worker", "--once", env=env).returncode == 0
    assert len(signatures(own_database_url)) == 1  # the head did not move: nothing new to sign
    r = run_cli("audit", "verify", env=env)
    assert r.returncode == 0 and "1 by HMAC-SHA256 under EVIDEX_SECRET_KEY" in r.stdout, r.stdout
    rewrite(own_database_url, last, details={"edited": True})
    r = run_cli("audit", "verify", env=env)
    assert r.returncode == 1 and f"the head of entry {last} signed at" in r.stderr
    # Someone without the secret cannot sign a head this node accepts.
    other = {**env, "EVIDEX_SECRET_KEY": "another secret, not this node's one"}
    engine = make_engine(own_database_url)
    with make_sessionmaker(engine)() as db:
        db.execute(sa.delete(AuditSignature))
        db.commit()
    engine.dispose()
    assert run_cli("audit", "verify", env=other).returncode == 0  # signs the rewritten head with its own secret
    r = run_cli("audit", "verify", env=env)
    assert r.returncode == 1 and "which this node does not hold" in r.stderr


def test_the_witness_file_catches_a_rewrite_after_the_signature_rows_were_deleted(own_database_url, tmp_path):
    env = with_identity(own_database_url, tmp_path)
    last = history(own_database_url, "w")
    assert run_cli("audit", "verify", env=env).returncode == 0
    witness = tmp_path / "heads.jsonl"
    r = run_cli("audit", "heads", "export", "--out", str(witness), env=env)
    assert r.returncode == 0 and "1 signed head(s)" in r.stdout, r.stderr
    # A partner checks the file with nothing but the node's public document.
    public = json.loads((tmp_path / "node" / "node.json").read_text())
    (line,) = [json.loads(x) for x in witness.read_text().splitlines()]
    (jwk,) = [k for k in public["keys"] if k["crv"] == "Ed25519"]
    key = OKPKey.import_key({k: jwk[k] for k in ("kty", "crv", "x")})
    claims = json.loads(jws.deserialize_compact(line["jws"], key, algorithms=["Ed25519"]).payload)
    assert (claims["seq"], claims["hash"]) == (last, line["hash"])
    # The node's own administrator rewrites history and deletes every signature row.
    rewrite(own_database_url, last - 2, object_id="elsewhere")
    engine = make_engine(own_database_url)
    with make_sessionmaker(engine)() as db:
        db.execute(sa.delete(AuditSignature))
        db.commit()
    engine.dispose()
    assert run_cli("audit", "verify", env=env).returncode == 0  # nothing left in the database to tell
    r = run_cli("audit", "verify", "--witness", str(witness), env=env)
    assert r.returncode == 1, r.stdout
    assert f"witness {witness} line 1: the head of entry {last}" in r.stderr and "signature rows removed" in r.stderr
    assert f"the head of entry {last} signed at" in r.stderr and "no longer matches the chain" in r.stderr
