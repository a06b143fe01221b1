"""Federation junk (issue 12): one unauthenticated batch of 1,000 envelopes must not write 1,000
audit entries nor make the node sign 1,000 error replies. Junk is counted per sender address and
minute and summarised by the worker, one audit entry each with the count; a real peer's refused
message still gets a signed error. Through the node's federation route (a real app, in process)
and the real `evidex worker`; SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from evidex.api.app import create_app
from evidex.audit.models import AuditEntry
from evidex.core.settings import Settings
from evidex.exchange import keys
from evidex.exchange import service as exchange
from evidex.exchange.envelope import EnvelopeRejected, Headers, seal
from evidex.exchange.models import JunkCount
from tests.conftest import ROOT, run_cli
from tests.exchange.conftest import NOW, two_nodes  # noqa: F401 (the fixture)

pytestmark = pytest.mark.slow  # long-running: started first by parallel runs (tests/conftest.py)

CLOCK = [NOW]


def _b64(n: int) -> str:
    return base64.urlsafe_b64encode(os.urandom(n)).rstrip(b"=").decode()


def junk(n: int) -> list[str]:
    """What a flood looks like: compact-JWE-shaped strings that do not decrypt."""
    return [".".join(_b64(k) for k in (40, 32, 12, 64, 16)) for _ in range(n)]


def audit_actions(me) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    with me.sessions() as db:
        return [(a, d) for a, d in db.execute(sa.select(AuditEntry.action, AuditEntry.details)
                                              .where(AuditEntry.action.like("federation.%")).order_by(AuditEntry.seq))]


@pytest.fixture
def me_app(two_nodes, tmp_path):  # noqa: F811 (the fixture imported above)
    rs, me = two_nodes
    engine = me.sessions.kw["bind"]
    app = create_app(Settings(database_url=str(engine.url.render_as_string(hide_password=False)), environment="test",
                              evidence_dir=tmp_path / "evidence", spool_dir=tmp_path / "spool"), engine=engine,
                     identity=me.identity, clock=lambda: CLOCK[0])
    CLOCK[0] = NOW
    with TestClient(app, raise_server_exceptions=False) as client:
        yield rs, me, client, str(engine.url.render_as_string(hide_password=False))


def test_a_thousand_junk_envelopes_make_one_counted_audit_entry_and_no_signature(me_app):
    rs, me, client, url = me_app
    with rs.sessions() as db:
        rs_trust = exchange.load_trust(db)  # RS holds ME's keys: what a peer checks ME's answers with
    me_key = rs_trust.encryption_jwk("ME", NOW)
    # Some of the junk decrypts (anyone can encrypt to a node's public key) but is signed by a stranger.
    stranger = keys.generate("SI", "https://127.0.0.1/SI")
    strangers = [seal(payload={"x": i}, headers=Headers.new(sender="SI", recipient="ME", type="request",
                                                            conversation_id=f"j-{i}", now=NOW),
                      sender=stranger, recipient_encryption_jwk=me_key) for i in range(10)]
    r = client.post("/federation/v1/batch", json={"envelopes": junk(990) + strangers})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == 1000 and {x["status"] for x in results} == {400, 403}
    for x in results:  # none of them is a JWS by this node: nothing was signed for junk
        assert x["body"].startswith("refused: ") and "not signed" in x["body"]
        with pytest.raises(EnvelopeRejected, match="does not verify"):
            exchange.verify_receipt(x["body"], trust=rs_trust, party="ME", at=NOW)
    # A real peer's message refused (issued outside the time window) still gets a signed error.
    old = Headers.new(sender="RS", recipient="ME", type="request", conversation_id="late", now=NOW - dt.timedelta(hours=2))
    late = seal(payload={"x": 1}, headers=old, sender=rs.identity, recipient_encryption_jwk=me_key)
    r = client.post("/federation/v1/messages", content=late)
    assert r.status_code == 400
    signed = exchange.verify_receipt(r.text, trust=rs_trust, party="ME", at=NOW)
    assert signed["error"] == "outside_window"
    CLOCK[0] = NOW + dt.timedelta(seconds=30)  # the same minute: the same counter
    assert client.post("/federation/v1/messages", content=junk(1)[0]).status_code == 400
    assert [a for a, _ in audit_actions(me)] == ["federation.reject"]  # the real peer's refusal only
    with me.sessions() as db:
        counts = [(c.address, c.count, c.summarised) for c in db.execute(sa.select(JunkCount)).scalars()]
    assert counts == [("testclient", 1001, 0)]
    # The worker, once the minute is over: one entry for that address and minute, with the count.
    later = (NOW + dt.timedelta(minutes=2)).isoformat()
    r = run_cli("worker", "--once", "--now", later, env={"EVIDEX_DATABASE_URL": url})
    assert r.returncode == 0, r.stderr
    entries = audit_actions(me)
    assert [a for a, _ in entries] == ["federation.reject", "federation.junk"]
    assert entries[1][1]["count"] == 1001 and entries[1][1]["minute"].startswith("2026-11-23T10:00")
    assert run_cli("worker", "--once", "--now", later, env={"EVIDEX_DATABASE_URL": url}).returncode == 0
    assert len(audit_actions(me)) == 2  # summarised once
    # Junk of a later minute is a new summary.
    CLOCK[0] = NOW + dt.timedelta(minutes=3)
    client.post("/federation/v1/batch", json={"envelopes": junk(5)})
    r = run_cli("worker", "--once", "--now", (NOW + dt.timedelta(minutes=5)).isoformat(),
                env={"EVIDEX_DATABASE_URL": url})
    assert r.returncode == 0, r.stderr
    assert [d.get("count") for a, d in audit_actions(me) if a == "federation.junk"] == [1001, 5]
    assert run_cli("audit", "verify", env={"EVIDEX_DATABASE_URL": url}).returncode == 0


def test_no_test_fault_switch_in_production_code():
    """Fault injection lives in tests (tests/faulty_node.py): no EVIDEX_TEST_* environment switch in src/."""
    r = subprocess.run(["grep", "-rn", "--include=*.py", "--include=*.yaml", "EVIDEX_TEST_", str(ROOT / "src" / "evidex")], capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout == "", r.stdout
    assert not [p for p in Path(ROOT / "src").rglob("*.py") if "os.kill" in p.read_text(encoding="utf-8")]
