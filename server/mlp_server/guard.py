"""The last line: whatever escapes the gateway is answered with the documented envelope, never plain text.

An ASGI middleware around the whole app. An exception before the response has started becomes a 500
``InternalError`` envelope (or the storage code, when the cause is the disk or database), logged
with its RequestId; after the response has started nothing can be answered any more, so it is only
logged.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .envelope import Meta, failure, new_request_id
from .errors import ApiError
from .storage_errors import storage_error

log = logging.getLogger("mlp_server")


def unexpected(exc: BaseException, meta: Meta, where: str) -> ApiError:
    """The answer to an exception nobody expected: logged with its RequestId, never its details."""
    known = storage_error(exc)
    if known is not None:
        log.error("%s in %s (RequestId %s): %s", known.code, where, meta.request_id, exc)
        return known
    log.error("internal error in %s (RequestId %s)", where, meta.request_id, exc_info=exc)
    return ApiError("InternalError", f"internal error; quote RequestId {meta.request_id}")


class EnvelopeGuard:
    def __init__(self, app: ASGIApp, region: str) -> None:
        self.app = app
        self.region = region

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            meta = Meta(new_request_id(), query.get("Action", [""])[0], self.region)
            error = unexpected(exc, meta, f"{scope.get('method')} {scope.get('path')}")
            if started:
                return
            response = failure(meta, error)
            response.headers["Connection"] = "close"  # the request's body may be unread
            await response(scope, receive, send)
