"""Two real node processes (RS and ME) on loopback over HTTPS with pinned certificates: a request
sent, delivered, opened and acknowledged across nodes, with signed receipts, exactly once."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from evidex.core.db import make_engine, make_sessionmaker
from evidex.core.settings import Settings
from evidex.demo.federation import DemoNode, introduce, wait
from evidex.exchange import keys
from evidex.exchange import service as exchange
from evidex.exchange.models import InboxMessage, OutboxMessage, Receipt
from evidex.exchange.spool import Spool
from evidex.parties.roles import Role
from tests.conftest import ROOT, run_cli
from tests.exchange.conftest import _drop, _url
from tests.factories import document as example_document
from tests.faulty_node import command as faulty
from tests.servers import free_port

pytestmark = pytest.mark.slow  # long-running: started first by parallel runs (tests/conftest.py)

PASSPHRASE = "node key passphrase 2026"


class Node(DemoNode):
    """A node process for the tests: the demo's node, plus a CLI that returns its result and reads of
    its database."""

    def __init__(self, party: str, tmp: Path) -> None:
        super().__init__(party, tmp, PASSPHRASE, port=free_port())  # a port no other test process is handed

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[override]
        r = run_cli(*args, env=self.env)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r

    add_users = DemoNode.users

    def login_new(self, name: str) -> httpx.Client:
        self.users((name, Role.contact_24_7))
        return self.login(name)

    def rows(self, model, *where):  # type: ignore[no-untyped-def]
        return self.query(lambda db: list(db.execute(sa.select(model).where(*where)).scalars()))


def wait_for(check, what: str, seconds: float = 60):  # type: ignore[no-untyped-def]
    """`check()` once true. Generous (only a failing test waits it out): the machine may be loaded by a parallel run."""
    try:
        return wait(check, what, seconds)
    except RuntimeError as e:
        pytest.fail(str(e))


@pytest.fixture(params=["sqlite", "postgresql"])
def pair(request, tmp_path):
    """Two nodes (not started), each with its own database of the parametrised kind."""
    made: list[str] = []
    rs, me = Node("RS", tmp_path), Node("ME", tmp_path)
    for n in (rs, me):
        n.env["EVIDEX_DATABASE_URL"] = _url(request.param, tmp_path, n.party, made)
    yield rs, me
    for n in (rs, me):
        n.stop()
    _drop(made)


@pytest.fixture
def nodes(pair):
    rs, me = pair
    introduce(rs, me)
    rs.add_users(("rs-247", Role.contact_24_7), ("rs-247-b", Role.contact_24_7))
    me.add_users(("me-247", Role.contact_24_7))
    for n in (rs, me):
        n.start()
    return rs, me


def test_a_request_crosses_nodes_with_receipts_exactly_once(nodes):
    rs, me = nodes
    a, b = rs.login("rs-247"), rs.login("rs-247-b")
    case = a.post("/api/v1/cases", json={"reference": "VTK-FED-1", "title": "Phishing kit"}).json()
    doc = example_document("preservation", "RS", "ME")
    req = a.post("/api/v1/requests", json={"case_id": case["id"], "document": doc}).json()
    rid = req["id"]
    for who, event in ((a, "check"), (b, "approve"), (a, "send")):
        r = who.post(f"/api/v1/requests/{rid}/transitions", json={"event": event})
        assert r.status_code == 200, r.text
    # Submission acceptance (RS signed), then delivery (ME signed) on the sending node.
    try:
        out = wait_for(lambda: [m for m in rs.rows(OutboxMessage) if m.status == "delivered"], "delivery")
    except BaseException:
        print("OUTBOX", [(m.status, m.attempts, m.last_error) for m in rs.rows(OutboxMessage)])
        raise
    assert len(out) == 1 and out[0].conversation_id == rid
    kinds = {(x.kind, x.issuer) for x in rs.rows(Receipt, Receipt.msg_id == out[0].msg_id)}
    assert {("submission", "RS"), ("delivery", "ME")} <= kinds
    # Exactly one incoming request at ME, received, carrying the same document.
    m = me.login("me-247")
    incoming = wait_for(lambda: m.get("/api/v1/requests?direction=incoming").json()["items"], "the incoming request")
    assert len(incoming) == 1 and incoming[0]["status"] == "received"
    assert len(me.rows(InboxMessage)) == 1
    detail = m.get(f"/api/v1/requests/{incoming[0]['id']}").json()  # a person opens it: retrieval receipt
    assert detail["document"]["elements"]["custodian_or_location"] == doc["elements"]["custodian_or_location"]
    assert detail["requesting_party"] == "RS" and "acknowledge" in detail["allowed_events"]
    r = m.post(f"/api/v1/requests/{incoming[0]['id']}/transitions", json={"event": "acknowledge"})
    assert r.status_code == 200, r.text
    # The acknowledgement travels back and moves RS's request; the retrieval receipt arrives too.
    wait_for(lambda: a.get(f"/api/v1/requests/{rid}").json()["status"] == "acknowledged", "the acknowledgement")
    wait_for(lambda: [x for x in rs.rows(Receipt) if x.kind == "retrieval" and x.issuer == "ME"], "retrieval receipt")
    shown = {(x["kind"], x["issuer"]) for x in a.get(f"/api/v1/requests/{rid}/receipts").json()}
    assert {("submission", "RS"), ("delivery", "ME"), ("retrieval", "ME")} <= shown
    history = [h["event"] for h in a.get(f"/api/v1/requests/{rid}/history").json()]
    assert history == ["create", "check", "approve", "send", "record_acknowledgement"]
    status = json.loads(rs.cli("outbox", "status", "--json").stdout)
    assert {(s["recipient"], s["status"]) for s in status} == {("ME", "delivered")}
    assert rs.cli("audit", "verify").returncode == 0 and me.cli("audit", "verify").returncode == 0


@pytest.fixture
def receiver_only(pair):
    """ME serving over HTTPS; RS only as a database and keys, delivering with `evidex outbox send`."""
    rs, me = pair
    introduce(rs, me)
    rs.add_users(("rs-247", Role.contact_24_7), ("rs-247-b", Role.contact_24_7))
    me.start()
    return rs, me


def test_sender_killed_between_delivery_and_recording_it(receiver_only):
    """SIGKILL after the receiver stored the message and answered, before the sender recorded the
    receipt: the next pass sends again, the receiver answers from its inbox, nothing is duplicated."""
    from evidex.cases import service as requests
    from evidex.exchange import flows
    from evidex.exchange import keys as node_keys

    rs, me = receiver_only
    identity = node_keys.load(rs.dir / "node", PASSPHRASE.encode())
    engine = make_engine(rs.env["EVIDEX_DATABASE_URL"])
    sessions = make_sessionmaker(engine)
    law = flows.federated(requests.Law(), identity)
    now = dt.datetime.now(dt.UTC)
    with sessions() as db:
        from evidex.parties.models import User
        from evidex.parties.service import principal_of

        a, b = (principal_of(db.execute(sa.select(User).where(User.username == n)).scalar_one())
                for n in ("rs-247", "rs-247-b"))
        case = requests.create_case(db, actor=a, reference="KILL-1", title="t", now=now)
        req = requests.create_request(db, actor=a, law=law, case_id=case.id,
                                      document=example_document("preservation", "RS", "ME"), now=now)
        for who, ev in ((a, "check"), (b, "approve"), (a, "send")):
            requests.transition(db, actor=who, law=law, request_id=req.id, event=ev, now=now)
        db.commit()
    engine.dispose()
    r = subprocess.run([*faulty("outbox_after_reply"), "outbox", "send", "--once"], env=rs.env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert [m.status for m in rs.rows(OutboxMessage)] == ["pending"]  # the sender never recorded it
    assert len(me.rows(InboxMessage)) == 1  # but the receiver has it, durably
    rs.cli("outbox", "send", "--once")
    assert [m.status for m in rs.rows(OutboxMessage)] == ["delivered"]
    assert len(me.rows(InboxMessage)) == 1
    m = me.login_new("me-247")
    assert len(m.get("/api/v1/requests?direction=incoming").json()["items"]) == 1
    assert len([x for x in rs.rows(Receipt) if x.kind == "delivery" and x.issuer == "ME"]) == 1


def test_evidex_demo_federation_exits_0():
    r = subprocess.run([sys.executable, "-m", "evidex", "demo", "--federation"], cwd=ROOT, capture_output=True,
                       text=True, timeout=300, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "every step arrived exactly once" in r.stdout
    for step in ("1. preservation", "2. follow-up mutual assistance", "3. preservation RS→ME refused"):
        assert step in r.stdout
    assert "delivery(ME)" in r.stdout and "retrieval(ME)" in r.stdout and "submission(RS)" in r.stdout


def receiver_killed(me: Node) -> None:
    """ME, started with a fault installed (tests/faulty_node.py), has killed itself (SIGKILL) at that point."""
    wait_for(lambda: me.proc is not None and me.proc.poll() is not None, "the receiver to die")
    assert me.proc is not None and me.proc.returncode == -signal.SIGKILL


def receiver_back(rs: Node, me: Node) -> None:
    """ME started again without the crash; RS's next pass delivers what it still holds."""
    me.command = [sys.executable, "-m", "evidex"]
    me.start()
    wait_for(lambda: [m for m in rs.rows(OutboxMessage) if m.status == "delivered"], "the retry", seconds=60)


