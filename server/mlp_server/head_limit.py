"""Bounds on request heads for ``mlp serve``.

uvicorn's httptools protocol (what ``mlp serve`` runs on, for its speed) holds a request's line and
headers with no limit, in size or in time: h11 stops at 16 KiB, httptools never, and once a request's
first byte has come no timer runs until its head is complete. So one connection, before it has shown
any credential, could make the server hold a header of hundreds of megabytes (and copy it over and
over as it grows), and many could each hold a socket for ever by sending a head a byte at a time.
This protocol counts the bytes of each head as they arrive and, past :data:`MAX_HEAD_BYTES`, answers
413 ``RequestTooLarge``; a head not complete ``timeout`` seconds after its first byte is answered 408
``RequestTimeout`` (the platform's body read timeout, as the service endpoints do; counted from
the end of its first read, so a head that comes whole in one read starts no timer). Both are the
documented envelope and close the connection: the rest is never read. A real head (a signed
request's, an inner token's URL) is well under 1 KiB and comes in one packet.

A chunked body's framing is bounded the same way: the bytes between one chunk's data and the next's
(a size line with its extensions, and after the last chunk the trailer fields, which httptools holds
as it holds headers) are at most :data:`MAX_HEAD_BYTES` (413 too). The body's own limits (size, read
timeout) count only its data, so an endless trailer was held until the body read timeout.
"""

from __future__ import annotations

from asyncio import TimerHandle, Transport

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .envelope import Meta, headers, new_request_id, render
from .errors import ApiError

MAX_HEAD_BYTES = 64 * 1024


def refusal(region: str, error: ApiError) -> bytes:
    """The bytes of an error answer (a whole HTTP/1.1 response that closes the connection)."""
    meta = Meta(new_request_id(), "", region)
    body = meta.to_dict()
    body["Error"] = {"Code": error.code, "CodeN": error.code_n, "Message": error.message}
    content = render({"ResponseMetadata": body})
    lines = [STATUS_LINE[error.status]]
    for name, value in headers(meta).items():
        lines.append(f"{name.lower()}: {value}\r\n".encode("latin-1"))
    lines += [
        b"content-type: application/json\r\n",
        b"content-length: " + str(len(content)).encode("ascii") + b"\r\n",
        b"connection: close\r\n\r\n",
        content,
    ]
    return b"".join(lines)


TOO_LARGE = ApiError(
    "RequestTooLarge",
    f"request head: the request line and headers are larger than {MAX_HEAD_BYTES} bytes, "
    "the most a request may send",
)
FRAMING_TOO_LARGE = ApiError(
    "RequestTooLarge",
    "request body: a chunk's size line with its extensions, or the trailer fields after the last chunk, "
    f"are larger than {MAX_HEAD_BYTES} bytes, the most a request may send",
)


def bounded_protocol(region: str, timeout: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with heads bounded (``uvicorn.Config(http=...)``)."""
    stalled = ApiError(
        "RequestTimeout",
        f"request head: not complete {timeout:g} seconds after its first byte (MLP_BODY_READ_TIMEOUT)",
    )

    class BoundedHeadProtocol(HttpToolsProtocol):
        _head_bytes = 0
        _in_head = False
        _head_timer: TimerHandle | None = None
        # Between a body's data: before its first chunk, between two, after the last (the trailer).
        _in_framing = False
        _deferred: ApiError | None = None  # a refusal waiting for an earlier request's answer
        _idle_timer: TimerHandle | None = None  # a new connection's, until its first byte

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head, self._head_bytes = True, 0

        def on_headers_complete(self) -> None:
            self._head_done()
            self._in_framing, self._head_bytes = True, 0
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            self._in_framing = False
            super().on_body(body)

        def on_chunk_complete(self) -> None:
            self._in_framing, self._head_bytes = True, 0

        def on_message_complete(self) -> None:
            self._in_framing = False
            super().on_message_complete()

        def connection_made(self, transport: Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            # uvicorn arms no timer until a first answer: a connection that never sends a byte would
            # hold its socket for ever (many of them, the server's descriptors). Closed unanswered.
            self._idle_timer = self.loop.call_later(timeout, self._close_idle)

        def _close_idle(self) -> None:
            self._idle_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            self._head_done()
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            super().connection_lost(exc)

        def _head_done(self) -> None:
            self._in_head = False
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _refuse(self, error: ApiError, *, head: bool = True) -> None:
            self._head_done()
            self._in_framing = False
            if self.transport.is_closing():
                return
            cycle = self.cycle  # a head's: the request before it; a body's framing: its own
            if head and cycle is not None and not cycle.response_complete:
                # A head sent behind a request still being answered (pipelined): that answer goes
                # first, whole, then this refusal (a refusal written now would be taken for its answer).
                self._deferred = error
                self.transport.pause_reading()
                return
            # A body's answer already begun (or given) is not cut into: the connection just ends.
            if head or cycle is None or not cycle.response_started:
                self.transport.write(refusal(region, error))
            self.transport.close()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            deferred, cycle = self._deferred, self.cycle
            # Once every earlier answer is sent (a later pipelined request may be under way).
            if deferred is not None and (cycle is None or cycle.response_complete):
                self._deferred = None
                if not self.transport.is_closing():
                    self.transport.write(refusal(region, deferred))
                    self.transport.close()

        def data_received(self, data: bytes) -> None:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            if self.parser is None or self.transport.is_closing():
                return
            if self._in_head or self._in_framing:
                self._head_bytes += len(data)
            # The parser holds at most one read's bytes (the event loop's buffer) past the limit.
            super().data_received(data)
            if self._in_head:
                if self._head_bytes > MAX_HEAD_BYTES:
                    self._refuse(TOO_LARGE)
                elif self._head_timer is None:  # only a head that did not come whole in one read
                    self._head_timer = self.loop.call_later(timeout, self._refuse, stalled)
            elif self._in_framing and self._head_bytes > MAX_HEAD_BYTES:
                # No timer: the application waits for the body's next bytes with its read timeout.
                self._refuse(FRAMING_TOO_LARGE, head=False)

    return BoundedHeadProtocol
