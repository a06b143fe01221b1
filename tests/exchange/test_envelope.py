"""Envelopes: signed (Ed25519) then encrypted (ECDH-ES+A256KW, A256GCM); every fault rejected with
its own reason; interoperable with jwcrypto, an independent JOSE implementation, both ways."""

from __future__ import annotations

import datetime as dt
import json
import stat

import pytest
from jwcrypto import jwe as jc_jwe
from jwcrypto import jwk as jc_jwk
from jwcrypto import jws as jc_jws
from jwcrypto.common import json_encode

from evidex.exchange import keys
from evidex.exchange.envelope import (
    BadSignature,
    ExpiredKey,
    Headers,
    Malformed,
    OutsideWindow,
    Replay,
    RevokedKey,
    Undecryptable,
    UnknownKey,
    UnknownType,
    WrongRecipient,
    open_envelope,
    seal,
)
from evidex.exchange.trust import PeerKey, TrustList

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
RS, ME, SI = keys.generate("RS", "https://127.0.0.1:9101"), keys.generate("ME", "https://127.0.0.1:9102"), \
    keys.generate("SI", "https://127.0.0.1:9103")
YEAR = dt.timedelta(days=365)


def trust(*identities, revoked=None, until=None):
    t = TrustList()
    for i in identities:
        for jwk in (i.signing_jwk, i.encryption_jwk):
            t.add(PeerKey(i.party, jwk, NOW - YEAR, until or NOW + YEAR, revoked))
    return t


def sealed(sender=RS, recipient=ME, *, type="request", to=None, at=NOW, payload=None):
    h = Headers.new(sender=sender.party, recipient=to or recipient.party, type=type, conversation_id="req-1", now=at,
                    issuing_authority="Special Prosecutor's Office for High-Tech Crime")
    return h, seal(payload=payload or {"document": {"type": "preservation"}}, headers=h, sender=sender,
                   recipient_encryption_jwk=recipient.encryption_jwk)


def receive(token, *, me=ME, t=None, now=NOW, seen=lambda m: False):
    return open_envelope(token, me=me, trust=t or trust(RS, ME), now=now, seen=seen)


def test_round_trip_carries_all_headers():
    h, token = sealed()
    got, payload = receive(token)
    assert got == h and payload == {"document": {"type": "preservation"}}
    assert token.count(".") == 4 and "preservation" not in token  # nothing readable in between


def test_long_headers_and_a_1_mib_payload():
    h = Headers.new(sender="RS", recipient="ME", type="request", conversation_id="c" * 64, now=NOW,
                    issuing_authority="Специјално тужилаштво за високотехнолошки криминал, Београд " * 4)
    payload = {"document": {"elements": {"facts_summary": "x" * (1024 * 1024)}}}
    token = seal(payload=payload, headers=h, sender=RS, recipient_encryption_jwk=ME.encryption_jwk)
    got, back = receive(token)
    assert got == h and back == payload


def test_tampered_ciphertext():
    _, token = sealed()
    parts = token.split(".")
    parts[3] = parts[3][:-2] + ("A" if parts[3][-2] != "A" else "B") + parts[3][-1]
    with pytest.raises(Undecryptable):
        receive(".".join(parts))


def test_not_for_this_node():
    _, token = sealed(recipient=SI)
    with pytest.raises(Undecryptable):
        receive(token)


def test_wrong_recipient_in_the_signed_headers():
    _, token = sealed(to="SI")  # encrypted for ME's key, but addressed to SI
    with pytest.raises(WrongRecipient):
        receive(token)


def test_unknown_signer():
    _, token = sealed(sender=SI)
    with pytest.raises(UnknownKey):
        receive(token)


