"""Two transactions at once, for tests of chains that must not fork under concurrent writers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


def overlapping_transactions(sessions: Any, first: Callable[[Any], None],
                             second: Callable[[Any], None]) -> list[BaseException]:
    """`first(db)` runs and holds its transaction open for 0.5 s before committing; `second(db)`
    starts 0.15 s later in another thread and session, so it must wait for the first, then follow
    it. Returns what either raised."""
    errors: list[BaseException] = []

    def run(work: Callable[[Any], None], start_after: float, hold: float) -> None:
        time.sleep(start_after)
        try:
            with sessions() as db:
                work(db)
                time.sleep(hold)  # still in the transaction
                db.commit()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(first, 0.0, 0.5)),
               threading.Thread(target=run, args=(second, 0.15, 0.0))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
