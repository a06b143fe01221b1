"""The batch route of a real evidex app (ASGI, in process): the binary framing the delivery
worker sends, the JSON form, and malformed bodies answered 422 with nothing stored. SQLite and
PostgreSQL."""

from __future__ import annotations

import base64

import sqlalchemy as sa
from fastapi.testclient import TestClient

from evidex.api.app import create_app
from evidex.core.settings import Settings
from evidex.exchange import framing
from evidex.exchange import service as exchange
from evidex.exchange.envelope import Headers, seal_parts
from evidex.exchange.models import InboxMessage
from tests.exchange.test_faults import now


def _sealed(rs, me, n: int, size: int) -> list[tuple[bytes, bytes | None]]:
    with rs.sessions() as db:
        key = exchange.load_trust(db).encryption_jwk("ME", now())
    out = []
    for i in range(n):
        headers = Headers.new(sender="RS", recipient="ME", type="data_transmitted", conversation_id=f"route-{i}",
                              now=now())
        envelope, attachment = seal_parts(payload={"i": i, "blob": "y" * size}, headers=headers, sender=rs.identity,
                                          recipient_encryption_jwk=key)
        out.append((envelope.encode("ascii"), attachment))
    return out


def test_binary_and_json_batches_through_the_route(two_nodes, tmp_path):
    rs, me = two_nodes
    engine = me.sessions.kw["bind"]
    app = create_app(Settings(database_url=str(engine.url.render_as_string(hide_password=False)), environment="test",
                              evidence_dir=tmp_path / "evidence", spool_dir=tmp_path / "spool"), engine=engine,
                     identity=me.identity, clock=now)
    with TestClient(app, raise_server_exceptions=False) as client:
        def inbox() -> int:
            with me.sessions() as db:
                return int(db.execute(sa.select(sa.func.count()).select_from(InboxMessage)).scalar_one())

        for bad in (b"EVXB\x01", b"EVXB\x01\x00\x00\x00\x01\x00\x00\x00\x05abc", b"not a batch",
                    framing.pack_batch([(b"a", None)]) + b"!"):
            r = client.post("/federation/v1/batch", content=bad, headers={"Content-Type": framing.MEDIA_TYPE})
            assert r.status_code == 422 and "not an evidex batch" in r.text
        assert inbox() == 0
        items = _sealed(rs, me, 3, 100_000)  # over 64 KiB: each with its attachment
        assert all(a is not None for _, a in items)
        r = client.post("/federation/v1/batch", content=framing.pack_batch(items),
                        headers={"Content-Type": framing.MEDIA_TYPE})
        assert r.status_code == 200 and [x["status"] for x in r.json()["results"]] == [200, 200, 200]
        assert inbox() == 3
        small = _sealed(rs, me, 2, 10)
        body = {"envelopes": [e.decode() for e, _ in small], "attachments": {}}
        r = client.post("/federation/v1/batch", json=body)
        assert r.status_code == 200 and [x["status"] for x in r.json()["results"]] == [200, 200]
        # An attachment altered in transit: that message is refused (signed error), the others go in.
        items = _sealed(rs, me, 2, 100_000)
        broken = bytearray(items[1][1] or b"")
        broken[10] ^= 1
        r = client.post("/federation/v1/batch", content=framing.pack_batch([items[0], (items[1][0], bytes(broken))]),
                        headers={"Content-Type": framing.MEDIA_TYPE})
        assert [x["status"] for x in r.json()["results"]] == [200, 400]
        assert inbox() == 6
        r = client.post("/federation/v1/batch", json={"envelopes": ["x"], "attachments": {"5": base64.b64encode(b"z").decode()}})
        assert r.status_code == 422 and "attachments" in r.text  # says what a batch looks like


def test_a_body_over_the_limit_is_refused_without_reading_it_all(two_nodes, tmp_path, monkeypatch):
    """413 when the declared length is over the limit, and when a body sent without a length
    (chunked) grows past it; nothing stored."""
    from evidex.api.routes import federation

    rs, me = two_nodes
    engine = me.sessions.kw["bind"]
    app = create_app(Settings(database_url=str(engine.url.render_as_string(hide_password=False)), environment="test",
                              evidence_dir=tmp_path / "evidence", spool_dir=tmp_path / "spool"), engine=engine,
                     identity=me.identity, clock=now)
    monkeypatch.setattr(federation, "MAX_ENVELOPE_BYTES", 1000)

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(50):
            yield b"x" * 500

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/federation/v1/batch", content=b"x" * 1001, headers={"Content-Type": framing.MEDIA_TYPE})
        assert r.status_code == 413 and "too large" in r.text
        r = client.post("/federation/v1/messages", content=chunks(), headers={"Content-Type": "application/jose"})
        assert r.status_code == 413
        small = _sealed(rs, me, 1, 10)[0][0]
        monkeypatch.setattr(federation, "MAX_ENVELOPE_BYTES", 64 * 1024 * 1024)
        r = client.post("/federation/v1/messages", content=small, headers={"Content-Type": "application/jose"})
        assert r.status_code == 200, r.text  # the single-message route, through its worker thread
    with me.sessions() as db:
        assert db.execute(sa.select(sa.func.count()).select_from(InboxMessage)).scalar_one() == 1
