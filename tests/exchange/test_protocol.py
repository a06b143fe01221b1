"""Issue 13: the federation protocol declared. One model per message type (exchange/protocol.py), its
JSON Schema from `evidex schema message TYPE`; a payload that does not fit its type is refused with
a signed error and nothing kept; the protocol version in the signed headers (absent: an older
node, version 1); the receiver hashes and keeps the payload's bytes as the sender signed them.
On SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import json

import jsonschema
import pytest
import rfc8785
import sqlalchemy as sa
from joserfc import jwe, jws
from joserfc.jwk import OKPKey

from evidex.audit.models import AuditEntry
from evidex.exchange import envelope, protocol
from evidex.exchange import service as exchange
from evidex.exchange.envelope import Headers, seal
from evidex.exchange.models import InboxMessage, OutboxBody, OutboxMessage
from tests.conftest import run_cli
from tests.exchange.conftest import two_nodes  # noqa: F401  (the fixture)
from tests.exchange.test_faults import count, now, send_request
from tests.factories import document as example_document


def test_every_message_type_has_a_json_schema_and_only_those():
    r = run_cli("schema", "message")
    assert r.returncode == 2 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert all(t in r.stderr for t in protocol.MESSAGE_TYPES) and "Traceback" not in r.stderr
    r = run_cli("schema", "message", "pizza_order")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "'pizza_order'" in r.stderr
    for t in ("request", "decision", "evidence_manifest"):
        r = run_cli("schema", "message", t)
        assert r.returncode == 0, r.stderr
        schema = json.loads(r.stdout)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"].endswith(f":message:{t}")
    assert json.loads(run_cli("schema", "message", "decision").stdout)["required"] == ["event"]


def test_what_a_node_sends_fits_the_printed_schema(two_nodes):  # noqa: F811
    rs, _ = two_nodes
    send_request(rs)
    with rs.sessions() as db:
        msg = db.execute(sa.select(OutboxMessage)).scalar_one()
        body = db.get(OutboxBody, msg.id).body
    assert msg.type == "request" and msg.headers["protocol_version"] == protocol.PROTOCOL_VERSION
    assert body == rfc8785.dumps(json.loads(body))  # what is signed and sent is RFC 8785
    assert msg.payload_sha256 == hashlib.sha256(body).hexdigest()
    schema = json.loads(run_cli("schema", "message", "request").stdout)
    jsonschema.validate(json.loads(body), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"request_type": "preservation"}, schema)  # no document


def test_a_node_never_queues_what_it_would_refuse(two_nodes):  # noqa: F811
    rs, _ = two_nodes
    with rs.sessions() as db:
        with pytest.raises(exchange.FederationError, match="event"):
            exchange.enqueue(db, node=rs.identity, recipient="ME", type="decision", conversation_id="c",
                             payload={"event": 7}, now=now())
        with pytest.raises(exchange.FederationError, match="pizza"):
            exchange.enqueue(db, node=rs.identity, recipient="ME", type="pizza", conversation_id="c",
                             payload={}, now=now())
        db.rollback()
    assert count(rs, OutboxMessage) == 0


def _receive(me, token: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    from evidex.exchange import flows

    with me.sessions() as db:
        return exchange.receive(db, node=me.identity, envelope=token.encode("ascii"), now=now(),
                                apply=flows.applier(me.identity, me.law))


def _signed_error(rs, body: str) -> dict:  # type: ignore[no-untyped-def]
    with rs.sessions() as db:
        return exchange.verify_receipt(body, trust=exchange.load_trust(db), party="ME", at=now())


def test_a_payload_that_does_not_fit_its_type_gets_a_signed_refusal_and_nothing_is_kept(two_nodes):  # noqa: F811
    rs, me = two_nodes
    for type_, payload, field in (("decision", {"event": 7, "reasons": "x"}, "event"),
                                  ("request", {"document": "not an object"}, "document"),
                                  ("receipt", {"kind": "retrieval"}, "token"),
                                  ("evidence_manifest", {"manifest": {"files": []}, "signature": "x",
                                                         "transfer_key": "y"}, "manifest")):
        h = Headers.new(sender="RS", recipient="ME", type=type_, conversation_id="c-1", now=now())
        status, body = _receive(me, seal(payload=payload, headers=h, sender=rs.identity,
                                         recipient_encryption_jwk=me.identity.encryption_jwk))
        claims = _signed_error(rs, body)
        assert status == 400 and claims["error"] == "invalid_payload" and claims["msg_id"] == h.msg_id
        assert f"not a valid {type_} message" in claims["detail"] and field in claims["detail"]
        assert "not an object" not in claims["detail"]  # names the field, never echoes the input
    assert count(me, InboxMessage) == 0
    with me.sessions() as db:
        rejected = db.execute(sa.select(AuditEntry.details).where(AuditEntry.action == "federation.reject")).scalars()
        assert [d["reason"] for d in rejected] == ["invalid_payload"] * 4


def test_a_newer_protocol_version_is_refused_by_name(two_nodes):  # noqa: F811
    rs, me = two_nodes
    h = Headers.new(sender="RS", recipient="ME", type="request", conversation_id="c-2", now=now())
    newer = h.model_copy(update={"protocol_version": protocol.PROTOCOL_VERSION + 1})
    status, body = _receive(me, seal(payload={"document": example_document("preservation", "RS", "ME")},
                                     headers=newer, sender=rs.identity,
                                     recipient_encryption_jwk=me.identity.encryption_jwk))
    assert status == 400 and _signed_error(rs, body)["error"] == "unsupported_version"
    assert count(me, InboxMessage) == 0


def _as_an_older_node_seals(rs, me, evx: dict, body: bytes) -> str:  # type: ignore[no-untyped-def]
    """An envelope as nodes before the declared protocol sealed it: no protocol_version in the signed
    headers, and the payload's bytes as that node wrote them (here not RFC 8785: spaces, key order)."""
    signed = jws.serialize_compact({"alg": "Ed25519", "kid": rs.identity.signing_jwk["kid"], "typ": "evidex+jws",
                                    "evx": evx}, body, rs.identity.signing_okp(), registry=envelope.JWS_REGISTRY)
    return jwe.encrypt_compact({"alg": envelope.KEY_WRAP_ALG, "enc": envelope.CONTENT_ALG, "evx_from": "RS",
                                "evx_to": "ME"}, signed.encode("ascii"), OKPKey.import_key(me.identity.encryption_jwk),
                               registry=envelope.JWE_REGISTRY)


def test_an_older_node_is_understood_and_its_bytes_kept_as_signed(two_nodes):  # noqa: F811
    rs, me = two_nodes
    evx = Headers.new(sender="RS", recipient="ME", type="request", conversation_id="c-3", now=now()).model_dump()
    del evx["protocol_version"]
    body = json.dumps({"request_type": "preservation", "document": example_document("preservation", "RS", "ME"),
                       "added_later": {"x": 1.0}}, ensure_ascii=True).encode("ascii")
    status, receipt = _receive(me, _as_an_older_node_seals(rs, me, evx, body))
    assert status == 200, receipt
    with rs.sessions() as db:
        claims = exchange.verify_receipt(receipt, trust=exchange.load_trust(db), party="ME", at=now())
    assert claims["payload_sha256"] == hashlib.sha256(body).hexdigest()  # over the bytes signed, not re-encoded
    with me.sessions() as db:
        row = db.execute(sa.select(InboxMessage)).scalar_one()
        assert exchange.inbox_body(row, me.spool) == body and row.headers["protocol_version"] == 1
