"""CPU time of processes, from /proc (Linux): what a benchmark's servers spent, beside its wall time."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int, descendants: bool = True) -> float:
    """CPU time (user + system) a process (all its threads) and, unless told not to, its live
    descendants have used so far."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{p}/task").iterdir() if descendants else ():
                todo += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return total
