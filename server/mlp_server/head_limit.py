"""A bound on request heads for ``mlp serve``.

uvicorn's httptools protocol (what ``mlp serve`` runs on, for its speed) holds a request's line and
headers with no limit: h11 stops at 16 KiB, httptools never. So one connection, before it has shown any
credential, could make the server hold a header of hundreds of megabytes (and copy it over and over as
it grows). This protocol counts the bytes of each head as they arrive and, past :data:`MAX_HEAD_BYTES`,
answers 413 ``RequestTooLarge`` (the documented envelope) and closes the connection: the rest is never
read. A real head (a signed request's, an inner token's URL) is well under 1 KiB.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .envelope import Meta, headers, new_request_id, render
from .errors import ApiError

MAX_HEAD_BYTES = 64 * 1024


def too_large_answer(region: str) -> bytes:
    """The bytes of the 413 answer (a whole HTTP/1.1 response that closes the connection)."""
    meta = Meta(new_request_id(), "", region)
    error = ApiError(
        "RequestTooLarge",
        f"request head: the request line and headers are larger than {MAX_HEAD_BYTES} bytes, "
        "the most a request may send",
    )
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


def bounded_protocol(region: str) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with heads bounded (``uvicorn.Config(http=...)``)."""

    class BoundedHeadProtocol(HttpToolsProtocol):
        _head_bytes = 0
        _in_head = False

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head, self._head_bytes = True, 0

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def data_received(self, data: bytes) -> None:
            if self.parser is None or self.transport.is_closing():
                return
            if self._in_head:
                self._head_bytes += len(data)
            # The parser holds at most one read's bytes (the event loop's buffer) past the limit.
            super().data_received(data)
            if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
                self._in_head = False
                self.transport.write(too_large_answer(region))
                self.transport.close()

    return BoundedHeadProtocol
