"""A large upload through the real API, with a connection dropped halfway and resumed:

* a file of --size-mib MiB (default 2048; the issue's case is 20480) is uploaded to a real
  `evidex serve` process in 1 MiB chunks; at half the file, a chunk's body is cut off mid-stream
  (the connection drops); the client asks the server where to resume and goes on;
* printed: throughput, the server's peak memory (VmHWM), and whether the sealed SHA-256 equals
  the one computed independently on the source file.

    .venv/bin/python bench/upload_bench.py [--size-mib 2048] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from evidex.core.db import make_engine, make_sessionmaker  # noqa: E402
from evidex.core.migrate import upgrade  # noqa: E402
from evidex.demo.data import example_document  # noqa: E402
from evidex.parties.roles import Role  # noqa: E402
from evidex.parties.service import create_user  # noqa: E402

MiB = 1024 * 1024
PASSWORD = "upload bench password"


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=2048)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="evidex-upload-", dir=args.dir))
    src = work / "source.bin"
    block = os.urandom(64 * MiB)
    with open(src, "wb") as f:
        for i in range(args.size_mib // 64):
            f.write(block[i % 7:] + block[:i % 7])  # not one repeated block: every 64 MiB shifts
        f.write(block[:(args.size_mib % 64) * MiB])
    size = src.stat().st_size
    t = time.perf_counter()
    digest = hashlib.sha256()
    with open(src, "rb") as f:
        while piece := f.read(8 * MiB):
            digest.update(piece)
    sha, hash_s = digest.hexdigest(), time.perf_counter() - t
    url = f"sqlite:///{work / 'evidex.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with make_sessionmaker(engine)() as db:
        u = create_user(db, username="uploader", display_name="Uploader", party="RS", role=Role.central_authority,
                        now=dt.datetime.now(dt.UTC), password=PASSWORD)
        secret = u.totp_secret or ""
        db.commit()
    engine.dispose()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {**os.environ, "EVIDEX_DATABASE_URL": url, "EVIDEX_EVIDENCE_DIR": str(work / "store")}
    server = subprocess.Popen([sys.executable, "-m", "evidex", "serve", "--port", str(port), "--worker-interval", "0"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(base + "/api/v1/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        token = httpx.post(base + "/api/v1/auth/login", json={"username": "uploader", "password": PASSWORD,
                                                               "totp_code": pyotp.TOTP(secret).now()}).json()["token"]
        c = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600)
        case = c.post("/api/v1/cases", json={"reference": "UPLOAD-1", "title": "large upload"}).json()
        rid = c.post("/api/v1/requests", json={"case_id": case["id"], "document": example_document(
            "mutual_assistance", "RS", "SI")}).json()["id"]
        ev = c.post(f"/api/v1/requests/{rid}/evidence", json={"name": "disk.img", "size": size, "sha256": sha}).json()
        n = -(-size // MiB)
        t0 = time.perf_counter()
        dropped = False
        with open(src, "rb") as f:
            index = 0
            while index < n:
                f.seek(index * MiB)
                piece = f.read(MiB)
                if index == n // 2 and not dropped:
                    dropped = True

                    def cut(data: bytes = piece) -> Iterator[bytes]:
                        yield data[: len(data) // 2]
                        raise ConnectionResetError("the line dropped")  # half a chunk, then nothing

                    with contextlib.suppress(httpx.HTTPError, ConnectionResetError):
                        c.put(f"/api/v1/evidence/{ev['id']}/chunks/{index}", content=cut(),
                              headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(piece))})
                    c.close()
                    c = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600)
                    index = c.get(f"/api/v1/evidence/{ev['id']}").json()["chunks_received"]  # where to resume
                    print(f"connection dropped during chunk {n // 2}; the server says resume at chunk {index}")
                    continue
                r = c.put(f"/api/v1/evidence/{ev['id']}/chunks/{index}", content=piece,
                          headers={"Content-Type": "application/octet-stream"})
                r.raise_for_status()
                index += 1
        up_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        done = c.post(f"/api/v1/evidence/{ev['id']}/complete").json()
        seal_s = time.perf_counter() - t1
        print(f"file: {size / MiB:.0f} MiB; sha256 of the source alone: {size / MiB / hash_s:.0f} MiB/s")
        print(f"  upload (1 MiB chunks over HTTP, encrypted and stored): {size / MiB / up_s:.0f} MiB/s ({up_s:.1f} s)")
        print(f"  complete (re-reads, decrypts and hashes what was stored): {seal_s:.1f} s")
        print(f"  status {done['status']}; SHA-256 equals the source's: {done['sha256'] == sha}")
        print(f"  peak memory of the server process: {peak_rss_mb(server.pid):.0f} MB")
        return 0 if done["status"] == "sealed" and done["sha256"] == sha else 1
    finally:
        server.terminate()
        server.wait(timeout=20)
        for p in sorted(work.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        work.rmdir()


if __name__ == "__main__":
    sys.exit(main())
