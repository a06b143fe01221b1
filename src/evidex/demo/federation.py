"""`evidex demo --federation`: two real nodes (RS and ME) on loopback over HTTPS play a
preservation, its follow-up mutual assistance request with an accepted condition, and a refusal
with reasons; each step is printed with its receipts. Exit 0 only if every step arrived exactly once."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pyotp
import sqlalchemy as sa

from evidex.core.settings import Settings
from evidex.demo.data import example_document
from evidex.exchange.models import InboxMessage, OutboxMessage, Receipt
from evidex.node import Node, build_node
from evidex.parties.roles import Role
from evidex.parties.service import create_user

PASSWORD = "federation demo 2026"


class DemoNode:
    _ports: ClassVar[set[int]] = set()  # handed out in this process: two nodes never get the same port

    def __init__(self, party: str, root: Path, passphrase: str, port: int | None = None) -> None:
        """`port`: the one to serve on; by default a free one the kernel hands out."""
        while port is None:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
            if port in DemoNode._ports:
                port = None
        DemoNode._ports.add(port)
        self.port = port
        self.party, self.dir = party, root / party
        self.url = f"https://127.0.0.1:{self.port}"
        self.env = {**os.environ, "EVIDEX_DATABASE_URL": f"sqlite:///{self.dir / 'evidex.db'}",
                    "EVIDEX_NODE_PARTY": party, "EVIDEX_NODE_DIR": str(self.dir / "node"),
                    "EVIDEX_NODE_KEY_PASSPHRASE": passphrase, "PYTHONIOENCODING": "utf-8",
                    # each node its own folders (not the user's default ones)
                    "EVIDEX_EVIDENCE_DIR": str(self.dir / "evidence"), "EVIDEX_SPOOL_DIR": str(self.dir / "spool")}
        self.proc: subprocess.Popen[bytes] | None = None
        self.command = [sys.executable, "-m", "evidex"]  # how `start` runs evidex (tests: with faults installed)
        self.totp: dict[str, str] = {}
        self.clients: list[httpx.Client] = []  # closed on stop: open keep-alive connections delay shutdown

    def cli(self, *args: str) -> None:
        r = subprocess.run([sys.executable, "-m", "evidex", *args], env=self.env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{self.party}: evidex {' '.join(args)}: {r.stderr.strip()}")

    def users(self, *names: tuple[str, Role]) -> None:
        with self.database() as node, node.sessions() as db:
            for name, role in names:
                u = create_user(db, username=name, display_name=name, party=self.party, role=role,
                                now=dt.datetime.now(dt.UTC), password=PASSWORD)
                self.totp[name] = u.totp_secret or ""
            db.commit()

    def database(self) -> Node:
        """This node's database (the node process's own settings, as far as the database goes)."""
        return build_node(Settings(database_url=self.env["EVIDEX_DATABASE_URL"], node_party=self.party))

    def start(self, *extra: str, probe_cert: tuple[str, str] | None = None, seconds: float = 90) -> None:
        """Start `evidex serve --tls` (plus `extra` options); `probe_cert` answers a mutual-TLS node's demand.
        Waits up to `seconds` for it to answer (on a busy machine `--workers 2` may take tens of seconds
        to start); a node that exits is reported at once."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "node.log", "ab") as log:  # the server's own log, kept beside its database
            self.proc = subprocess.Popen([*self.command, "serve", "--tls", "--port", str(self.port),
                                          "--worker-interval", "1", *extra], env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT)
        # Ready when this node itself answers: its own certificate pinned, so no other server on the port counts.
        ctx = ssl.create_default_context(cafile=str(self.dir / "node" / "tls.crt.pem"))
        ctx.check_hostname = False
        if probe_cert is not None:
            ctx.load_cert_chain(*probe_cert)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the {self.party} node exited (code {self.proc.returncode}) on port {self.port}")
            try:
                with httpx.Client(base_url=self.url, verify=ctx, timeout=5) as probe:
                    if probe.get("/api/v1/health").status_code == 200:
                        return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"the {self.party} node did not start within {seconds:.0f} s")

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        self.clients.clear()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def client(self, token: str | None = None) -> httpx.Client:
        ctx = ssl.create_default_context(cafile=str(self.dir / "node" / "tls.crt.pem"))  # pinned
        ctx.check_hostname = False
        client = httpx.Client(base_url=self.url, verify=ctx, timeout=20,
                              headers={"Authorization": f"Bearer {token}"} if token else {})
        self.clients.append(client)
        return client

    def login(self, name: str) -> httpx.Client:
        r = self.client().post("/api/v1/auth/login", json={"username": name, "password": PASSWORD,
                                                           "totp_code": pyotp.TOTP(self.totp[name]).now()})
        r.raise_for_status()
        return self.client(r.json()["token"])

    def query(self, fn: Callable[[Any], Any]) -> Any:
        with self.database() as node, node.sessions() as db:
            return fn(db)


