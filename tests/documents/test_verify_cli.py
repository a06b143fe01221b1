"""`evidex verify X.pdf`, the real CLI in a subprocess: exit 0 valid, 1 altered / unknown signer /
not sealed, 2 a file it cannot read; plain words or --json; offline with --trust node.json, or on the
node (its trust list, its own node.json, the verification audited)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from evidex.audit.models import AuditEntry
from evidex.core.db import make_engine
from evidex.exchange import keys
from tests.conftest import run_cli
from tests.documents import pdfs
from tests.documents.pdfs import AUTHORITY, ME, RS, VALID_FROM, VALID_UNTIL, example, render, sealed

pytestmark = pytest.mark.slow  # subprocesses


def node_json(tmp_path: Path, identity: keys.NodeIdentity) -> Path:
    path = tmp_path / f"{identity.party}-node.json"
    path.write_text(json.dumps(identity.public_document(VALID_FROM, VALID_UNTIL)), encoding="utf-8")
    return path


def write(tmp_path: Path, name: str, data: bytes) -> str:
    (tmp_path / name).write_bytes(data)
    return str(tmp_path / name)


def test_offline_with_a_trusted_node_document(tmp_path: Path) -> None:
    rs = str(node_json(tmp_path, RS))
    valid = run_cli("verify", write(tmp_path, "valid.pdf", sealed()), "--trust", rs)
    assert valid.returncode == 0, valid.stderr
    assert valid.stdout.startswith("VALID: sealed by the node of RS") and AUTHORITY in valid.stdout

    doc = example()
    forged = pdfs.with_seal_of(render({**doc, "elements": {**doc["elements"], "offence": "Theft of a bicycle"}}),
                               sealed(doc))
    altered = run_cli("verify", write(tmp_path, "altered.pdf", forged), "--trust", rs)
    assert altered.returncode == 1
    assert altered.stdout.startswith("ALTERED:")
    assert '- page 1: "Sexual extortion of a child" now reads "Theft of a bicycle" (the element offence' in altered.stdout

    as_json = run_cli("verify", str(tmp_path / "altered.pdf"), "--trust", rs, "--json")
    answer = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and answer["status"] == "altered"
    assert answer["differences"][0]["field"] == "elements.offence"

    unknown = run_cli("verify", str(tmp_path / "valid.pdf"), "--trust", str(node_json(tmp_path, ME)))
    assert unknown.returncode == 1 and unknown.stdout.startswith("UNKNOWN SIGNER:")
    assert "the node of RS (as the seal claims)" in unknown.stdout

    unsealed = run_cli("verify", write(tmp_path, "plain.pdf", render(doc)), "--trust", rs)
    assert unsealed.returncode == 1 and unsealed.stdout.startswith("NOT SEALED:")


@pytest.mark.parametrize(("content", "says"), [
    (b"hello, I am a letter", "is not a PDF"),
    (b"%PDF-1.7\n\x00\x01\x02", "damaged"),
    (None, "cannot be read"),
])
def test_a_file_it_cannot_read_is_one_line_exit_2(tmp_path: Path, content: bytes | None, says: str) -> None:
    path = write(tmp_path, "x.pdf", content) if content is not None else str(tmp_path / "missing.pdf")
    r = run_cli("verify", path, "--trust", str(node_json(tmp_path, RS)))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("evidex: error:") and says in r.stderr and r.stderr.count("\n") == 1


def test_on_the_node_its_own_key_and_trust_list_and_the_verification_audited(own_database_url: str,
                                                                             tmp_path: Path) -> None:
    # a database of its own: the audit entries it writes (the authority's name in English) are no other test's
    database_url = own_database_url
    keys.save(RS, tmp_path / "node", b"a passphrase of the test")  # node.json: the public keys, read without it
    env = {"EVIDEX_DATABASE_URL": database_url, "EVIDEX_NODE_DIR": str(tmp_path / "node"), "EVIDEX_NODE_PARTY": "RS"}
    # sealed now: node.json says the key is valid from `keys.save` on
    pdf = sealed(request_id="5d1b0a57-0000-4000-8000-000000000003", signed_at=dt.datetime.now(dt.UTC))
    r = run_cli("verify", write(tmp_path, "own.pdf", pdf), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    foreign = run_cli("verify", write(tmp_path, "me.pdf", sealed(identity=ME)), env=env)
    assert foreign.returncode == 1 and "UNKNOWN SIGNER" in foreign.stdout  # ME is not in this node's trust list
    engine = make_engine(database_url)
    try:
        with engine.connect() as c:
            rows = c.execute(sa.select(AuditEntry.actor, AuditEntry.details).where(
                AuditEntry.action == "document.verify",
                AuditEntry.object_id == hashlib.sha256(pdf).hexdigest())).all()
    finally:
        engine.dispose()
    assert [(actor, d["channel"], d["result"], d["request_id"]) for actor, d in rows] == [
        ("cli", "cli", "valid", "5d1b0a57-0000-4000-8000-000000000003")]
