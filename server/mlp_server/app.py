"""The ASGI application: two front doors, one pipeline.

    POST /?Action=<Action>&Version=2021-07-01          signed with HMAC-SHA256 (open API gateway)
    POST /ml-platform/{region}/api/<Action>?Token=...  secure token (inner API)

Each request: find the operation in the document's table, authenticate (signature or token), parse
and validate the JSON body against the operation's schema, run the handler in a worker thread (the
store is synchronous), answer the documented envelope. Everything but the handler runs on the event
loop when the signer's key record is in memory (``keycache``): one thread hand-off per request.
Every failure is an ``ApiError`` with a code; anything unexpected is logged and answered as
``InternalError`` without leaking details.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from volcengine_ml_platform import schema
from volcengine_ml_platform.signing import PendingRequest, SignatureError, verify_headers, verify_payload

from .body import BodyLimits, answer_unread, read_body
from .context import Caller, Platform
from .envelope import API_VERSION, Meta, failure, new_request_id, success
from .errors import ApiError
from .guard import EnvelopeGuard, unexpected
from .handlers import handler_for
from .json_policy import parse_body, request_body
from .keycache import KeyCache, NotCached
from .operations import Operation, lookup

if TYPE_CHECKING:
    from .store.accounts import KeyRecord


def _query(request: Request) -> dict[str, str]:
    # Straight from the scope (as request.url.query has it, without building a URL object).
    text = request.scope.get("query_string", b"").decode().partition("#")[0]
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def _parse_json(raw: bytes, operation: Operation) -> dict[str, Any]:
    return request_body(raw, operation.request_schema)


# Actions only administrator keys may call: their key record is read from the store every time.
_ADMIN_ACTIONS = frozenset({"AdminGetSecureToken"})


@cache
def _region_rule() -> tuple[re.Pattern[str], int]:
    """The inner door's ``{region}`` path parameter as the document defines it (pattern, maxLength)."""
    rule = schema.document()["components"]["parameters"]["Region"]["schema"]
    return re.compile(rule["pattern"].removeprefix("^").removesuffix("$")), int(rule["maxLength"])


def _check_region(region: str, served: str) -> None:
    pattern, max_length = _region_rule()
    if len(region) > max_length or pattern.fullmatch(region) is None:
        raise ApiError("InvalidParameter", f"region: {region!r} is not a region name such as cn-beijing")
    if region != served:  # as the open door refuses a credential scope of another region
        raise ApiError(
            "InvalidParameter",
            f"region: {region!r} is not served here: this platform serves region {served!r}"
            f" (use /ml-platform/{served}/api/...)",
        )