def introduce(a: DemoNode, b: DemoNode) -> None:
    """Migrate both databases, give each node its identity, and make each trust the other."""
    for n in (a, b):
        n.cli("db", "upgrade")
        n.cli("node", "init", "--url", n.url)
    a.cli("peers", "add", str(b.dir / "node" / "node.json"))
    b.cli("peers", "add", str(a.dir / "node" / "node.json"))


def wait(check: Callable[[], Any], what: str, seconds: float = 30, detail: list[str] | None = None) -> Any:
    """Poll `check` until it returns something true; `detail` holds what to add if it never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise RuntimeError(f"timed out waiting for {what}" + (f" (last answer: {detail[-1]})" if detail else ""))


def run(echo: Callable[[str], None] = print) -> int:
    root = Path(tempfile.mkdtemp(prefix="evidex-federation-"))
    passphrase = secrets.token_urlsafe(18)
    rs, me = DemoNode("RS", root, passphrase), DemoNode("ME", root, passphrase)
    echo(f"two nodes in {root}")
    try:
        introduce(rs, me)
        rs.users(("rs-247", Role.contact_24_7), ("rs-247-b", Role.contact_24_7),
                 ("rs-ca", Role.central_authority), ("rs-ca-b", Role.central_authority))
        me.users(("me-247", Role.contact_24_7), ("me-ca", Role.central_authority))
        for n in (rs, me):
            n.start()
        echo(f"RS node {rs.url}, ME node {me.url} (HTTPS, certificates pinned through the trust list)")
        r247, r247b, rca, rcab = (rs.login(u) for u in ("rs-247", "rs-247-b", "rs-ca", "rs-ca-b"))
        m247, mca = me.login("me-247"), me.login("me-ca")
        ok = True

        def receipts(conversation: str) -> str:
            rows = rs.query(lambda db: db.execute(sa.select(Receipt.kind, Receipt.issuer, Receipt.positive)
                                                   .where(Receipt.conversation_id == conversation)).all())
            return ", ".join(sorted({f"{k}({i}{'' if p else ', negative'})" for k, i, p in rows})) or "none"

        def send(a: httpx.Client, b: httpx.Client, kind: str, ref: str, **doc_changes: Any) -> str:
            case = a.post("/api/v1/cases", json={"reference": ref, "title": kind}).json()
            doc = example_document(kind, "RS", "ME")
            doc.setdefault("elements", {}).update(doc_changes)
            rid = a.post("/api/v1/requests", json={"case_id": case["id"], "document": doc}).json()["id"]
            for who, ev in ((a, "check"), (b, "approve"), (a, "send")):
                r = who.post(f"/api/v1/requests/{rid}/transitions", json={"event": ev})
                if r.status_code != 200:
                    raise RuntimeError(f"{ev}: {r.text}")
            return str(rid)

        answers: list[str] = []  # the last unexpected answer, for the message if a wait times out

        def incoming_of(rid: str) -> dict[str, Any]:
            def find() -> dict[str, Any] | None:
                r = m247.get("/api/v1/requests?direction=incoming&limit=200")
                if r.status_code != 200:
                    answers[:] = [f"GET /api/v1/requests: HTTP {r.status_code} {r.text[:300]}"]
                    return None
                return next((x for x in r.json()["items"] if x["conversation_id"] == rid), None)

            found: dict[str, Any] = wait(find, "the request to arrive at ME", detail=answers)
            return found

        def act(client: httpx.Client, rid: str, event: str, **body: Any) -> None:
            r = client.post(f"/api/v1/requests/{rid}/transitions", json={"event": event, **body})
            if r.status_code != 200:
                raise RuntimeError(f"{event}: {r.status_code} {r.text}")

        def status_of(client: httpx.Client, rid: str) -> str | None:
            r = client.get(f"/api/v1/requests/{rid}")
            if r.status_code != 200:  # e.g. 503 while the node is busy: asked again by the wait
                answers[:] = [f"GET /api/v1/requests/{rid}: HTTP {r.status_code} {r.text[:300]}"]
                return None
            return str(r.json()["status"])

        def rs_status(client: httpx.Client, rid: str, status: str) -> None:
            wait(lambda: status_of(client, rid) == status, f"RS: {status}", detail=answers)

        # 1. Expedited preservation (ETS185 Art 29), 24/7 to 24/7.
        p = send(r247, r247b, "preservation", "DEMO-FED-1")
        inc = incoming_of(p)
        m247.get(f"/api/v1/requests/{inc['id']}")  # opened at ME: retrieval receipt
        act(m247, inc["id"], "acknowledge")
        act(m247, inc["id"], "preserve")
        rs_status(r247, p, "preserved")
        echo(f"1. preservation RS→ME: received at ME, acknowledged, preserved; RS sees 'preserved'. receipts: {receipts(p)}")
        # 2. Its follow-up mutual assistance request, with a condition of use accepted (binding).
        f = send(rca, rcab, "mutual_assistance", "DEMO-FED-2", preservation_reference=f"RS preservation {p}")
        inc2 = incoming_of(f)
        mca.get(f"/api/v1/requests/{inc2['id']}")
        act(mca, inc2["id"], "acknowledge")
        act(mca, inc2["id"], "propose_conditions",
            conditions=[{"kind": "use_limitation", "text": "Only for the investigation VTK-KTR-1127/2026"}])
        rs_status(rca, f, "conditions_proposed")
        act(rca, f, "accept_conditions")
        wait(lambda: status_of(mca, inc2["id"]) == "conditions_accepted", "ME: conditions_accepted", detail=answers)
        for ev in ("start_execution", "execute", "transmit_data"):
            act(mca, inc2["id"], ev)
        rs_status(rca, f, "data_transmitted")
        cond = rca.get(f"/api/v1/requests/{f}/conditions").json()
        ok &= bool(cond) and cond[0]["binding"] is True
        echo(f"2. follow-up mutual assistance RS→ME: condition proposed by ME, accepted by RS (binding on both), "
             f"executed, data transmitted. receipts: {receipts(f)}")
        # 3. A refusal, with reasons and its ground.
        x = send(r247, r247b, "preservation", "DEMO-FED-3")
        inc3 = incoming_of(x)
        act(m247, inc3["id"], "refuse", reasons="The requested Party considers execution likely to prejudice "
                                                "its essential interests.", grounds=["ETS185 Art 29(5)(b)"])
        rs_status(r247, x, "refused")
        last = r247.get(f"/api/v1/requests/{x}/history").json()[-1]
        ok &= last["event"] == "record_refusal" and bool(last["reasons"])
        echo(f"3. preservation RS→ME refused with reasons (ETS185 Art 29(5)(b)); RS recorded: {last['reasons']} "
             f"receipts: {receipts(x)}")
        # Exactly once: every message delivered once, every request present once at the other node.
        wait(lambda: rs.query(lambda db: db.execute(sa.select(sa.func.count()).select_from(OutboxMessage)
                                                      .where(OutboxMessage.status != "delivered")).scalar_one()) == 0
              and me.query(lambda db: db.execute(sa.select(sa.func.count()).select_from(OutboxMessage)
                                                 .where(OutboxMessage.status != "delivered")).scalar_one()) == 0,
              "both outboxes to drain")
        sent = rs.query(lambda db: db.execute(sa.select(sa.func.count()).select_from(OutboxMessage)).scalar_one()) + \
            me.query(lambda db: db.execute(sa.select(sa.func.count()).select_from(OutboxMessage)).scalar_one())
        stored = rs.query(lambda db: db.execute(sa.select(sa.func.count()).select_from(InboxMessage)).scalar_one()) + \
            me.query(lambda db: db.execute(sa.select(sa.func.count()).select_from(InboxMessage)).scalar_one())
        at_me = len(m247.get("/api/v1/requests?direction=incoming&limit=200").json()["items"])
        ok &= sent == stored and at_me == 3
        echo(f"messages sent {sent}, stored by their receivers {stored}; requests at ME {at_me} (expected 3)")
        echo("every step arrived exactly once" if ok else "SOMETHING ARRIVED TWICE OR NOT AT ALL")
        return 0 if ok else 1
    finally:
        for n in (rs, me):
            n.stop()
