"""Payloads received from other nodes are encrypted at rest (exchange/sealed.py), through a real
receive on the federation route of a real app: no plaintext in the spool file nor in the inbox row;
a changed byte, or a body moved to another row, is refused on read; payloads stored in clear before
still read, and `evidex evidence rewrap` seals them and follows a key rotation. A worker or server
whose node identity is on disk but cannot be opened refuses to start (real CLI). SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from evidex.api.app import create_app
from evidex.core.settings import Settings
from evidex.exchange import framing, keys
from evidex.exchange import service as exchange
from evidex.exchange.envelope import Headers, seal_parts
from evidex.exchange.models import InboxMessage
from evidex.exchange.sealed import PayloadDamaged, Sealer, key_ring
from evidex.exchange.spool import SPOOL_OVER, Spool
from tests.conftest import ROOT, run_cli
from tests.exchange import conftest as exchange_fixtures
from tests.exchange.test_faults import now
from tests.servers import free_port

pytestmark = pytest.mark.slow  # long-running: started first by parallel runs (tests/conftest.py)

MARKER = "personal-data-of-the-subscriber-7f3a"
KEY = "transfer-key-material-91c2"
SECRET = "node secret of the at-rest test"
two_nodes = exchange_fixtures.two_nodes  # RS and ME, each with its database (SQLite, PostgreSQL)


def _receive(rs, me, tmp_path, payloads: list[dict]) -> tuple[Spool, list[str]]:  # type: ignore[no-untyped-def]
    """POST the payloads from RS to ME's real federation route (binary batch, as the delivery worker
    sends); ME's spool and the message ids."""
    engine = me.sessions.kw["bind"]
    app = create_app(Settings(database_url=engine.url.render_as_string(hide_password=False), environment="test",
                              evidence_dir=tmp_path / "evidence", spool_dir=tmp_path / "spool", secret_key=SECRET),
                     engine=engine, identity=me.identity, clock=now)
    with rs.sessions() as db:
        key = exchange.load_trust(db).encryption_jwk("ME", now())
    items, ids = [], []
    for i, payload in enumerate(payloads):
        headers = Headers.new(sender="RS", recipient="ME", type="data_transmitted", conversation_id=f"at-rest-{i}",
                              now=now())
        envelope, attachment = seal_parts(payload=payload, headers=headers, sender=rs.identity,
                                          recipient_encryption_jwk=key)
        items.append((envelope.encode("ascii"), attachment))
        ids.append(headers.msg_id)
    with TestClient(app) as client:
        r = client.post("/federation/v1/batch", content=framing.pack_batch(items),
                        headers={"Content-Type": framing.MEDIA_TYPE})
        assert r.status_code == 200 and [x["status"] for x in r.json()["results"]] == [200] * len(items), r.text
    return app.state.spool, ids


def _payloads() -> list[dict]:  # type: ignore[type-arg]
    return [{"blob": "z" * (SPOOL_OVER + 1000), "data": MARKER, "transfer_key": KEY},  # a spool file
            {"data": MARKER, "transfer_key": KEY}]  # kept in its row


def _row(me, msg_id: str) -> tuple[bytes | None, str | None]:  # type: ignore[no-untyped-def]
    with me.sessions() as db:
        return tuple(db.execute(sa.select(InboxMessage.body, InboxMessage.body_file)
                                .where(InboxMessage.msg_id == msg_id)).one())


def _read(me, msg_id: str, spool: Spool) -> dict:  # type: ignore[no-untyped-def, type-arg]
    with me.sessions() as db:
        row = db.execute(sa.select(InboxMessage).where(InboxMessage.msg_id == msg_id)).scalar_one()
        return exchange.inbox_payload(row, spool)


