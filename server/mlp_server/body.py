"""Reading a request body under bounds, so that a hostile or stalled sender costs little.

The gateway calls :func:`read_body` only after it knows who sends the request (signature headers or
token). A declared ``Content-Length`` above the limit is refused before a byte is read; a chunked
body is read incrementally and refused at ``limit + 1`` bytes; a body that stalls longer than the
read timeout (or takes longer than the overall deadline) is refused too. Memory stays within about
one limit per request whatever the sender declares or sends.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from .errors import ApiError

# Set in the ASGI scope once the body has been read to its end (see close_if_unread), and once its
# reading has begun (a body refused part way is not read any further).
_READ_MARK = "mlp.body_read"
_STARTED_MARK = "mlp.body_started"
# An answer sent while a body is unread ends the connection, and closing a socket with unread bytes
# makes the kernel send a reset, which may reach the client before it reads the answer (it then sees
# ECONNRESET instead of, say, a 401). A small declared body is read and dropped first, within a short
# time; a large, chunked or stalled one is not worth it: the connection just closes.
DRAIN_BYTES = 64 * 1024
DRAIN_SECONDS = 1.0


@dataclass(frozen=True)
class BodyLimits:
    """How much a request may send and how slowly."""

    max_bytes: int = 8 * 1024 * 1024
    # Longest wait for the next piece of the body, and for the whole body, in seconds.
    read_timeout: float = 10.0
    total_timeout: float = 120.0


def declared_length(request: Request) -> int | None:
    """The ``Content-Length`` the client declared, or None for a chunked (or absent) body."""
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not value.strip().isdigit():
        raise ApiError("InvalidParameter", f"Content-Length: {value!r} is not a byte count")
    return int(value)


# The body is JSON. Besides application/json (and its +json kinds), Volcengine's signer sends
# application/x-www-form-urlencoded on a POST whose caller set no Content-Type (the JSON body is the
# same), so SDK-built requests carry it; any other declared type is refused before the body is read.
_FORM = "application/x-www-form-urlencoded"
ALLOWED_MEDIA_TYPES = ("application/json", "application/*+json", _FORM)


def check_media_type(request: Request) -> None:
    """Refuse a body declared as anything but JSON (UnsupportedMediaType, 415)."""
    value = request.headers.get("content-type")
    if value is None:
        return
    media = value.partition(";")[0].strip().lower()
    if media in ("", "application/json", _FORM):
        return
    if media.startswith("application/") and media.endswith("+json"):
        return
    shown = value if len(value) <= 80 else value[:80] + "..."
    raise ApiError(
        "UnsupportedMediaType",
        f"Content-Type: {shown!r} is not allowed; the body is JSON, allowed values: "
        + ", ".join(ALLOWED_MEDIA_TYPES),
    )


def check_declared(request: Request, limits: BodyLimits) -> None:
    """Refuse a declared body above the limit at once (nothing is read)."""
    length = declared_length(request)
    if length is not None and length > limits.max_bytes:
        raise ApiError(
            "RequestTooLarge",
            f"body: {length} bytes declared; a request body may hold at most {limits.max_bytes} bytes",
        )


async def read_body(request: Request, limits: BodyLimits) -> bytes:
    """The whole body, or ApiError (RequestTooLarge, RequestTimeout) without keeping more than
    ``limits.max_bytes + 1`` bytes of it; UnsupportedMediaType for a body declared as other than JSON."""
    check_media_type(request)
    check_declared(request, limits)
    request.scope[_STARTED_MARK] = True
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + limits.total_timeout
    while True:
        wait = min(limits.read_timeout, deadline - time.monotonic())
        try:
            # A timeout scope rather than wait_for, which wraps each receive in a task of its own.
            async with asyncio.timeout(max(wait, 0.0)):
                message = await receive()
        except TimeoutError:
            raise ApiError(
                "RequestTimeout",
                f"body: the client sent nothing for {limits.read_timeout:g} s or took longer than "
                f"{limits.total_timeout:g} s in all; the request is closed",
            ) from None
        if message["type"] == "http.disconnect":
            raise ApiError("RequestTimeout", "body: the client disconnected before sending the whole body")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limits.max_bytes:
            raise ApiError(
                "RequestTooLarge", f"body: larger than {limits.max_bytes} bytes, the most a request may send"
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            request.scope[_READ_MARK] = True
            return b"".join(chunks)


async def answer_unread(request: Request, response: Response) -> Response:
    """An error answered before the body was read: a small declared body is drained first (see
    DRAIN_BYTES), so the connection stays usable and the client reads the answer; otherwise the
    connection closes after the answer (:func:`close_if_unread`)."""
    if not request.scope.get(_READ_MARK) and not request.scope.get(_STARTED_MARK):
        value = request.headers.get("content-length", "").strip()
        length = int(value) if value.isdigit() else None
        if length is not None and 0 < length <= DRAIN_BYTES and "transfer-encoding" not in request.headers:
            await _drain(request, length)
    return close_if_unread(request, response)


async def _drain(request: Request, length: int) -> None:
    left = length
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            while True:
                message = await request.receive()
                if message["type"] != "http.request":
                    return
                left -= len(message.get("body", b""))
                if left < 0:
                    return  # more than declared: the server (h11) ends this connection anyway
                if not message.get("more_body", False):
                    request.scope[_READ_MARK] = True
                    return
    except TimeoutError:
        return


def close_if_unread(request: Request, response: Response) -> Response:
    """An answer sent before the body was read ends the connection: the rest of that body is never
    read (and a hostile sender cannot keep the connection by sending more)."""
    has_body = request.headers.get("content-length", "0").strip() not in ("", "0") or (
        "transfer-encoding" in request.headers
    )
    if has_body and not request.scope.get(_READ_MARK):
        response.headers["Connection"] = "close"
    return response