def test_forged_signature_with_a_registered_key_id():
    """A stolen mailbox: the forger knows RS's key id but not its private key."""
    forger = keys.NodeIdentity(party="RS", url="", signing=keys.generate("RS", "").signing, encryption=RS.encryption)
    h = Headers.new(sender="RS", recipient="ME", type="request", conversation_id="x", now=NOW)
    from joserfc import jws as jf_jws

    from evidex.exchange import envelope as E

    protected = {"alg": "Ed25519", "kid": RS.signing_jwk["kid"], "typ": "evidex+jws", "evx": h.__dict__}
    signed = jf_jws.serialize_compact(protected, b'{"emergency": true}', forger.signing_okp(), registry=E.JWS_REGISTRY)
    from joserfc import jwe as jf_jwe
    from joserfc.jwk import OKPKey

    token = jf_jwe.encrypt_compact({"alg": E.KEY_WRAP_ALG, "enc": E.CONTENT_ALG, "evx_from": "RS", "evx_to": "ME"},
                                   signed.encode(), OKPKey.import_key(ME.encryption_jwk), registry=E.JWE_REGISTRY)
    with pytest.raises(BadSignature):
        receive(token)


def test_revoked_and_expired_keys_and_rotation():
    _, token = sealed()
    with pytest.raises(RevokedKey):
        receive(token, t=trust(RS, ME, revoked=NOW - dt.timedelta(hours=1)))
    with pytest.raises(ExpiredKey):
        receive(token, t=trust(RS, ME, until=NOW - dt.timedelta(seconds=1)))
    # After rotation a stored message still verifies as of the time it was received.
    t = trust(RS, ME, until=NOW + dt.timedelta(minutes=1))
    assert receive(token, t=t)[0].sender == "RS"


def test_replay_and_time_window():
    h, token = sealed()
    with pytest.raises(Replay):
        receive(token, seen=lambda m: m == h.msg_id)
    with pytest.raises(OutsideWindow):
        receive(token, now=NOW + dt.timedelta(minutes=11))
    with pytest.raises(OutsideWindow):
        receive(token, now=NOW - dt.timedelta(minutes=11))


def test_unknown_type():
    _, token = sealed(type="pizza_order")
    with pytest.raises(UnknownType):
        receive(token)


@pytest.mark.parametrize("junk", ["", "a.b", "a.b.c.d.e", "x" * 100, b"\xff\xfe", "....."])
def test_junk_is_rejected_not_crashed(junk):
    with pytest.raises((Malformed, Undecryptable)):
        receive(junk)


def test_evidex_envelope_opened_by_jwcrypto():
    h, token = sealed()
    me_private = jc_jwk.JWK(**{**ME.encryption_jwk, "d": ME.encryption_okp().as_dict(private=True)["d"]})
    outer = jc_jwe.JWE()
    outer.deserialize(token, key=me_private)
    inner = jc_jws.JWS()
    inner.deserialize(outer.payload.decode("ascii"))
    inner.verify(jc_jwk.JWK(**RS.signing_jwk), alg="Ed25519")
    assert json.loads(inner.payload) == {"document": {"type": "preservation"}}
    assert inner.jose_header["evx"]["msg_id"] == h.msg_id


def test_jwcrypto_envelope_opened_by_evidex():
    h = Headers.new(sender="RS", recipient="ME", type="receipt", conversation_id="req-1", now=NOW)
    signer = jc_jwk.JWK(**{**RS.signing_jwk, "d": RS.signing_okp().as_dict(private=True)["d"]})
    s = jc_jws.JWS(b'{"receipt": "delivery"}')
    s.add_signature(signer, alg="Ed25519", protected=json_encode(
        {"alg": "Ed25519", "kid": RS.signing_jwk["kid"], "typ": "evidex+jws", "evx": h.__dict__}))
    e = jc_jwe.JWE(s.serialize(compact=True).encode(), protected=json_encode(
        {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "evx_from": "RS", "evx_to": "ME"}))
    e.add_recipient(jc_jwk.JWK(**ME.encryption_jwk))
    got, payload = receive(e.serialize(compact=True))
    assert got == h and payload == {"receipt": "delivery"}