def test_received_payloads_hold_no_plaintext_in_the_spool_nor_in_the_inbox(two_nodes, tmp_path):
    rs, me = two_nodes
    spool, (large, small) = _receive(rs, me, tmp_path, _payloads())
    body, name = _row(me, large)
    assert body is None and name is not None
    on_disk = spool.path(name).read_bytes()
    assert MARKER.encode() not in on_disk and KEY.encode() not in on_disk and b"zzzz" not in on_disk
    body, name = _row(me, small)
    assert name is None and body is not None and MARKER.encode() not in body and KEY.encode() not in body
    for msg_id in (large, small):  # read back whole through the node's key
        assert _read(me, msg_id, spool)["data"] == MARKER
        # The transfer key is erased once served (evidence packages): still sealed after the rewrite.
        with me.sessions() as db:
            assert exchange.erase_from_payload(db, msg_id=msg_id, field="transfer_key", reason="served", spool=spool)
            db.commit()
        payload = _read(me, msg_id, spool)
        assert payload["transfer_key"] == "erased" and payload["data"] == MARKER
    body, name = _row(me, small)
    assert body is not None and MARKER.encode() not in body and b"erased" not in body
    assert MARKER.encode() not in spool.path(_row(me, large)[1] or "").read_bytes()
    # Another secret does not open them.
    with pytest.raises(PayloadDamaged, match="does not hold"):
        _read(me, small, Spool(spool.root, Sealer(key_ring(b"another secret"))))


def test_a_changed_byte_or_a_moved_body_is_reported_on_read(two_nodes, tmp_path):
    rs, me = two_nodes
    spool, (large, small) = _receive(rs, me, tmp_path, _payloads())
    _, other = _receive(rs, me, tmp_path / "2", [{"data": "another message"}])
    path = spool.path(_row(me, large)[1] or "")
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(raw)
    with pytest.raises(PayloadDamaged, match="altered"):
        _read(me, large, spool)
    body = bytearray(_row(me, small)[0] or b"")
    body[-20] ^= 0x01
    with me.sessions() as db:
        db.execute(sa.update(InboxMessage).where(InboxMessage.msg_id == small).values(body=bytes(body)))
        db.commit()
    with pytest.raises(PayloadDamaged, match="altered"):
        _read(me, small, spool)
    with me.sessions() as db:  # a valid sealed body copied into another message's row
        db.execute(sa.update(InboxMessage).where(InboxMessage.msg_id == small).values(body=_row(me, other[0])[0]))
        db.commit()
    with pytest.raises(PayloadDamaged):
        _read(me, small, spool)
    with me.sessions() as db, pytest.raises(PayloadDamaged):  # an erasure reads it first: refused too
        exchange.erase_from_payload(db, msg_id=large, field="transfer_key", reason="served", spool=spool)


def test_payloads_stored_in_clear_before_still_read_and_rewrap_seals_them_and_follows_rotation(two_nodes, tmp_path):
    rs, me = two_nodes
    spool, (large, small) = _receive(rs, me, tmp_path, _payloads())
    plain_row = json.dumps({"data": MARKER, "old": True}).encode()
    plain_file = json.dumps({"blob": "y" * (SPOOL_OVER + 10), "data": MARKER}).encode()
    name = Spool.name("old-large", "ab" * 32)
    Spool(spool.root).write([(name, plain_file)])  # as a node wrote it before encryption at rest
    with me.sessions() as db:
        for msg_id, body, body_file in (("old-small", plain_row, None), ("old-large", None, name)):
            db.add(InboxMessage(msg_id=msg_id, sender="RS", type="data_transmitted", conversation_id="old",
                                headers={}, body=body, body_file=body_file, payload_sha256="ab" * 32,
                                received_at=now(), delivery_receipt="x"))
        db.commit()
    assert _read(me, "old-small", spool)["old"] is True and _read(me, "old-large", spool)["data"] == MARKER
    env = {"EVIDEX_DATABASE_URL": me.sessions.kw["bind"].url.render_as_string(hide_password=False),
           "EVIDEX_SECRET_KEY": SECRET, "EVIDEX_SPOOL_DIR": str(spool.root),
           "EVIDEX_EVIDENCE_DIR": str(tmp_path / "evidence"), "EVIDEX_NODE_DIR": str(tmp_path / "no-node")}
    r = run_cli("evidence", "rewrap", env=env)
    assert r.returncode == 0 and "0 data key(s) re-wrapped, 2 stored in clear now sealed" in r.stdout, r.stderr
    assert MARKER.encode() not in (_row(me, "old-small")[0] or b"") and MARKER.encode() not in spool.path(name).read_bytes()
    assert _read(me, "old-small", spool)["old"] is True and _read(me, "old-large", spool)["data"] == MARKER
    # Rotation: a new secret, the old one listed as previous for the run; then the old one can go.
    sealed_before = spool.path(name).read_bytes()
    rotated = {**env, "EVIDEX_SECRET_KEY": "the new node secret"}
    r = run_cli("evidence", "rewrap", env=rotated)
    assert r.returncode != 0 and "4 received payload(s) under p-" in r.stderr and "PREVIOUS" in r.stderr
    r = run_cli("evidence", "rewrap", env={**rotated, "EVIDEX_PREVIOUS_SECRET_KEYS": json.dumps([SECRET])})
    assert r.returncode == 0 and "4 data key(s) re-wrapped, 0 stored in clear" in r.stdout, r.stderr
    after = spool.path(name).read_bytes()
    assert after != sealed_before and len(after) == len(sealed_before)
    assert after[200:] == sealed_before[200:]  # the header only: the payload is not re-encrypted
    new_only = Spool(spool.root, Sealer(key_ring(b"the new node secret")))
    for msg_id in (large, small, "old-small", "old-large"):
        assert _read(me, msg_id, new_only)["data"] == MARKER
    # Once all is sealed, EVIDEX_ACCEPT_PLAINTEXT_PAYLOADS=false: a body an insider puts back in clear is refused.
    with me.sessions() as db:
        db.execute(sa.update(InboxMessage).where(InboxMessage.msg_id == small).values(body=plain_row))
        db.commit()
    assert _read(me, small, new_only)["old"] is True  # the default, for nodes with payloads from before
    strict = Spool.of_node(Settings(spool_dir=spool.root, secret_key="the new node secret",
                                    accept_plaintext_payloads=False))
    assert _read(me, large, strict)["data"] == MARKER
    with pytest.raises(PayloadDamaged, match="EVIDEX_ACCEPT_PLAINTEXT_PAYLOADS"):
        _read(me, small, strict)


