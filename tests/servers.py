"""Real `evidex serve` processes for the tests: a port of their own, started and probed, signed into,
stopped. Used by the end-to-end, edge and browser tests (tests/e2e, tests/security, tests/web)."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyotp
import pytest
import sqlalchemy as sa

from evidex.core.db import make_engine
from evidex.demo.data import DEMO_PASSWORD
from tests.conftest import ROOT, run_cli

# Servers a test starts take ports from _FIRST up to the kernel's ephemeral range, where bind(0) and
# outgoing connections take theirs. Each xdist worker counts through a block of its own: bind(0)
# alone would let two workers be handed the same port, released by one a moment before its server binds it.
_FIRST = 12000


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _block() -> range:
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    size = max((_ephemeral_low() - _FIRST) // workers, 100)
    return range(_FIRST + index * size, _FIRST + (index + 1) * size)


# Start at a place that depends on the process: two test runs side by side on one machine (two
# checkouts) rarely walk the same ports at the same time.
_counter = itertools.count(os.getpid())


def free_port() -> int:
    """A loopback port nothing listens on, handed to no other process of this test run."""
    block = _block()
    for _ in range(len(block)):
        port = block.start + next(_counter) % len(block)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:  # something listens there, or a closed connection still holds it
                continue
        return port
    raise RuntimeError(f"no free port in {block}")


def wait_until_serving(proc: subprocess.Popen[str], url: str, seconds: float = 60, *, verify: bool = True,
                       log: Path | None = None) -> None:
    """Until `url` answers 200 (a server starting on a loaded machine may take many seconds: the
    wait is not what the tests measure); fails at once, with the server's `log`, if it exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with code {proc.returncode} before answering {url}\n{_tail(log)}")
        try:
            if httpx.get(url, timeout=1, verify=verify).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop(proc, 10)
    pytest.fail(f"the server did not answer {url} within {seconds:.0f} s\n{_tail(log)}")


def _tail(log: Path | None) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log is not None and log.exists() else ""


def prepare_node(node_env: dict[str, str], *, identity: bool = False, url: str = "http://127.0.0.1:8000") -> None:
    """`evidex db upgrade`, (with `identity`: `evidex node init --url URL`, so the demo includes an evidence
    package that arrived from a partner node, as `scripts/run` has it), then `evidex demo`."""
    assert run_cli("db", "upgrade", env=node_env).returncode == 0
    if identity:
        made = run_cli("node", "init", "--url", url, env=node_env)
        assert made.returncode == 0, made.stderr
    demo = run_cli("demo", env=node_env)
    assert demo.returncode == 0, demo.stderr


def serve(node_env: dict[str, str], *extra: str, port: int | None = None,
          seconds: float = 60) -> tuple[subprocess.Popen[str], str]:
    """`evidex serve` (plus `extra`) on a free port; returns the process and its API base once /health
    answers. Its output goes to serve.log beside the node's folder (a pipe that nobody reads would stop
    it once full)."""
    port = port or free_port()
    env = {**os.environ, **node_env, "PYTHONIOENCODING": "utf-8"}
    log = Path(node_env["EVIDEX_NODE_DIR"]).with_name("serve.log")
    with open(log, "a") as out:
        proc = subprocess.Popen([sys.executable, "-m", "evidex", "serve", "--port", str(port), "--worker-interval",
                                 "1", *extra], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}/api/v1"
    wait_until_serving(proc, f"{base}/health", seconds, log=log)
    return proc, base


def start_serve(node_env: dict[str, str], *extra: str, seconds: float = 60) -> tuple[subprocess.Popen[str], str]:
    """A node with the demo data (prepare_node), served (serve)."""
    prepare_node(node_env)
    return serve(node_env, *extra, seconds=seconds)


def demo_login(node_env: dict[str, str], base: str) -> dict[str, str]:
    """The demo central authority logged in with password and TOTP: its Authorization header. The
    secret is sealed at rest once used (opened here with the node's key), and a code works once: a
    second sign-in in the same 30 s waits for the next code, as a person would."""
    from evidex.core.secretbox import totp_box
    from evidex.core.settings import Settings

    username = f"{node_env['EVIDEX_NODE_PARTY'].lower()}-central-authority"
    engine = make_engine(node_env["EVIDEX_DATABASE_URL"])
    with engine.connect() as c:
        sealed, last_step = c.execute(sa.text("select totp_secret, totp_last_step from users where username = :u"),
                                      {"u": username}).one()
    engine.dispose()
    totp = pyotp.TOTP(totp_box(Settings(database_url=node_env["EVIDEX_DATABASE_URL"])).open(sealed))
    while last_step is not None and totp.timecode(dt.datetime.now(dt.UTC)) <= last_step:
        time.sleep(0.5)
    r = httpx.post(f"{base}/auth/login", json={"username": username, "password": DEMO_PASSWORD,
                                               "totp_code": totp.now()})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def stop(proc: subprocess.Popen[str], timeout: float) -> bool:
    """SIGINT, then wait; False if it had to be killed."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        return False
