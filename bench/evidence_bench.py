"""Evidence ingest benchmark: hash + encrypt (AES-256-GCM, 1 MiB chunks) + store a large file,
streamed, printed beside `sha256sum` of the same file measured in the same run, with the peak RSS
of the ingesting process. Aim: at least 50% of sha256sum's throughput, peak memory under 200 MB
whatever the file size.

    .venv/bin/python bench/evidence_bench.py [--size-mib 2048] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, resource, sys, time, uuid
sys.path.insert(0, sys.argv[3])
from evidex.core.crypto import KeyRing, encrypt_stream, new_data_key
from evidex.evidence.storage import LocalStorage
src, store_dir = sys.argv[1], sys.argv[2]
ring = KeyRing({"k1": os.urandom(32)}, "k1")
key = new_data_key(); wrapped = ring.wrap(key)
store = LocalStorage(__import__("pathlib").Path(store_dir))
t = time.perf_counter()
with open(src, "rb", buffering=0) as f, store.writer(uuid.uuid4().hex) as out:
    sealed = encrypt_stream(f, out, data_key=key, file_id=uuid.uuid4().bytes)
wall = time.perf_counter() - t
print(json.dumps({"seconds": wall, "sha256": sealed.sha256, "size": sealed.size,
                  "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=2048)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="evidex-ebench-", dir=args.dir))
    try:
        src = work / "evidence.bin"
        block = os.urandom(8 * 1024 * 1024)  # incompressible; written, not kept in memory twice
        with open(src, "wb") as f:
            for i in range(args.size_mib // 8):
                f.write(block[i % 7:] + block[: i % 7])
        size = src.stat().st_size
        subprocess.run(["sha256sum", str(src)], capture_output=True, check=True)  # warm the page cache
        t = time.perf_counter()
        out = subprocess.run(["sha256sum", str(src)], capture_output=True, text=True, check=True)
        base = time.perf_counter() - t
        ref = out.stdout.split()[0]
        r = subprocess.run([sys.executable, "-c", CHILD, str(src), str(work / "store"), str(ROOT / "src")],
                           capture_output=True, text=True, check=True)
        res = json.loads(r.stdout)
        mib = size / (1024 * 1024)
        print(f"file: {mib:.0f} MiB (page cache warm)")
        print(f"  sha256sum:                     {mib / base:8.0f} MiB/s  ({base:.2f} s)")
        print(f"  evidex ingest (hash+encrypt+store): {mib / res['seconds']:6.0f} MiB/s  ({res['seconds']:.2f} s)"
              f"   ratio {base / res['seconds']:.2f} (aim >= 0.50)")
        print(f"  peak RSS of the ingesting process: {res['max_rss_kib'] / 1024:.0f} MB (aim < 200 MB)")
        print(f"  hash agrees with sha256sum: {res['sha256'] == ref}")
        ok = base / res["seconds"] >= 0.5 and res["max_rss_kib"] / 1024 < 200 and res["sha256"] == ref
        print("AIM MET" if ok else "AIM NOT MET")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