class Gateway:
    """The request pipeline shared by both doors."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        settings = platform.settings
        self.limits = BodyLimits(
            settings.max_body_bytes, settings.body_read_timeout, settings.body_total_timeout
        )
        self.keys = KeyCache(platform.store, settings.key_cache_seconds)

    async def _signed_by(self, request: Request, *, fresh: bool = False) -> tuple[PendingRequest, Caller]:
        """The signature headers checked, on the event loop when the key's record is in memory (pure
        CPU: no thread hand-off), else in a worker thread that reads it from the store. ``fresh``
        always reads the store: for administrator actions, so that a promotion or demotion made by
        another process counts at once there."""
        if not fresh:
            try:
                return self._check_signature_headers(request, self.keys.cached)
            except NotCached:
                pass
        return await run_in_threadpool(self._check_signature_headers, request, self.keys.load)

    def _check_signature_headers(
        self, request: Request, find: Callable[[str], KeyRecord | None]
    ) -> tuple[PendingRequest, Caller]:
        """Everything the Authorization header says, checked before any of the body is read."""
        found: dict[str, Any] = {}

        def secret_for(ak: str) -> str | None:
            record = find(ak)
            if record is None:
                return None
            found["record"] = record
            return record.sk

        try:
            pending = verify_headers(
                method=request.method,
                path=request.scope.get("raw_path") or request.url.path.encode(),
                query=request.scope.get("query_string", b""),
                headers=request.scope["headers"],
                secret_key_for=secret_for,
                now=self.platform.clock(),
                service="ml_platform",
                region=self.platform.settings.region,
            )
        except SignatureError as exc:
            raise ApiError(exc.code, exc.message) from None
        record = found["record"]
        return pending, Caller(record.account_id, record.user_id, record.is_admin, record.ak)

    async def _authenticate_token(self, token: str | None) -> Caller:
        """A secure token's caller. The administrator key that asked for the token must still be
        one (through the key cache, as a signed request's key): revoking or demoting it ends its
        tokens within the cache's lifetime."""
        if not token:
            raise ApiError("MissingAuthenticationToken", "the inner API needs a Token query parameter")
        claims = self.platform.tokens.verify(token, self.platform.clock(), "inner")
        issuer = claims.issuer or ""  # verify() refuses an inner token that names no key
        try:
            record: KeyRecord | None = self.keys.cached(issuer)
        except NotCached:
            record = await run_in_threadpool(self.keys.load, issuer)
        if record is None or not record.is_admin:
            raise ApiError(
                "InvalidSecretToken",
                "the Token's issuing access key has been revoked or is no longer an administrator's",
            )
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
            pending, caller = await self._signed_by(request, fresh=action in _ADMIN_ACTIONS)
            raw = await read_body(request, self.limits)
            try:
                verify_payload(pending, raw)
            except SignatureError as exc:
                raise ApiError(exc.code, exc.message) from None
            return await self._serve(operation, raw, caller, meta)
        except ApiError as exc:
            return await answer_unread(request, failure(meta, exc))
        except Exception as exc:
            return await answer_unread(request, failure(meta, unexpected(exc, meta, action)))

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
            _check_region(request.path_params["region"], self.platform.settings.region)
            caller = await self._authenticate_token(_query(request).get("Token"))
            raw = await read_body(request, self.limits)
            return await self._serve(operation, raw, caller, meta)
        except ApiError as exc:
            return await answer_unread(request, failure(meta, exc))
        except Exception as exc:
            return await answer_unread(request, failure(meta, unexpected(exc, meta, action)))

    async def _serve(self, operation: Operation, raw: bytes, caller: Caller, meta: Meta) -> Response:
        body = _parse_json(raw, operation)
        handler = handler_for(operation.action)
        try:
            result = await run_in_threadpool(handler, self.platform, caller, body)
        except ApiError:
            raise
        except Exception as exc:
            raise unexpected(exc, meta, operation.action) from None
        return success(meta, result)

    async def admin_gc(self, request: Request) -> Response:
        """``mlp gc --endpoint``: the storage sweep on demand, for administrator keys only.

        An operator's route of the local platform, outside the documented API (whose actions are
        the real service's): signed like the open door, body ``{"GraceSeconds": n, "DryRun": bool}``."""
        from .lifecycle import sweep

        meta = Meta(new_request_id(), "GarbageCollect", self.platform.settings.region)
        try:
            pending, caller = await self._signed_by(request, fresh=True)
            raw = await read_body(request, self.limits)
            try:
                verify_payload(pending, raw)
            except SignatureError as exc:
                raise ApiError(exc.code, exc.message) from None
            if not caller.is_admin:
                raise ApiError("AccessDenied", "the storage sweep needs administrator keys")
            body = parse_body(raw or b"{}")
            grace = body.get("GraceSeconds") if isinstance(body, dict) else None
            dry_run = body.get("DryRun", False) if isinstance(body, dict) else None
            if not isinstance(grace, int | float) or isinstance(grace, bool) or grace < 0:
                raise ApiError(
                    "InvalidParameter", "GraceSeconds: a number of seconds, 0 or more, is required"
                )
            if not isinstance(dry_run, bool):
                raise ApiError("InvalidParameter", "DryRun: must be true or false")
            report = await run_in_threadpool(
                lambda: sweep(self.platform, grace_seconds=float(grace), dry_run=dry_run)
            )
            return success(meta, report.as_dict())
        except ApiError as exc:
            return await answer_unread(request, failure(meta, exc))

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
        Route("/mlp-admin/gc", gateway.admin_gc, methods=["POST"]),
        Route("/{path:path}", gateway.not_found, methods=["POST", *other]),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(EnvelopeGuard, region=platform.settings.region)])
    app.state.platform = platform
    return app
