"""A token bucket per peer, in the memory of one server process: the rate limit on evidence package
chunks (EVIDEX_PACKAGE_CHUNK_RATE per second, bursts of EVIDEX_PACKAGE_CHUNK_BURST).

Memory per process is enough here: a chunk is only counted once its MAC has verified under the
package key, which only the two nodes hold, so no one else can spend a peer's budget, and the keys
are the peers of the trust list (a handful). With N server processes a peer gets at most N times the
rate; the limit bounds the work one peer can make this node do, it is not an accounting."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class PeerBuckets:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate above 0 and a burst of at least 1")
        self.rate, self.burst, self.clock = rate, float(burst), clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # peer → (tokens, when counted)

    def take(self, peer: str) -> float:
        """Take a token for `peer`: 0.0 if there was one, else the seconds until there is."""
        with self._lock:
            now = self.clock()
            tokens, then = self._buckets.get(peer, (self.burst, now))
            tokens = min(self.burst, tokens + max(0.0, now - then) * self.rate)
            if tokens >= 1.0:
                self._buckets[peer] = (tokens - 1.0, now)
                return 0.0
            self._buckets[peer] = (tokens, now)
            return (1.0 - tokens) / self.rate
