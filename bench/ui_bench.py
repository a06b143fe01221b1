"""Web application benchmark: server time of the dashboard and the request list with 10,000 requests
in the database, beside the JSON API's list of the same page measured in the same run (aim: ≤ 2×),
and the weight each page transfers, HTML + CSS + JS (aim: ≤ 200 KB).

    .venv/bin/python bench/ui_bench.py [--requests 10000] [--calls 200] [--backend sqlite|postgresql|both]
        [--analyze]

Each backend gets a fresh database filled through the services (a few hundred requests of every type
and state, then copied row by row up to --requests with new ids), and its own `evidex serve` process.
Times are measured by one client on loopback, one call at a time: what a person waits for, less the
network. `--analyze`: PostgreSQL's planner statistics are refreshed after the fill, as autovacuum has
done long before a database grows to that many requests (without, the tables are seconds old).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pyotp
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from api_bench import PG_ADMIN, free_port  # noqa: E402
from evidex.cases.service import Law  # noqa: E402
from evidex.core.db import make_engine, make_sessionmaker  # noqa: E402
from evidex.core.migrate import upgrade  # noqa: E402
from evidex.demo.data import load_demo  # noqa: E402
from evidex.parties.roles import Role  # noqa: E402
from evidex.parties.service import create_user  # noqa: E402
from evidex.requests.models import Deadline, Request  # noqa: E402

PASSWORD = "bench password 2026"
NOW = dt.datetime.now(dt.UTC)


def fill(url: str, total: int, analyze: bool = False) -> tuple[str, str]:
    """The demo's requests (every type and state), copied up to `total`; returns the bench user and secret."""
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as db:
        load_demo(db, law=Law(), party="RS", now=NOW)  # one transaction, committed by the demo
    with sessions() as db:
        u = create_user(db, username="bench-ca", display_name="Bench central authority", party="RS",
                        role=Role.central_authority, now=NOW, password=PASSWORD)
        secret = u.totp_secret
        db.commit()
    with sessions() as db:
        seeds = db.execute(sa.select(Request).where(Request.party == "RS")).scalars().all()
        deadlines = db.execute(sa.select(Deadline)).scalars().all()
        by_request: dict[uuid.UUID, list[Deadline]] = {}
        for d in deadlines:
            by_request.setdefault(d.request_id, []).append(d)
        have = db.execute(sa.select(sa.func.count()).select_from(Request)).scalar_one()
        rows, due_rows = [], []
        columns = [c.key for c in Request.__table__.columns]
        dcolumns = [c.key for c in Deadline.__table__.columns]
        i = 0
        while have + len(rows) < total:
            seed = seeds[i % len(seeds)]
            i += 1
            row = {c: copy.deepcopy(getattr(seed, c)) for c in columns}
            row["id"] = uuid.uuid4()
            row["conversation_id"] = None
            row["updated_at"] = seed.updated_at - dt.timedelta(seconds=i)
            rows.append(row)
            for d in by_request.get(seed.id, []):
                drow = {c: getattr(d, c) for c in dcolumns}
                drow["id"], drow["request_id"] = uuid.uuid4(), row["id"]
                due_rows.append(drow)
        for start in range(0, len(rows), 1000):
            db.execute(sa.insert(Request), rows[start:start + 1000])
        for start in range(0, len(due_rows), 1000):
            db.execute(sa.insert(Deadline), due_rows[start:start + 1000])
        db.commit()
        count = db.execute(sa.select(sa.func.count()).select_from(Request)).scalar_one()
    if analyze and engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(sa.text("ANALYZE"))
    engine.dispose()
    print(f"  {count} requests, {len(due_rows)} copied deadlines")
    return "bench-ca", secret


def timed(client: httpx.Client, path: str, calls: int, **kw: object) -> tuple[float, float, int]:
    client.get(path, **kw)  # warm
    times = []
    size = 0
    for _ in range(calls):
        t0 = time.perf_counter()
        r = client.get(path, **kw)
        times.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{path}: {r.status_code} {r.text[:200]}")
        size = len(r.content)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], size


