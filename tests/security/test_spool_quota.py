"""Issue 12: a peer may not fill this node's spool. The bytes of one peer's received payloads in the
spool, orphans included until swept, are capped (EVIDEX_SPOOL_PEER_QUOTA_BYTES); a batch or message
that would pass the cap is answered 503 with Retry-After and nothing of it is kept. Through the real
federation routes (ASGI, in process), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import sqlalchemy as sa
from fastapi.testclient import TestClient

from evidex.api.app import create_app
from evidex.core.settings import Settings
from evidex.exchange import framing
from evidex.exchange import service as exchange
from evidex.exchange.envelope import Headers, seal, seal_parts
from evidex.exchange.models import InboxMessage, SpoolFile
from tests.exchange.conftest import two_nodes  # noqa: F401  (the fixture)
from tests.exchange.test_batch_route import _sealed
from tests.exchange.test_faults import now

KB = 1000


def _bogus_manifest(rs, me) -> tuple[bytes, bytes | None]:  # type: ignore[no-untyped-def]
    """An authentic message from RS that cannot be applied here (a manifest signed by no one): it is
    refused after its payload was written to the spool, which leaves an orphan file."""
    with rs.sessions() as db:
        key = exchange.load_trust(db).encryption_jwk("ME", now())
    headers = Headers.new(sender="RS", recipient="ME", type="evidence_manifest", conversation_id="nowhere", now=now())
    manifest = {"package_id": str(uuid.uuid4()), "created_at": now().isoformat(), "chunk_size": 1024 * 1024,
                "request": {"conversation_id": "nowhere", "requesting_party": "ME", "requested_party": "RS",
                            "request_type": "preservation"},
                "producer": {"party": "RS", "node_key": "k", "user": "u", "role": "r"},
                "files": [{"position": 0, "name": "a", "size": 1, "sha256": "0" * 64, "source_evidence_id": "e"}],
                "pad": "z" * 100 * KB}  # a well-formed manifest (its type's model), signed by no one
    envelope, attachment = seal_parts(payload={"manifest": manifest, "signature": "x", "transfer_key": "y"},
                                      headers=headers, sender=rs.identity, recipient_encryption_jwk=key)
    return envelope.encode("ascii"), attachment


def _whole(rs, size: int) -> bytes:  # type: ignore[no-untyped-def]
    with rs.sessions() as db:
        key = exchange.load_trust(db).encryption_jwk("ME", now())
    headers = Headers.new(sender="RS", recipient="ME", type="data_transmitted", conversation_id="route-whole",
                          now=now())
    return seal(payload={"blob": "w" * size}, headers=headers, sender=rs.identity,
                recipient_encryption_jwk=key).encode("ascii")


def test_a_peer_over_its_spool_quota_is_told_to_retry_and_nothing_is_kept(two_nodes, tmp_path):  # noqa: F811
    rs, me = two_nodes
    engine = me.sessions.kw["bind"]
    spool_dir = tmp_path / "spool"
    app = create_app(Settings(database_url=str(engine.url.render_as_string(hide_password=False)), environment="test",
                              evidence_dir=tmp_path / "evidence", spool_dir=spool_dir,
                              spool_peer_quota_bytes=250 * KB), engine=engine, identity=me.identity, clock=now)

    def inbox() -> int:
        with me.sessions() as db:
            return int(db.execute(sa.select(sa.func.count()).select_from(InboxMessage)).scalar_one())

    def files() -> set[str]:
        return {n for n in os.listdir(spool_dir) if n != ".lock"}

    def batch(items):  # type: ignore[no-untyped-def]
        return client.post("/federation/v1/batch", content=framing.pack_batch(items),
                           headers={"Content-Type": framing.MEDIA_TYPE})

    with TestClient(app, raise_server_exceptions=False) as client:
        r = batch([_bogus_manifest(rs, me)])
        assert r.status_code == 200 and [x["status"] for x in r.json()["results"]] == [422]
        (orphan,) = files()  # refused after its file was written: an orphan, counted until swept
        assert inbox() == 0
        # 100 kB orphan + 2 × 100 kB would pass the 250 kB quota: 503, Retry-After, nothing kept.
        r = batch(_sealed(rs, me, 2, 100 * KB))
        assert r.status_code == 503 and r.headers["Retry-After"] and "quota" in r.text, r.text
        assert inbox() == 0 and files() == {orphan}
        r = batch(_sealed(rs, me, 1, 100 * KB))  # 100 + 100 kB: within the quota
        assert r.status_code == 200 and [x["status"] for x in r.json()["results"]] == [200], r.text
        assert inbox() == 1 and len(files()) == 2
        # One more message, on the single-message route (payload inside the envelope): over again.
        r = client.post("/federation/v1/messages", content=_whole(rs, 100 * KB),
                        headers={"Content-Type": "application/jose"})
        assert r.status_code == 503 and r.headers["Retry-After"], r.text
        assert inbox() == 1 and len(files()) == 2
        # The sweep removes the orphan (an hour old) and the ledger forgets it: the peer may send again.
        t = (now() - dt.timedelta(days=1)).timestamp()
        for name in files():
            os.utime(spool_dir / name, (t, t))
        with me.sessions() as db:
            assert exchange.sweep_spool(db, app.state.spool, now() + dt.timedelta(hours=2)) == 1
            held = db.execute(sa.select(SpoolFile.peer, SpoolFile.bytes)).all()
            assert [p for p, _ in held] == ["RS"] and 100 * KB < held[0][1] < 110 * KB
        assert orphan not in files()
        r = batch(_sealed(rs, me, 1, 100 * KB))
        assert r.status_code == 200 and [x["status"] for x in r.json()["results"]] == [200], r.text
        assert inbox() == 2
