"""The evidex CLI with faults installed, for the real-process crash tests (test-only: production
`python -m evidex` has no way to install them).

    python -m tests.faulty_node --fault receive_after_store [--fault …] -- serve --tls …

Faults: outbox_after_reply, receive_after_store, receive_after_spool (SIGKILL at that point),
worker_crash_after=N (SIGKILL before committing the N-th deadline written), package_corrupt (a
byte of the first chunk of the first file changed before it is sealed for the peer)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script: the repository root, not tests/, first on the path
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from evidex.core.faults import Faults, install

KILLS = ("outbox_after_reply", "receive_after_store", "receive_after_spool")
ROOT = Path(__file__).resolve().parents[1]


def command(*faults: str) -> list[str]:
    """The argv prefix that runs the CLI with these faults (then add the evidex arguments)."""
    return [sys.executable, str(ROOT / "tests" / "faulty_node.py"), *[a for f in faults for a in ("--fault", f)], "--"]


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class Installed(Faults):
    def __init__(self, names: list[str]) -> None:
        self.kills: set[str] = set()
        self.crash_after = 0
        self.corrupt = False
        for name in names:
            key, _, value = name.partition("=")
            if key in KILLS:
                self.kills.add(key)
            elif key == "worker_crash_after":
                self.crash_after = int(value)
            elif key == "package_corrupt":
                self.corrupt = True
            else:
                raise SystemExit(f"faulty_node: unknown fault {name!r}")

    def outbox_after_reply(self) -> None:
        if "outbox_after_reply" in self.kills:
            _die()

    def receive_after_store(self) -> None:
        if "receive_after_store" in self.kills:
            _die()

    def receive_after_spool(self) -> None:
        if "receive_after_spool" in self.kills:
            _die()

    def worker_after_write(self, done: int) -> None:
        if self.crash_after and done >= self.crash_after:
            _die()

    def chunk_in_transit(self, position: int, index: int, plain: bytes) -> bytes:
        if self.corrupt and position == 0 and index == 0 and plain:
            return bytes([plain[0] ^ 1]) + plain[1:]
        return plain


def main(argv: list[str]) -> None:
    names: list[str] = []
    while argv and argv[0] == "--fault":
        names.append(argv[1])
        argv = argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    install(Installed(names))
    from evidex.cli import main as evidex_main

    sys.argv = ["evidex", *argv]
    evidex_main()


if __name__ == "__main__":
    main(sys.argv[1:])