# --------------------------------------------------------------------------- the node identity
def _node_dir(tmp_path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "node"
    keys.save(keys.generate("RS", "https://127.0.0.1:8443"), folder, b"the right passphrase")
    return folder


def test_a_worker_whose_node_identity_cannot_be_opened_refuses_to_start(database_url, tmp_path, monkeypatch):
    monkeypatch.delenv("EVIDEX_NODE_KEY_PASSPHRASE", raising=False)
    env = {"EVIDEX_DATABASE_URL": database_url, "EVIDEX_NODE_DIR": str(_node_dir(tmp_path)), "EVIDEX_ENVIRONMENT": "test",
           "EVIDEX_EVIDENCE_DIR": str(tmp_path / "ev"), "EVIDEX_SPOOL_DIR": str(tmp_path / "spool")}
    r = run_cli("worker", "--once", env=env)
    assert r.returncode == 2 and r.stdout == "", r.stdout
    assert r.stderr.strip().splitlines() == [f"evidex: error: {tmp_path / 'node'} holds this node's identity, but "
                                             "EVIDEX_NODE_KEY_PASSPHRASE is not set: the server and the worker both "
                                             "need it to sign"]
    r = run_cli("worker", "--once", env={**env, "EVIDEX_NODE_KEY_PASSPHRASE": "a wrong passphrase"})
    assert r.returncode == 2 and "cannot be opened (wrong passphrase?)" in r.stderr and len(r.stderr.splitlines()) == 1
    r = run_cli("worker", "--once", env={**env, "EVIDEX_NODE_KEY_PASSPHRASE": "the right passphrase"})
    assert r.returncode == 0 and "outbox:" in r.stdout, r.stderr  # with it, the worker delivers too


def test_a_server_whose_node_identity_cannot_be_opened_refuses_to_start(database_url, tmp_path, monkeypatch):
    monkeypatch.delenv("EVIDEX_NODE_KEY_PASSPHRASE", raising=False)
    env = {**os.environ, "EVIDEX_DATABASE_URL": database_url, "EVIDEX_NODE_DIR": str(_node_dir(tmp_path)),
           "EVIDEX_ENVIRONMENT": "test",
           "EVIDEX_EVIDENCE_DIR": str(tmp_path / "ev"), "EVIDEX_SPOOL_DIR": str(tmp_path / "spool")}
    port = free_port()
    for extra in ((), ("--workers", "2")):
        try:
            r = subprocess.run([sys.executable, "-m", "evidex", "serve", "--port", str(port), *extra], env=env,
                               cwd=ROOT, capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("evidex serve started without being able to open the node identity")
        assert r.returncode == 2 and "EVIDEX_NODE_KEY_PASSPHRASE is not set" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