def test_keys_are_encrypted_at_rest(tmp_path):
    public = keys.save(RS, tmp_path / "node", b"a long key passphrase")
    for name in (keys.SIGNING_FILE, keys.ENCRYPTION_FILE):
        data = (tmp_path / "node" / name).read_bytes()
        assert b"ENCRYPTED PRIVATE KEY" in data
        assert stat.S_IMODE((tmp_path / "node" / name).stat().st_mode) == 0o600
    loaded = keys.load(tmp_path / "node", b"a long key passphrase")
    assert loaded.signing_jwk == RS.signing_jwk and public["keys"][0]["kid"] == RS.signing_jwk["kid"]
    with pytest.raises(keys.KeyError_, match="passphrase"):
        keys.load(tmp_path / "node", b"the wrong passphrase")
    with pytest.raises(keys.KeyError_, match="refusing to overwrite"):
        keys.save(RS, tmp_path / "node", b"a long key passphrase")
    assert "BEGIN CERTIFICATE" in public["tls_certificate"]


def test_a_large_payload_travels_as_a_signed_encrypted_attachment():
    from evidex.exchange.envelope import ATTACH_OVER, seal_parts

    payload = {"document": {"type": "mutual_assistance"}, "blob": "ž" * ATTACH_OVER}
    h = Headers.new(sender="RS", recipient="ME", type="request", conversation_id="req-1", now=NOW)
    token, attachment = seal_parts(payload=payload, headers=h, sender=RS, recipient_encryption_jwk=ME.encryption_jwk)
    assert attachment is not None and len(token) < 4000  # the envelope stays small
    assert ("ž" * 16).encode() not in attachment  # the attachment is ciphertext
    got_h, got = open_envelope(token, me=ME, trust=trust(RS, ME), now=NOW, seen=lambda m: False, attachment=attachment)
    assert got == payload and got_h == h
    flipped = bytearray(attachment)
    flipped[100] ^= 1
    with pytest.raises(Undecryptable):
        open_envelope(token, me=ME, trust=trust(RS, ME), now=NOW, seen=lambda m: False, attachment=bytes(flipped))
    with pytest.raises(Malformed, match="did not come"):
        open_envelope(token, me=ME, trust=trust(RS, ME), now=NOW, seen=lambda m: False)
    # Another message's attachment does not fit this envelope (the message id is bound into it).
    h2 = Headers.new(sender="RS", recipient="ME", type="request", conversation_id="req-1", now=NOW)
    _, other = seal_parts(payload=payload, headers=h2, sender=RS, recipient_encryption_jwk=ME.encryption_jwk)
    with pytest.raises(Undecryptable):
        open_envelope(token, me=ME, trust=trust(RS, ME), now=NOW, seen=lambda m: False, attachment=other)
    _, small = sealed()
    with pytest.raises(Malformed, match="refers to none"):
        open_envelope(small, me=ME, trust=trust(RS, ME), now=NOW, seen=lambda m: False, attachment=attachment)
    # A small payload stays inside the envelope.
    assert seal_parts(payload={"a": 1}, headers=h, sender=RS, recipient_encryption_jwk=ME.encryption_jwk)[1] is None


def test_an_attachment_reference_is_closed_an_unknown_field_or_cipher_is_refused():
    """Payloads are open (unknown fields ignored); the attachment reference is not: a reference this node
    does not fully understand (another cipher, a field it does not know) must not be half-read."""
    from evidex.exchange import envelope as E

    for changed in ({"mode": "cbc"}, {"alg": "A128CBC-HS256"}):
        ref = {"alg": "A256GCM", "size": 1, "sha256": "0" * 64, "key": "AA", "nonce": "AA", **changed}
        h2 = Headers.new(sender="RS", recipient="ME", type="request", conversation_id="req-1", now=NOW)
        token = seal(payload={E.ATTACHMENT: ref}, headers=h2, sender=RS, recipient_encryption_jwk=ME.encryption_jwk)
        with pytest.raises(Malformed, match="not an attachment reference") as refused:
            open_envelope(token, me=ME, trust=trust(RS, ME), now=NOW, seen=lambda m: False, attachment=b"\0" * 32)
        assert refused.value.authenticated  # signed by RS: answered with a signed error
