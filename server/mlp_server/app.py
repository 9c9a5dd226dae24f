"""The ASGI application: two front doors, one pipeline.

    POST /?Action=<Action>&Version=2021-07-01          signed with HMAC-SHA256 (open API gateway)
    POST /ml-platform/{region}/api/<Action>?Token=...  secure token (inner API)

Each request: find the operation in the document's table, authenticate (signature or token), parse
and validate the JSON body against the operation's schema, run the handler in a worker thread (the
store is synchronous), answer the documented envelope. Every failure is an ``ApiError`` with a code;
anything unexpected is logged and answered as ``InternalError`` without leaking details.
"""

from __future__ import annotations

import json
import logging
import re
from functools import cache
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from volcengine_ml_platform import schema
from volcengine_ml_platform.signing import SignatureError, verify

from .context import Caller, Platform
from .envelope import API_VERSION, Meta, failure, new_request_id, success
from .errors import ApiError
from .handlers import handler_for
from .operations import Operation, lookup

log = logging.getLogger("mlp_server")

MAX_BODY = 8 * 1024 * 1024


def _query(request: Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.url.query, keep_blank_values=True).items()}


async def _read_json(request: Request, operation: Operation) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ApiError("InvalidParameter", f"body: larger than {MAX_BODY} bytes")
    if not raw.strip():
        # The document makes every request body required; `{}` is how to send no parameters.
        raise ApiError("MissingParameter", "body: a JSON object is required (send {} for no parameters)")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError("InvalidParameter", "body: not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError("InvalidParameter", f"body: expected a JSON object, got {type(body).__name__}")
    body = schema.without_nulls(operation.request_schema, body)  # null means absent (the document)
    errors = list(schema.errors(operation.request_schema, body))
    if errors:
        code = "MissingParameter" if errors[0].validator == "required" else "InvalidParameter"
        raise ApiError(code, "; ".join(schema.describe(e) for e in errors[:10]))
    return body


@cache
def _region_rule() -> tuple[re.Pattern[str], int]:
    """The inner door's ``{region}`` path parameter as the document defines it (pattern, maxLength)."""
    rule = schema.document()["components"]["parameters"]["Region"]["schema"]
    return re.compile(rule["pattern"].removeprefix("^").removesuffix("$")), int(rule["maxLength"])


def _check_region(region: str) -> None:
    pattern, max_length = _region_rule()
    if len(region) > max_length or pattern.fullmatch(region) is None:
        raise ApiError("InvalidParameter", f"region: {region!r} is not a region name such as cn-beijing")


class Gateway:
    """The request pipeline shared by both doors."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def _authenticate_signature(self, request: Request, raw_body: bytes) -> Caller:
        store = self.platform.store
        found: dict[str, Any] = {}

        def secret_for(ak: str) -> str | None:
            record = store.lookup_access_key(ak)
            if record is None:
                return None
            found["record"] = record
            return record.sk

        try:
            verify(
                method=request.method,
                path=request.scope.get("raw_path") or request.url.path.encode(),
                query=request.scope.get("query_string", b""),
                headers=request.scope["headers"],
                body=raw_body,
                secret_key_for=secret_for,
                now=self.platform.clock(),
                service="ml_platform",
            )
        except SignatureError as exc:
            raise ApiError(exc.code, exc.message) from None
        record = found["record"]
        return Caller(record.account_id, record.user_id, record.is_admin, record.ak)

    def _authenticate_token(self, token: str | None) -> Caller:
        if not token:
            raise ApiError("MissingAuthenticationToken", "the inner API needs a Token query parameter")
        claims = self.platform.tokens.verify(token, self.platform.clock())
        return Caller(claims.account_id, claims.user_id, is_admin=False)

    async def open_door(self, request: Request) -> Response:
        query = _query(request)
        action, version = query.get("Action", ""), query.get("Version", "")
        meta = Meta(new_request_id(), action, self.platform.settings.region, version or API_VERSION)
        try:
            if not action or not version:
                raise ApiError("MissingParameter", "the query must carry Action and Version")
            operation = lookup("open", action)
            if operation is None or version not in schema.api_versions():
                raise ApiError("InvalidActionOrVersion", f"unknown Action {action!r} or Version {version!r}")
            raw = await request.body()
            caller = await run_in_threadpool(self._authenticate_signature, request, raw)
            return await self._serve(operation, request, caller, meta)
        except ApiError as exc:
            return failure(meta, exc)

    async def inner_door(self, request: Request) -> Response:
        action = request.path_params["action"]
        version = _query(request).get("Version") or API_VERSION  # optional here; echoed when given
        meta = Meta(new_request_id(), action, request.path_params["region"], version)
        try:
            operation = lookup("inner", action)
            if operation is None or version not in schema.api_versions():
                raise ApiError(
                    "InvalidActionOrVersion", f"unknown inner Action {action!r} or Version {version!r}"
                )
            _check_region(request.path_params["region"])
            caller = self._authenticate_token(_query(request).get("Token"))
            return await self._serve(operation, request, caller, meta)
        except ApiError as exc:
            return failure(meta, exc)

    async def _serve(self, operation: Operation, request: Request, caller: Caller, meta: Meta) -> Response:
        body = await _read_json(request, operation)
        handler = handler_for(operation.action)
        try:
            result = await run_in_threadpool(handler, self.platform, caller, body)
        except ApiError:
            raise
        except Exception:
            log.exception("internal error in %s (RequestId %s)", operation.action, meta.request_id)
            raise ApiError("InternalError", f"internal error; quote RequestId {meta.request_id}") from None
        return success(meta, result)

    async def not_found(self, request: Request) -> Response:
        meta = Meta(new_request_id(), "", self.platform.settings.region)
        return failure(meta, ApiError("InvalidActionOrVersion", f"no such endpoint: {request.url.path}"))

    async def method_not_allowed(self, request: Request) -> Response:
        meta = Meta(new_request_id(), _query(request).get("Action", ""), self.platform.settings.region)
        response = failure(
            meta, ApiError("MethodNotAllowed", f"method {request.method} is not allowed; use POST")
        )
        response.headers["Allow"] = "POST"  # RFC 9110: a 405 lists the methods the resource supports
        return response


def create_app(platform: Platform) -> Starlette:
    gateway = Gateway(platform)
    other = ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
    routes = [
        Route("/", gateway.open_door, methods=["POST"]),
        Route("/", gateway.method_not_allowed, methods=other),
        Route("/ml-platform/{region}/api/{action}", gateway.inner_door, methods=["POST"]),
        Route("/ml-platform/{region}/api/{action}", gateway.method_not_allowed, methods=other),
        Route("/{path:path}", gateway.not_found, methods=["POST", *other]),
    ]
    app = Starlette(routes=routes)
    app.state.platform = platform
    return app
