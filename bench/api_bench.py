"""API benchmark: create → check → approve → send under a bounded concurrent load on loopback,
on SQLite and on PostgreSQL, printed beside the same server's GET /api/v1/health measured in the
same run. Aim: p99 under 50 ms on PostgreSQL at 50 concurrent clients.

    .venv/bin/python bench/api_bench.py [--clients 1,50] [--flows 300] [--backend sqlite|postgresql|both]
        [--workers 1] [--think-ms 0] [--client raw|httpx]

By default the clients send back-to-back (closed loop): at 50 clients the p99 is then bounded below
by 50 / throughput, so this reads the aim strictly. `--think-ms` makes each client pause between
calls, as people do, to read the latency at a given offered load instead.

Each backend gets a fresh database and its own `evidex serve` process (no in-process worker).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pyotp
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from evidex.core.db import make_engine, make_sessionmaker  # noqa: E402
from evidex.core.migrate import upgrade  # noqa: E402
from evidex.demo.data import example_document  # noqa: E402
from evidex.parties.roles import Role  # noqa: E402
from evidex.parties.service import create_user  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import rawhttp  # noqa: E402
from procstat import cpu_seconds  # noqa: E402

PASSWORD = "bench password 2026"
PG_ADMIN = os.environ.get("EVIDEX_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k] * 1000


def prepare(url: str) -> dict[str, str]:
    engine = make_engine(url)
    upgrade(engine)
    secrets = {}
    with make_sessionmaker(engine)() as db:
        for name in ("bench-ca-1", "bench-ca-2"):
            u = create_user(db, username=name, display_name=name, party="RS", role=Role.central_authority,
                            now=dt.datetime.now(dt.UTC), password=PASSWORD)
            secrets[name] = u.totp_secret or ""
        db.commit()
    engine.dispose()
    return secrets


async def run_load(base: str, secrets: dict[str, str], clients: int, flows: int, client: str,
                   server_pid: int, think: float = 0.0) -> dict[str, object]:
    """`clients` closed-loop clients (each its own keep-alive connection, the next call as soon as the
    last answered — or, with `think` seconds, after a pause of 0.5 to 1.5 times that, as people
    work) share the work: first GET /health, then the flows."""
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        tokens = []
        for name, secret in secrets.items():
            r = await http.post("/auth/login", json={"username": name, "password": PASSWORD,
                                                     "totp_code": pyotp.TOTP(secret).now()})
            r.raise_for_status()
            tokens.append({"Authorization": f"Bearer {r.json()['token']}"})
        first, second = tokens
        r = await http.post("/cases", json={"reference": f"BENCH-{uuid.uuid4().hex[:6]}", "title": "bench"}, headers=first)
        r.raise_for_status()
        case_id = r.json()["id"]
        doc = example_document("mutual_assistance", "RS", "SI")
        url = httpx.URL(base)
        raw = [rawhttp.Connection(url.host, url.port or 80, url.path.rstrip("/")) for _ in range(clients)]

        async def send(k: int, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> dict:
            if client == "raw":
                return (await raw[k].request(method, path, body, headers))[1]  # type: ignore[no-any-return]
            r = await http.request(method, path, json=body, headers=headers)
            r.raise_for_status()
            return r.json()  # type: ignore[no-any-return]

        async def timed(into: list[float], k: int, method: str, path: str, body: dict | None = None,
                        headers: dict | None = None) -> dict:
            """One call, after the client's pause (not measured); its time goes `into`."""
            if think:
                await asyncio.sleep(think * random.uniform(0.5, 1.5))
            t = time.perf_counter()
            out = await send(k, method, path, body, headers)
            into.append(time.perf_counter() - t)
            return out

        async def closed_loop(total: int, one: Callable[[int], Awaitable[None]]) -> float:
            left = [total]

            async def worker(k: int) -> None:
                while left[0] > 0:
                    left[0] -= 1
                    await one(k)

            t0 = time.perf_counter()
            await asyncio.gather(*(worker(k) for k in range(clients)))
            return time.perf_counter() - t0

        # Baseline: the same server's /health, same clients, four calls per flow.
        health: list[float] = []

        async def one_health(k: int) -> None:
            await timed(health, k, "GET", "/health")

        health_wall = await closed_loop(flows * 4, one_health)

        calls: dict[str, list[float]] = {"create": [], "check": [], "approve": [], "send": []}
        flow_times: list[float] = []
        errors = 0
        first_error: list[str] = []

        async def call(k: int, kind: str, path: str, body: dict, headers: dict) -> dict:
            return await timed(calls[kind], k, "POST", path, body, headers)

        async def one_flow(k: int) -> None:
            nonlocal errors
            t = time.perf_counter()
            try:
                req = await call(k, "create", "/requests", {"case_id": case_id, "document": doc}, first)
                rid = req["id"]
                await call(k, "check", f"/requests/{rid}/transitions", {"event": "check"}, first)
                await call(k, "approve", f"/requests/{rid}/transitions", {"event": "approve"}, second)
                # The bench's node trusts no other node: sent outside evidex (as `send` was, nothing leaves).
                await call(k, "send", f"/requests/{rid}/transitions", {"event": "send_outside", "means": "email"},
                           first)
                flow_times.append(time.perf_counter() - t)
            except (httpx.HTTPError, rawhttp.RawHTTPError, OSError) as e:
                errors += 1
                first_error.append(f"{type(e).__name__}: {e}"[:300])

        cpu0 = cpu_seconds(server_pid)
        wall = await closed_loop(flows, one_flow)
        server_cpu = cpu_seconds(server_pid) - cpu0
        for c in raw:
            await c.close()
    all_calls = [x for v in calls.values() for x in v]
    return {"health": health, "health_wall": health_wall, "calls": calls, "all_calls": all_calls,
            "flows": flow_times, "wall": wall, "errors": errors, "first_error": first_error[:1],
            "server_cpu": server_cpu}


