"""The sessions' httpx clients: the generated operations' requests sent with less of httpx's per-call work.

A generated operation calls ``request("post", "/", params={"Action": ..., "Version": ...}, json=...,
headers=...)`` and nothing else of the client. For exactly that call, :class:`SessionClient` builds the
same request httpx would (the URL joined to ``base_url`` and its query encoded once per operation,
afresh when ``base_url`` or ``params`` is set; the client's headers, the JSON body, the timeout), signs
it with the session's :class:`~.auth.VolcSignerAuth`, and sends it through the same transport
(``mounts`` and proxies included), then reads the answer, handling it as httpx's ``send`` does and in
its order (the client marked opened, the answer named by its request, a ``Set-Cookie`` kept and the
request logged once the headers came, before the body is read; a redirect's ``next_request``; the client's
``default_encoding``; ``elapsed``). What it leaves out is what these calls never use: the auth-flow
and redirect generators, event hooks and, unless the answer sets one, the cookie jar (httpx parses
every answer for cookies through urllib's request objects). A signed request then costs the client
25-35% less CPU (bench/registrations.py prints the client's CPU per request). Any other call, an auth
other than the signer itself (a subclass may flow otherwise), event hooks, cookies already kept,
redirects followed or a closed client: plain httpx. :class:`AsyncSessionClient` does the same for
``httpx.AsyncClient`` (``AsyncModel``'s session), awaiting the transport instead.
The bytes on the wire are identical (tests/unit/test_http_client.py, both clients), and so are the
answers a real server, proxy or load balancer may give (tests/unit/test_http_client_answers.py).
"""

from __future__ import annotations

import datetime
import logging
import time
from typing import Any

import httpx
from httpx._client import ClientState

from . import _log_secrets
from .auth import VolcSignerAuth

_httpx_log = logging.getLogger("httpx")
# Distinct (path, query) pairs kept: the operations' Action/Version pairs, plus the inner door's
# Token queries; cleared when full rather than grown without bound.
_MAX_URLS = 256


_AnyClient = httpx.Client | httpx.AsyncClient


class _KeptUrls:
    """The URLs built once per (path, query), for the client's ``base_url`` and ``params`` of the
    moment: setting either (httpx makes a new object) starts afresh, as httpx builds each URL anew."""

    __slots__ = ("base", "params", "urls")

    def __init__(self) -> None:
        self.urls: dict[tuple[str, tuple[tuple[str, str], ...]], httpx.URL] = {}
        self.base: httpx.URL | None = None
        self.params: httpx.QueryParams | None = None

    def url(self, client: _AnyClient, method: str, url: str, params: dict[str, str] | None) -> httpx.URL:
        base, common = client.base_url, client.params
        if base is not self.base or common is not self.params:
            self.urls.clear()
            self.base, self.params = base, common
        key = (url, tuple(params.items()) if params else ())
        full = self.urls.get(key)
        if full is None:
            if len(self.urls) >= _MAX_URLS:
                self.urls.clear()
            full = self.urls[key] = client.build_request(method, url, params=params).url
        return full


def _takes_plain_path(
    client: _AnyClient, url: object, params: object, other: dict[str, Any]
) -> tuple[bool, VolcSignerAuth | None]:
    """Whether this call goes through plain httpx, and the signer that signs it otherwise."""
    auth = client.auth
    # Exactly the signer: a subclass may sign or flow otherwise (another header, a retry), as httpx runs it.
    signer = auth if type(auth) is VolcSignerAuth else None
    plain = bool(
        other
        or client.is_closed  # httpx refuses it, naming the closed client
        or not isinstance(url, str)
        or not (params is None or isinstance(params, dict))
        or (auth is not None and signer is None)
        or (auth is None and bool(client.base_url.userinfo))  # httpx's Basic auth from the URL
        or client.follow_redirects
        or client.cookies
        or any(client.event_hooks.values())
    )
    return plain, signer


