"""Exchange benchmark between two real nodes on loopback (HTTPS, pinned certificates):

* sustained messages per second and p99 delivery latency (enqueue → signed delivery receipt
  stored) for 1 KiB and 1 MiB payloads, beside a plain HTTPS POST of the same payloads to a
  do-nothing endpoint, measured in the same run;
* the time to drain a backlog of 10,000 messages after the receiver comes back.

Aim: at least half the plain-POST rate. The sending node delivers from this process (as `evidex
worker` does); the receiving node runs `evidex serve --tls --workers N` (one API process per core,
as production runs it; `--receiver-workers 1` for a single process). Baseline and evidex take
turns (`--rounds`) and the verdict compares medians: this VM's speed drifts by 2-3x within minutes.

    .venv/bin/python bench/exchange_bench.py [--small 3000] [--large 240] [--rounds 3] [--backlog 10000]
                                             [--receiver-workers 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from evidex.core.db import make_sessionmaker  # noqa: E402
from evidex.core.memory import retain_freed_memory  # noqa: E402
from evidex.demo.federation import DemoNode, introduce  # noqa: E402
from evidex.exchange import keys  # noqa: E402
from evidex.exchange import service as exchange  # noqa: E402
from evidex.exchange.models import OutboxMessage  # noqa: E402
from procstat import cpu_seconds  # noqa: E402

PLAIN_APP = textwrap.dedent('''
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))] * 1000 if values else float("nan")


def enqueue(sessions, node, n: int, size: int) -> None:  # type: ignore[no-untyped-def]
    blob = "x" * size
    now = dt.datetime.now(dt.UTC)
    with sessions() as db:
        for i in range(n):
            exchange.enqueue(db, node=node, recipient="ME", type="data_transmitted",
                             conversation_id=f"bench-{uuid.uuid4()}", payload={"i": i, "blob": blob}, now=now)
        db.commit()


def drain(sessions, node) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    while True:
        r = exchange.deliver_once(sessions, node, dt.datetime.now(dt.UTC), limit=1000,
                                  clock=lambda: dt.datetime.now(dt.UTC))
        with sessions() as db:
            left = db.execute(sa.select(sa.func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.status == "pending")).scalar_one()
        if left == 0:
            return time.perf_counter() - t0
        if r.delivered == 0:
            time.sleep(0.2)


def latencies(sessions) -> list[float]:  # type: ignore[no-untyped-def]
    with sessions() as db:
        rows = db.execute(sa.select(OutboxMessage.created_at, OutboxMessage.delivered_at)
                          .where(OutboxMessage.status == "delivered")).all()
        db.execute(sa.delete(OutboxMessage))
        db.commit()
    return [(d - c).total_seconds() for c, d in rows]


def plain_rate(url: str, cafile: str, n: int, size: int) -> tuple[float, list[float]]:
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    body = b"x" * size
    times = []
    with httpx.Client(verify=ctx, timeout=60) as c:
        t0 = time.perf_counter()
        for _ in range(n):
            t = time.perf_counter()
            c.post(url, content=body).raise_for_status()
            times.append(time.perf_counter() - t)
        wall = time.perf_counter() - t0
    return n / wall, times


def durable_write_rate(folder: Path, n: int, size: int, group: int) -> float:
    """Messages per second the disk itself takes durably: the same bytes written and fdatasync'd
    `group` messages at a time (as a receiver commits a batch). A node that stores each message
    before it answers with a delivery receipt cannot go faster than this."""
    body = b"x" * size
    path = folder / "durable-write-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        t0 = time.perf_counter()
        for k in range(n):
            os.write(fd, body)
            if (k + 1) % group == 0 or k == n - 1:
                os.fdatasync(fd)
        return n / (time.perf_counter() - t0)
    finally:
        os.close(fd)
        path.unlink()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=3000, help="1 KiB messages")
    ap.add_argument("--large", type=int, default=240, help="1 MiB messages")
    ap.add_argument("--backlog", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3, help="turns of baseline and evidex per payload size")
    ap.add_argument("--in-flight", type=int, default=exchange.BATCHES_IN_FLIGHT, help="batches the sender has in flight")
    ap.add_argument("--receiver-workers", type=int, default=min(2, os.cpu_count() or 1),
                    help="API processes of the receiving node (`evidex serve --workers`, one per core as the "
                         "README says production runs it; default: 2, or 1 on one core)")
    args = ap.parse_args()
    retain_freed_memory()  # this process delivers the outbox, as `evidex serve` and `evidex worker` do
    exchange.BATCHES_IN_FLIGHT = args.in_flight
    root = Path(tempfile.mkdtemp(prefix="evidex-xbench-"))
    passphrase = "exchange bench passphrase"
    rs, me = DemoNode("RS", root, passphrase), DemoNode("ME", root, passphrase)
    plain = None
    try:
        introduce(rs, me)
        workers = ("--workers", str(args.receiver_workers)) if args.receiver_workers > 1 else ()
        me.start(*workers)
        from evidex.core.db import make_engine

        engine = make_engine(rs.env["EVIDEX_DATABASE_URL"])
        sessions = make_sessionmaker(engine)
        node = keys.load(rs.dir / "node", passphrase.encode())
        # A do-nothing HTTPS endpoint with the same certificate: the baseline.
        (root / "plain_app.py").write_text(PLAIN_APP)
        pport = free_port()
        plain = subprocess.Popen([sys.executable, "-m", "uvicorn", "plain_app:app", "--port", str(pport),
                                  "--ssl-certfile", str(me.dir / "node" / "tls.crt.pem"),
                                  "--ssl-keyfile", str(me.dir / "node" / "tls.key.pem"), "--log-level", "warning"],
                                 cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        cafile = str(me.dir / "node" / "tls.crt.pem")
        print("two nodes on loopback, HTTPS with pinned certificates; one delivery worker; SQLite; "
              f"receiving node: {args.receiver_workers} API process(es)")
        for label, n, size in (("1 KiB", args.small, 1024), ("1 MiB", args.large, 1024 * 1024)):
            # This VM's speed drifts by 2-3x within minutes: the baseline and evidex take turns, and
            # the verdict compares their medians, not one run of each at different moments.
            base_rates, rates, base_t, lat, sender_cpu, receiver_cpu = [], [], [], [], 0.0, 0.0
            for _ in range(args.rounds):
                base_rate, times = plain_rate(f"https://127.0.0.1:{pport}/", cafile, n, size)
                base_rates.append(base_rate)
                base_t += times
                enqueue(sessions, node, n, size)
                # this process delivers (not its children: the receiving node and the plain server)
                sender0, receiver0 = cpu_seconds(os.getpid(), False), cpu_seconds(me.proc.pid)  # type: ignore[union-attr]
                rates.append(n / drain(sessions, node))
                sender_cpu += (cpu_seconds(os.getpid(), False) - sender0) / (n * args.rounds) * 1000
                receiver_cpu += (cpu_seconds(me.proc.pid) - receiver0) / (n * args.rounds) * 1000  # type: ignore[union-attr]
                lat += latencies(sessions)
            base_rate, rate = statistics.median(base_rates), statistics.median(rates)
            print(f"\n[{label} payloads, {n} messages, {args.rounds} rounds taking turns]")
            print(f"  plain HTTPS POST:  {base_rate:8.1f} msg/s   p50 {pct(base_t, 50):7.1f} ms   p99 {pct(base_t, 99):7.1f} ms"
                  f"   (rounds: {', '.join(f'{x:.0f}' for x in base_rates)})")
            print(f"  evidex exchange:   {rate:8.1f} msg/s   delivery latency p50 {pct(lat, 50):7.1f} ms   "
                  f"p99 {pct(lat, 99):7.1f} ms   (enqueue → signed receipt; all enqueued at once)"
                  f"   (rounds: {', '.join(f'{x:.0f}' for x in rates)})")
            print(f"  evidex / plain:    {rate / base_rate:.2f}   (medians; aim >= 0.50) "
                  f"{'MET' if rate / base_rate >= 0.5 else 'NOT MET'}")
            print(f"  CPU per message:   sending node {sender_cpu:.2f} ms, receiving node {receiver_cpu:.2f} ms "
                  f"({os.cpu_count()} cores shared by both nodes and the load)")
            floor = durable_write_rate(me.dir, n, size, max(1, min(200, exchange.BATCH_BYTES // size)))
            print(f"  the disk alone:    {floor:8.1f} msg/s   (the same bytes appended and fdatasync'd a batch at a "
                  f"time: what durable storage itself allows; evidex / disk {rate / floor:.2f})")
        # Backlog: the receiver is down while messages pile up, then comes back.
        me.stop()
        enqueue(sessions, node, args.backlog, 1024)
        r = exchange.deliver_once(sessions, node, dt.datetime.now(dt.UTC), limit=50)  # fails: receiver down
        with sessions() as db:  # retry now, not after the backoff, once the receiver is back
            db.execute(sa.update(OutboxMessage).values(next_attempt_at=dt.datetime.now(dt.UTC)))
            db.commit()
        me.start(*workers)
        wall = drain(sessions, node)
        lat = latencies(sessions)
        print(f"\n[backlog of {args.backlog} 1 KiB messages after the receiver came back]")
        print(f"  drained in {wall:.1f} s ({args.backlog / wall:.0f} msg/s); first pass while down: {r.retried} "
              f"retry, {r.delivered} delivered; exactly once: "
              f"{me.query(lambda db: db.execute(sa.text('select count(*) from inbox')).scalar_one()) == args.rounds * (args.small + args.large) + args.backlog}")
        engine.dispose()
        return 0
    finally:
        me.stop()
        rs.stop()
        if plain is not None:
            plain.terminate()
            plain.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