def test_receiver_killed_after_storing_before_replying(pair):
    """ME stores the message, then dies (SIGKILL) before answering; RS retries once ME is back and
    gets the stored receipt: one message, one request, one receipt."""
    rs, me = pair
    introduce(rs, me)
    rs.add_users(("rs-247", Role.contact_24_7), ("rs-247-b", Role.contact_24_7))
    me.command = faulty("receive_after_store")
    me.start()
    try:
        rs.start()
        a, b = rs.login("rs-247"), rs.login("rs-247-b")
        case = a.post("/api/v1/cases", json={"reference": "CRASH-1", "title": "t"}).json()
        rid = a.post("/api/v1/requests", json={"case_id": case["id"],
                                               "document": example_document("preservation", "RS", "ME")}).json()["id"]
        for who, ev in ((a, "check"), (b, "approve"), (a, "send")):
            assert who.post(f"/api/v1/requests/{rid}/transitions", json={"event": ev}).status_code == 200
        receiver_killed(me)
        assert len(me.rows(InboxMessage)) == 1  # stored before dying
        assert [m.status for m in rs.rows(OutboxMessage)] == ["pending"]
        receiver_back(rs, me)
        assert len(me.rows(InboxMessage)) == 1
        m = me.login_new("me-247")
        assert len(m.get("/api/v1/requests?direction=incoming").json()["items"]) == 1
        assert len([x for x in rs.rows(Receipt) if x.kind == "delivery" and x.issuer == "ME"]) == 1
    finally:
        rs.stop()
        me.stop()