def _short_request(
    client: _AnyClient,
    kept: _KeptUrls,
    signer: VolcSignerAuth | None,
    method: str,
    url: str,
    params: dict[str, str] | None,
    json: Any,
    headers: dict[str, str] | None,
) -> httpx.Request:
    """The request httpx would build for this call, signed as the signer's auth flow would sign it.

    Between the two, the client is marked opened, as httpx's ``send`` does first (after building the
    request, before its auth flow): ``with client:`` then raises, as with plain httpx."""
    full = kept.url(client, method, url, params)
    merged = httpx.Headers(client.headers)
    if headers:
        merged.update(headers)
    request = httpx.Request(
        method, full, headers=merged, json=json, extensions={"timeout": client.timeout.as_dict()}
    )
    client._state = ClientState.OPENED
    if signer is not None:
        signer.sign(request)
    return request


def _received(client: _AnyClient, request: httpx.Request, response: httpx.Response) -> None:
    """What httpx's ``send`` does with an answer whose headers came, in its order and before the body
    is read (``_send_single_request``, then ``_send_handling_redirects``): the answer named by its
    request, cookies kept, the client's default encoding, the request logged, a redirect's next
    request. A body that then fails to arrive (a connection lost mid-body) leaves a ``Set-Cookie``
    kept, as in httpx."""
    response.request = request
    if "set-cookie" in response.headers:
        client.cookies.extract_cookies(response)  # kept and sent again, as httpx would
    response.default_encoding = client._default_encoding
    if _httpx_log.isEnabledFor(logging.INFO):
        _httpx_log.info(
            'HTTP Request: %s %s "%s %d %s"',
            request.method,
            request.url,
            response.http_version,
            response.status_code,
            response.reason_phrase,
        )
    # Not followed (that is plain httpx): named, as httpx names it; the range first, since httpx's
    # own test compares against its IntEnum codes (~0.5 us a call).
    if 300 <= response.status_code < 400 and response.has_redirect_location:
        response.next_request = client._build_redirect_request(request, response)


def _elapsed(response: httpx.Response, start: float) -> None:
    """``response.elapsed``, set once the answer is closed as httpx's bound stream sets it."""
    response.elapsed = datetime.timedelta(seconds=time.perf_counter() - start)


class SessionClient(httpx.Client):
    """``httpx.Client`` with a shorter path for the generated operations' calls (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept_urls = _KeptUrls()
        _log_secrets.install()

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        **other: Any,
    ) -> httpx.Response:
        sending = _log_secrets.SENDING.set(True)  # its log records name no secret
        try:
            return self._request(method, url, params, json, headers, other)
        finally:
            _log_secrets.SENDING.reset(sending)

    def _request(
        self,
        method: str,
        url: str,
        params: dict[str, str] | None,
        json: Any,
        headers: dict[str, str] | None,
        other: dict[str, Any],
    ) -> httpx.Response:
        plain, signer = _takes_plain_path(self, url, params, other)
        if plain:
            return super().request(method, url, params=params, json=json, headers=headers, **other)
        request = _short_request(self, self._kept_urls, signer, method, url, params, json, headers)
        start = time.perf_counter()
        try:
            response = self._transport_for_url(request.url).handle_request(request)
        except httpx.RequestError as exc:
            exc.request = request  # as httpx's own send does: the error names its request
            raise
        try:
            _received(self, request, response)
            response.read()
        finally:
            response.close()
            _elapsed(response, start)
        return response


class AsyncSessionClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` with the same shorter path as :class:`SessionClient` (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept_urls = _KeptUrls()
        _log_secrets.install()

    async def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        **other: Any,
    ) -> httpx.Response:
        sending = _log_secrets.SENDING.set(True)  # its log records name no secret
        try:
            return await self._request(method, url, params, json, headers, other)
        finally:
            _log_secrets.SENDING.reset(sending)

    async def _request(
        self,
        method: str,
        url: str,
        params: dict[str, str] | None,
        json: Any,
        headers: dict[str, str] | None,
        other: dict[str, Any],
    ) -> httpx.Response:
        plain, signer = _takes_plain_path(self, url, params, other)
        if plain:
            return await super().request(method, url, params=params, json=json, headers=headers, **other)
        request = _short_request(self, self._kept_urls, signer, method, url, params, json, headers)
        start = time.perf_counter()
        try:
            response = await self._transport_for_url(request.url).handle_async_request(request)
        except httpx.RequestError as exc:
            exc.request = request  # as httpx's own send does: the error names its request
            raise
        try:
            _received(self, request, response)
            await response.aread()
        finally:
            await response.aclose()
            _elapsed(response, start)
        return response
