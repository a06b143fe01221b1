"""Fault-injection points, a no-op here. Production code calls these hooks where a test needs a
process to die or bytes to change (crash recovery is proved with a real SIGKILL); only a test
entry point (`tests/faulty_node.py`) installs an object that does something. No environment
variable or setting reaches them: a production process cannot be told to kill itself or alter data."""

from __future__ import annotations


class Faults:
    """Every hook does nothing. Tests pass (or install) a subclass."""

    def outbox_after_reply(self) -> None:
        """The sender has the peer's answers to a batch, not yet recorded."""

    def receive_after_store(self) -> None:
        """The receiver has committed a batch, not yet answered it."""

    def receive_after_spool(self) -> None:
        """The receiver has written a batch's large payloads to its spool, no row committed."""

    def worker_after_write(self, done: int) -> None:
        """The deadline worker has written its `done`-th deadline's notifications, not yet committed."""

    def chunk_in_transit(self, position: int, index: int, plain: bytes) -> bytes:
        """The plaintext of an evidence chunk about to be sealed for a peer (as read from the vault)."""
        return plain


NO_FAULTS = Faults()
_installed: Faults = NO_FAULTS


def install(faults: Faults) -> None:
    """Called by a test entry point only, before it runs the CLI in the same process."""
    global _installed
    _installed = faults


def installed() -> Faults:
    """What the composition roots (CLI, create_app) hand to the code they wire: NO_FAULTS in production."""
    return _installed
