"""How the process keeps memory it has freed.

A node moves payloads of megabytes: a federation batch is up to 16 MiB, read, unpacked, decrypted and
stored, each step a fresh buffer freed a moment later. glibc hands buffers that large back to the
kernel at once (mmap/munmap, and trimming of the heap), and the next one is faulted in again page
by page, zero-filled by the kernel: on a loaded virtual machine that zero-filling cost the
receiving node more CPU than everything else it did for a 1 MiB message (perf:
`clear_page_erms`, bench/exchange_bench.py). Keeping up to TRIM_THRESHOLD of freed memory per arena
for reuse removes it; the price is that much more resident memory at most.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

log = logging.getLogger("evidex.memory")

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's maximum: below it, buffers come from (and go back to) the heap
TRIM_THRESHOLD = 128 * 1024 * 1024  # free memory kept at the top of a heap before it is returned
# Few arenas: a thread's own arena grows in heaps of at most 64 MiB, given back (and faulted in anew)
# as batches come and go; the interpreter lock serialises most allocations anyway. Measured with the
# exchange bench: 1 or 2 arenas, ~10 % more 1 MiB messages per second than glibc's 8 per core.
ARENA_MAX = 2


@functools.cache
def retain_freed_memory() -> bool:
    """Tell glibc's allocator to reuse large freed buffers instead of returning them to the kernel.
    Once per process, before its threads start (arenas are per thread); False where the C library
    is not glibc (nothing changed)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 — only glibc has it (and mallopt's parameters as above)
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = all(mallopt(param, value) for param, value in ((_M_ARENA_MAX, ARENA_MAX), (_M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                                                        (_M_TRIM_THRESHOLD, TRIM_THRESHOLD)))
    if not ok:
        log.warning("mallopt refused the thresholds; large buffers are returned to the kernel as before")
    return ok