def bench_backend(name: str, clients: int, flows: int, client: str = "raw", workers: int = 1,
                  think: float = 0.0) -> dict[str, object] | None:
    tmp = tempfile.mkdtemp(prefix="evidex-bench-")
    pg_db = None
    if name == "sqlite":
        url = f"sqlite:///{tmp}/bench.db"
    else:
        admin = make_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        pg_db = f"evidex_bench_{uuid.uuid4().hex[:8]}"
        try:
            with admin.connect() as c:
                c.execute(sa.text(f'CREATE DATABASE "{pg_db}"'))
        except sa.exc.OperationalError as e:
            print(f"postgresql: not reachable ({type(e).__name__}); skipped")
            return None
        url = sa.make_url(PG_ADMIN).set(database=pg_db).render_as_string(hide_password=False)
    secrets = prepare(url)
    port = free_port()
    env = {**os.environ, "EVIDEX_DATABASE_URL": url, "EVIDEX_NODE_PARTY": "RS"}
    log = open(os.environ.get("EVIDEX_BENCH_SERVER_LOG", os.devnull), "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([sys.executable, "-m", "evidex", "serve", "--port", str(port), "--worker-interval", "0",
                             "--workers", str(workers)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        return asyncio.run(run_load(base, secrets, clients, flows, client, proc.pid, think))
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
        if pg_db:
            with admin.connect() as c:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)'))
            admin.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", default="1,50", help="comma-separated concurrency levels (the aim is read at 50)")
    ap.add_argument("--flows", type=int, default=300, help="create→check→approve→send flows per backend")
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--workers", type=int, default=1, help="API worker processes of the server (`evidex serve --workers`)")
    ap.add_argument("--think-ms", type=float, default=0.0,
                    help="pause of each client between its calls (0.5-1.5x this; not measured). 0 (default): "
                         "back-to-back, the strict reading of the aim")
    ap.add_argument("--client", choices=["raw", "httpx"], default="raw",
                    help="load generator: a lean HTTP/1.1 client (default) or httpx (several times its CPU per call)")
    args = ap.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    levels = [int(x) for x in str(args.clients).split(",") if x.strip()]
    print(f"{args.flows} flows (create, check, approve, send: 4 calls each) per backend and concurrency level; "
          f"loopback; {args.workers} server process(es); the load generator shares the machine")
    print("each client sends its next call as soon as the last is answered (closed loop, no pause)" if not args.think_ms
          else f"each client pauses {args.think_ms:g} ms (0.5-1.5x) before each call: about "
               f"{1000 / args.think_ms:.1f} calls/s per client offered")
    verdict = None
    for b, clients in [(b, c) for b in backends for c in levels]:
        flows = args.flows if clients > 1 else max(20, args.flows // 10)
        r = bench_backend(b, clients, flows, args.client, args.workers, args.think_ms / 1000)
        if r is None:
            continue
        h, c, f = r["health"], r["all_calls"], r["flows"]
        assert isinstance(h, list) and isinstance(c, list) and isinstance(f, list)
        print(f"\n[{b}, {clients} concurrent client(s), {flows} flows]")
        print(f"  GET /health (baseline): {len(h) / r['health_wall']:8.0f} calls/s   p50 {pct(h, 50):6.1f} ms   p99 {pct(h, 99):6.1f} ms")
        print(f"  write calls (all):      {len(c) / r['wall']:8.0f} calls/s   p50 {pct(c, 50):6.1f} ms   p99 {pct(c, 99):6.1f} ms")
        for kind, v in r["calls"].items():  # type: ignore[union-attr]
            print(f"    {kind:<8}              {'':8}           p50 {pct(v, 50):6.1f} ms   p99 {pct(v, 99):6.1f} ms")
        print(f"  full flows:             {len(f) / r['wall']:8.1f} flows/s   p50 {pct(f, 50):6.1f} ms   p99 {pct(f, 99):6.1f} ms"
              f"   errors {r['errors']} {r['first_error'] or ''}")
        print(f"  write p99 / health p99: {pct(c, 99) / max(pct(h, 99), 0.001):.1f}x")
        print(f"  server CPU per write:   {1000 * r['server_cpu'] / max(len(c), 1):.2f} ms "  # type: ignore[operator]
              f"({100 * r['server_cpu'] / r['wall']:.0f}% of one core during the writes, all server processes)")  # type: ignore[operator]
        if b == "postgresql" and clients == 50:
            verdict = pct(c, 99) < 50
    if verdict is not None:
        how = "back-to-back clients" if not args.think_ms else f"clients pausing {args.think_ms:g} ms between calls"
        print(f"\nAIM {'MET' if verdict else 'NOT MET'} (p99 < 50 ms on PostgreSQL at 50 {how})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
