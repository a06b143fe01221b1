"""Admission control: at most `limit` requests are worked on at once; the others wait, cheaply, in
the event loop, before any of their dependencies run.

Without it every accepted request runs its dependencies (session, authentication: a database
connection checked out) and then waits for a worker thread; under load, more requests than the
pool has connections each hold one while waiting for a thread, while those that own the threads
wait for a connection — a deadlock broken only by the pool's timeout (seen at 50 clients in
bench/api_bench.py). A slot is held until the response starts: a long download streams outside
it and does not keep others out."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class AdmissionLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit
        self._slots: asyncio.Semaphore | None = None  # made in the serving event loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limit)
        slots = self._slots
        await slots.acquire()
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                slots.release()

        async def send_then_release(message: Message) -> None:
            if message["type"] == "http.response.start":
                release()
            await send(message)

        try:
            await self.app(scope, receive, send_then_release)
        finally:
            release()
