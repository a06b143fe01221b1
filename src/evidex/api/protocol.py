"""uvicorn's httptools protocol with the two limits it lacks (its `h11_max_incomplete_event_size`
applies only to h11): the size of a request's headers (431) and the time they may take to arrive
(408; a client trickling its headers otherwise holds a connection for ever — slowloris).
Bodies are bounded by api/edge.py."""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEADER_BYTES = 32 * 1024  # request line and headers; a Bearer token and a few cookies fit many times over
HEADER_TIMEOUT = 10.0  # seconds from a request's first byte to the end of its headers


class EdgeHttpToolsProtocol(HttpToolsProtocol):
    _header_bytes = 0
    _header_timer: asyncio.TimerHandle | None = None
    _headers_too_large = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._disarm_header_timer()  # an idle keep-alive connection is the keep-alive timeout's

    def _count(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > MAX_HEADER_BYTES:
            self._headers_too_large = True
            raise ValueError("request headers too large")  # the parser stops; send_400_response answers 431

    def send_400_response(self, msg: str) -> None:
        if self._headers_too_large:
            self._answer_and_close(b"431 Request Header Fields Too Large", b"request headers too large")
            return
        super().send_400_response(msg)

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT, self._headers_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self.cycle is None or self.cycle.response_complete:  # still waiting for this request's headers
            self._answer_and_close(b"408 Request Timeout", b"request headers did not arrive in time")

    def _answer_and_close(self, status: bytes, text: bytes) -> None:
        if self.transport.is_closing():
            return
        self.transport.write(b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
                             b"content-length: " + str(len(text)).encode() + b"\r\nconnection: close\r\n\r\n" + text)
        self.transport.close()