def test_receiver_killed_between_spool_and_commit(pair):
    """A large payload: ME writes it to its spool, then dies (SIGKILL) before its transaction commits.
    Nothing is received; the file left behind is the one the retry writes again (same name): after
    the retry one message, one file, the bytes that were signed."""
    rs, me = pair
    introduce(rs, me)
    engine = make_engine(rs.env["EVIDEX_DATABASE_URL"])
    blob = "evidence " * 40_000  # 360 kB: over the spool threshold
    with make_sessionmaker(engine)() as db:
        msg = exchange.enqueue(db, node=keys.load(rs.dir / "node", PASSPHRASE.encode()), recipient="ME",
                               type="data_transmitted", conversation_id="spool-crash", payload={"blob": blob},
                               now=dt.datetime.now(dt.UTC))
        msg_id, sha = msg.msg_id, msg.payload_sha256
        db.commit()
    engine.dispose()
    spool = me.dir / "spool"
    me.command = faulty("receive_after_spool")
    me.start()
    try:
        rs.start()
        receiver_killed(me)
        assert me.rows(InboxMessage) == []  # not committed: not received
        assert sorted(os.listdir(spool)) == sorted([Spool.name(msg_id, sha), ".lock"])  # written whole, by id and content
        receiver_back(rs, me)
        stored = me.rows(InboxMessage)
        assert len(stored) == 1 and stored[0].body_file == Spool.name(msg_id, sha)
        assert me.query(lambda db: db.execute(sa.select(InboxMessage.body)).scalar_one()) is None
        assert sorted(os.listdir(spool)) == sorted([stored[0].body_file, ".lock"])
        # The bytes that were signed, sealed at rest under the node secret (exchange/sealed.py).
        assert hashlib.sha256(Spool.of_node(Settings(spool_dir=spool)).read(stored[0].body_file)).hexdigest() == sha
        assert b"evidence evidence" not in (spool / stored[0].body_file).read_bytes()
        assert len([x for x in rs.rows(Receipt) if x.kind == "delivery" and x.issuer == "ME"]) == 1
        # An orphan of some other interrupted batch, two hours old: the worker removes it, not the named file.
        orphan = spool / Spool.name("interrupted", "0" * 64)
        orphan.write_bytes(b"{}")
        old = time.time() - 7200
        for path in (orphan, spool / stored[0].body_file):
            os.utime(path, (old, old))
        assert "spool: 1 orphan file(s) removed" in me.cli("worker", "--once").stdout
        assert sorted(os.listdir(spool)) == sorted([stored[0].body_file, ".lock"])
    finally:
        rs.stop()
        me.stop()


