"""The node's edge against a real `evidex serve` process on loopback (temporary SQLite database):
slow clients, bounded bodies, header limits, security headers, HSTS under --tls."""

from __future__ import annotations

import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, run_cli
from tests.servers import free_port, stop, wait_until_serving

pytestmark = pytest.mark.slow  # long-running: started first by parallel runs (tests/conftest.py)

MIB = 1024 * 1024
HOLD = 10  # seconds the slow clients hold their connections


@dataclass
class Node:
    proc: subprocess.Popen[str]
    port: int
    token: str
    scheme: str = "http"

    @property
    def base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def peak_rss(self) -> int:
        """VmHWM of the server process, in bytes."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM")


def _start(tmp: Path, *extra: str, env_extra: dict[str, str] | None = None) -> Node:
    env = {"EVIDEX_DATABASE_URL": f"sqlite:///{tmp / 'evidex.db'}", "EVIDEX_ENVIRONMENT": "test",
           "EVIDEX_NODE_PARTY": "RS", "EVIDEX_NODE_DIR": str(tmp / "node"), "EVIDEX_EVIDENCE_DIR": str(tmp / "ev"),
           "EVIDEX_SPOOL_DIR": str(tmp / "spool"), "EVIDEX_NODE_KEY_PASSPHRASE": "node passphrase of the test",
           **(env_extra or {})}
    assert run_cli("db", "upgrade", env=env).returncode == 0
    created = run_cli("users", "create", "edge-system", "--role", "central_authority", "--system", env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.split("API token (shown once")[1].split("):")[1].split()[0]
    scheme = "https" if "--tls" in extra else "http"
    if scheme == "https":
        assert run_cli("node", "init", "--url", "https://127.0.0.1:8443", env=env).returncode == 0
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "evidex", "serve", "--port", str(port), "--worker-interval", "0",
                             *extra], cwd=ROOT, env={**os.environ, **env, "PYTHONIOENCODING": "utf-8"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    node = Node(proc, port, token, scheme)
    wait_until_serving(proc, f"{node.base}/api/v1/health", verify=False)
    return node


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    n = _start(tmp_path_factory.mktemp("edge"))
    yield n
    stop(n.proc, 10)


@pytest.fixture(scope="module")
def tls_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """Served with --tls, and a short body deadline (2 s)."""
    n = _start(tmp_path_factory.mktemp("edge-tls"), "--tls", env_extra={"EVIDEX_BODY_TIMEOUT_SECONDS": "2"})
    yield n
    stop(n.proc, 10)


def _connect(node: Node) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", node.port), timeout=30)
    if node.scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    return s


def _head(path: str, length: int | None, *, chunked: bool = False, extra: str = "") -> bytes:
    framing = "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {length}\r\n"
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{framing}{extra}\r\n"
            .encode())


def _read_response(s: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and the body (up to the connection's close or Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        got = s.recv(65536)
        if not got:
            break
        data += got
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        got = s.recv(65536)
        if not got:
            break
        body += got
    return int(lines[0].split()[1]), headers, body


def _closed(s: socket.socket) -> bool:
    """The server closed the connection (what is left of its answer is read first)."""
    try:
        for _ in range(64):
            if s.recv(65536) == b"":
                return True
    except (ConnectionResetError, ssl.SSLError):
        return True
    except TimeoutError:
        return False
    return False


def test_16_slow_clients_do_not_stop_health_nor_a_signed_in_get(node: Node) -> None:
    """16 clients (twice the request slots) send their headers, then trickle a login body for 10 s;
    meanwhile /health and a signed-in GET answer, each well before the slow clients let go. A 17th
    trickles its headers: it is answered 408 and cut when the header deadline (10 s) passes."""
    stop_at = time.monotonic() + HOLD
    sockets = [_connect(node) for _ in range(16)]
    for s in sockets:
        s.sendall(_head("/api/v1/auth/login", 4000))
    slow_headers = _connect(node)
    slow_headers.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")

    def trickle() -> None:
        while time.monotonic() < stop_at:
            for s in sockets:
                s.sendall(b" ")
            slow_headers.sendall(b"X-Slow: 1\r\n")
            time.sleep(0.5)

    trickler = threading.Thread(target=trickle)
    trickler.start()
    took: list[float] = []
    try:
        with httpx.Client(base_url=node.base, timeout=5) as client:
            while time.monotonic() < stop_at - 0.5:
                for path, headers in (("/api/v1/health", {}), ("/api/v1/cases", node.auth)):
                    t = time.monotonic()
                    r = client.get(path, headers=headers)
                    took.append(time.monotonic() - t)
                    assert r.status_code == 200, (path, r.status_code)
                time.sleep(0.2)
        # An answer queued behind the slow clients would wait until they let go (HOLD s; the client
        # gives up after 5 s). Answered at once, each takes milliseconds; on a machine loaded by a
        # parallel test run one may wait a second or so for a CPU, never seconds on end.
        worst, typical = max(took), statistics.median(took)
        assert worst < HOLD / 4, f"an answer took {worst:.2f} s while slow clients held their bodies"
        assert typical < 0.25, f"answers took {typical:.2f} s (median) while slow clients held their bodies"
        slow_headers.settimeout(5)
        status, headers, _ = _read_response(slow_headers)
        assert status == 408 and headers.get("connection") == "close" and _closed(slow_headers)
    finally:
        stop_at = 0.0
        trickler.join()
        for s in [*sockets, slow_headers]:
            s.close()


def test_32_mib_json_login_is_413_before_it_is_read(node: Node) -> None:
    before = node.peak_rss()
    s = _connect(node)
    body = b'{"username": "' + b"x" * (32 * MIB) + b'", "password": "y"}'
    s.sendall(_head("/api/v1/auth/login", len(body)))

    def send_body() -> None:  # as a client would; the server stops reading and closes
        try:
            view = memoryview(body)
            for i in range(0, len(body), MIB):
                s.sendall(view[i:i + MIB])
        except OSError:
            pass

    sender = threading.Thread(target=send_body)
    sender.start()
    status, headers, raw = _read_response(s)
    sender.join(timeout=30)
    grown = node.peak_rss() - before
    assert status == 413 and headers["content-type"] == "application/problem+json"
    assert json.loads(raw)["code"] == "too_large"
    assert headers.get("connection") == "close"
    assert grown < 16 * MIB, f"peak memory grew by {grown / MIB:.1f} MiB"
    s.close()
    assert httpx.get(f"{node.base}/api/v1/health").status_code == 200


def test_chunked_body_crossing_the_limit_is_cut_with_413(node: Node) -> None:
    s = _connect(node)
    s.sendall(_head("/api/v1/auth/login", None, chunked=True))
    sent = 0

    def send_chunks() -> None:  # 8 MiB in 64 KiB chunks, unless the server cuts it first
        nonlocal sent
        piece = b" " * 65536
        try:
            for _ in range(128):
                s.sendall(b"10000\r\n" + piece + b"\r\n")
                sent += len(piece)
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass

    sender = threading.Thread(target=send_chunks)
    sender.start()
    status, headers, raw = _read_response(s)
    sender.join(timeout=30)
    assert status == 413 and json.loads(raw)["code"] == "too_large" and headers.get("connection") == "close"
    assert sent < 8 * MIB, "the server read the whole body before answering"
    s.close()


def test_headers_larger_than_the_limit_are_431(node: Node) -> None:
    s = _connect(node)
    s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Big: " + b"a" * 40_000 + b"\r\n\r\n")
    status, _, _ = _read_response(s)
    assert status == 431 and _closed(s)
    s.close()


def test_security_headers_on_api_answers(node: Node) -> None:
    answers = [httpx.get(f"{node.base}/api/v1/health"), httpx.get(f"{node.base}/api/v1/cases", headers=node.auth),
               httpx.get(f"{node.base}/api/v1/cases"),  # 401
               httpx.post(f"{node.base}/api/v1/auth/login", json={"username": "nobody"})]  # 422
    assert [r.status_code for r in answers] == [200, 200, 401, 422]
    for r in answers:
        h = r.headers
        assert h["x-content-type-options"] == "nosniff"
        assert h["content-security-policy"].startswith("default-src 'none'")
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert h["referrer-policy"] == "no-referrer" and h["x-frame-options"] == "DENY"
        assert h["cache-control"] == "no-store"
        assert "strict-transport-security" not in h  # plain HTTP: HSTS means nothing here
    assert answers[2].headers["content-type"] == "application/problem+json"


def test_hsts_under_tls_and_a_trickled_body_is_408(tls_node: Node) -> None:
    r = httpx.get(f"{tls_node.base}/api/v1/health", verify=False)
    assert r.status_code == 200 and r.headers["strict-transport-security"].startswith("max-age=")
    assert r.headers["x-content-type-options"] == "nosniff"
    s = _connect(tls_node)
    s.sendall(_head("/api/v1/auth/login", 1000))
    started = time.monotonic()
    s.settimeout(0.3)
    response = b""
    while time.monotonic() - started < 8 and not response:
        try:
            s.sendall(b" ")
            response = s.recv(65536)
        except TimeoutError:
            continue
        except (OSError, ssl.SSLError):
            break
    assert response.startswith(b"HTTP/1.1 408"), response[:100]
    assert b"connection: close" in response.lower()
    s.settimeout(2)
    assert _closed(s)
    s.close()