def weight(client: httpx.Client, path: str) -> dict[str, int]:
    """Bytes on the wire, as the node sends them to a browser that accepts gzip, of the page and every
    CSS/JS file it loads (an ES module's imports included)."""
    r = client.get(path, headers={"Accept-Encoding": "gzip"})
    out = {"html": r.num_bytes_downloaded}
    todo = re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js)[^"]*)"', r.text)
    while todo:
        asset = todo.pop()
        a = client.get(asset, headers={"Accept-Encoding": "gzip"})
        name = asset.split("?")[0]
        out[name] = a.num_bytes_downloaded
        if name.endswith(".js"):
            folder = name.rsplit("/", 1)[0]
            todo += [f"{folder}/{m.removeprefix('./')}" for m in re.findall(r'from\s*"(\./[^"]+)"', a.text)
                     if f"{folder}/{m.removeprefix('./')}" not in out]
    return out


def bench(name: str, total: int, calls: int, analyze: bool = False) -> None:
    tmp = tempfile.mkdtemp(prefix="evidex-uibench-")
    pg_db = admin = None
    if name == "sqlite":
        url = f"sqlite:///{tmp}/bench.db"
    else:
        admin = make_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        pg_db = f"evidex_uibench_{uuid.uuid4().hex[:8]}"
        try:
            with admin.connect() as c:
                c.execute(sa.text(f'CREATE DATABASE "{pg_db}"'))
        except sa.exc.OperationalError as e:
            print(f"postgresql: not reachable ({type(e).__name__}); skipped")
            return
        url = sa.make_url(PG_ADMIN).set(database=pg_db).render_as_string(hide_password=False)
    print(f"{name}: filling")
    user, secret = fill(url, total, analyze)
    port = free_port()
    env = {**os.environ, "EVIDEX_DATABASE_URL": url, "EVIDEX_NODE_PARTY": "RS", "EVIDEX_EVIDENCE_DIR": f"{tmp}/ev",
           "EVIDEX_SPOOL_DIR": f"{tmp}/spool", "EVIDEX_NODE_DIR": f"{tmp}/node"}
    proc = subprocess.Popen([sys.executable, "-m", "evidex", "serve", "--port", str(port), "--worker-interval", "0"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        with httpx.Client(base_url=base, timeout=30, follow_redirects=True) as web, \
                httpx.Client(base_url=base, timeout=30) as api:
            page = web.get("/sign-in").text
            csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]
            r = web.post("/sign-in", data={"csrf_token": csrf, "username": user, "password": PASSWORD,
                                           "totp_code": pyotp.TOTP(secret).now()})
            assert r.status_code == 200 and "Dashboard" in r.text, r.status_code
            time.sleep(31)  # a TOTP code works once: the API sign-in takes the next one
            r = api.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD,
                                                      "totp_code": pyotp.TOTP(secret).now()})
            assert r.status_code == 200, r.text
            bearer = {"Authorization": f"Bearer {r.json()['token']}"}
            baseline = timed(api, "/api/v1/requests?limit=50", calls, headers=bearer)
            print(f"  {'GET /api/v1/requests?limit=50 (JSON, baseline)':55} median {baseline[0]:7.1f} ms  "
                  f"p95 {baseline[1]:7.1f} ms  {baseline[2]:>8} B")
            for path in ("/", "/requests"):
                probe = web.get(path)
                if probe.status_code != 200:
                    print(f"  {path}: {probe.status_code} (no such page yet)")
                    continue
                med, p95, size = timed(web, path, calls)
                print(f"  {'GET ' + path + ' (page)':55} median {med:7.1f} ms  p95 {p95:7.1f} ms  {size:>8} B"
                      f"   {med / baseline[0]:.2f}x the API (aim <= 2x)")
                w = weight(web, path)
                total_kb = sum(w.values()) / 1024
                print(f"    weight transferred: {total_kb:.1f} KB (aim <= 200 KB): " +
                      ", ".join(f"{k} {v / 1024:.1f} KB" for k, v in w.items()))
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        if pg_db and admin is not None:
            with admin.connect() as c:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)'))
            admin.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--analyze", action="store_true",
                    help="refresh PostgreSQL's planner statistics after the fill (as autovacuum does in time)")
    a = ap.parse_args()
    for name in (["sqlite", "postgresql"] if a.backend == "both" else [a.backend]):
        bench(name, a.requests, a.calls, a.analyze)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