def test_mutual_tls_lets_only_the_trusted_nodes_in(tmp_path):
    """ME's federation endpoint demands a client certificate from its trust list: RS's node presents
    its own and delivers; a client without one, or with a stranger's, cannot even connect."""
    from evidex.exchange import keys as node_keys

    rs, me = Node("RS", tmp_path), Node("ME", tmp_path)
    introduce(rs, me)
    rs.add_users(("rs-247", Role.contact_24_7), ("rs-247-b", Role.contact_24_7))
    rs_cert = (str(rs.dir / "node" / "tls.crt.pem"), str(rs.dir / "node" / "tls.key.pem"))
    me.start("--mtls", probe_cert=rs_cert)
    try:
        rs.start()
        with pytest.raises(httpx.HTTPError):
            me.client().get("/api/v1/health")  # no client certificate: the handshake fails
        cert, key = node_keys.tls_certificate("XX", me.url)
        (tmp_path / "x.crt").write_bytes(cert)
        (tmp_path / "x.key").write_bytes(key)
        ctx = ssl.create_default_context(cafile=str(me.dir / "node" / "tls.crt.pem"))
        ctx.check_hostname = False
        ctx.load_cert_chain(str(tmp_path / "x.crt"), str(tmp_path / "x.key"))
        with pytest.raises(httpx.HTTPError), httpx.Client(base_url=me.url, verify=ctx) as stranger:
            stranger.get("/api/v1/health")  # a certificate, but not one of ME's peers
        a, b = rs.login("rs-247"), rs.login("rs-247-b")
        case = a.post("/api/v1/cases", json={"reference": "MTLS-1", "title": "t"}).json()
        rid = a.post("/api/v1/requests", json={"case_id": case["id"],
                                               "document": example_document("preservation", "RS", "ME")}).json()["id"]
        for who, ev in ((a, "check"), (b, "approve"), (a, "send")):
            assert who.post(f"/api/v1/requests/{rid}/transitions", json={"event": ev}).status_code == 200
        wait_for(lambda: [m for m in rs.rows(OutboxMessage) if m.status == "delivered"], "delivery over mutual TLS")
        assert len(me.rows(InboxMessage)) == 1
    finally:
        me.stop()
        rs.stop()


def test_production_shape_api_workers_and_a_separate_worker_process(pair):
    """RS as production runs it: `serve --workers 2 --worker-interval 0` (API processes only) beside
    `evidex worker` (deadlines, outbox): the request still reaches ME and the answer comes back."""
    rs, me = pair
    introduce(rs, me)
    rs.add_users(("rs-247", Role.contact_24_7), ("rs-247-b", Role.contact_24_7))
    me.add_users(("me-247", Role.contact_24_7))
    me.start()
    rs.start("--worker-interval", "0", "--workers", "2")
    a, b = rs.login("rs-247"), rs.login("rs-247-b")
    case = a.post("/api/v1/cases", json={"reference": "VTK-PROD-1", "title": "Ransomware"}).json()
    rid = a.post("/api/v1/requests", json={"case_id": case["id"],
                                           "document": example_document("preservation", "RS", "ME")}).json()["id"]
    for who, event in ((a, "check"), (b, "approve"), (a, "send")):
        assert who.post(f"/api/v1/requests/{rid}/transitions", json={"event": event}).status_code == 200
    time.sleep(3)  # nothing in the API processes delivers
    assert [m.status for m in rs.rows(OutboxMessage)] == ["pending"]
    worker = subprocess.Popen([sys.executable, "-m", "evidex", "worker", "--interval", "5"], env=rs.env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: [m for m in rs.rows(OutboxMessage) if m.status == "delivered"], "delivery by the worker")
        m = me.login("me-247")
        incoming = wait_for(lambda: m.get("/api/v1/requests?direction=incoming").json()["items"], "the request at ME")
        assert m.post(f"/api/v1/requests/{incoming[0]['id']}/transitions",
                      json={"event": "acknowledge"}).status_code == 200
        wait_for(lambda: a.get(f"/api/v1/requests/{rid}").json()["status"] == "acknowledged", "the acknowledgement")
    finally:
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0 and "outbox and evidence packages every 2 s" in out, out
    assert len(me.rows(InboxMessage)) == 1
