"""core/memory.py: large freed buffers are reused, not faulted in again from the kernel."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

CHURN = textwrap.dedent("""
    import os, resource, sys, threading
    if sys.argv[1] == "retain":
        from evidex.core.memory import retain_freed_memory
        assert retain_freed_memory()
    part = os.urandom(256 * 1024)

    def churn():  # what a receiving node does with each batch: join, slice, copy, free
        for _ in range(10):
            body = b"".join([part] * 64)  # 16 MiB
            pieces = [bytes(memoryview(body)[k:k + 1048576]) for k in range(0, len(body), 1048576)]
            del body, pieces

    churn()  # warm up: the heap grows once
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    worker = threading.Thread(target=churn)  # in a worker thread too (its own arena)
    worker.start(); worker.join(); churn()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def _faults(mode: str) -> int:
    r = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return int(r.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_large_freed_buffers_are_reused_not_faulted_in_again() -> None:
    default, retained = _faults("default"), _faults("retain")
    # 20 rounds of 32 MiB: by default each round faults its buffers in again (thousands of pages);
    # retained, the buffers come back from the heap.
    assert default > 5000, default
    assert retained < default / 5, (retained, default)
