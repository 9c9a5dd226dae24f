"""The session's ``httpx.Client``: the generated operations' requests sent with less of httpx's per-call work.

A generated operation calls ``request("post", "/", params={"Action": ..., "Version": ...}, json=...,
headers=...)`` and nothing else of the client. For exactly that call, :class:`SessionClient` builds the
same request httpx would (the URL joined to ``base_url`` and its query encoded once per operation,
the client's headers, the JSON body, the timeout), signs it with the session's
:class:`~.auth.VolcSignerAuth`, and sends it through the same transport (``mounts`` and proxies
included), then reads the answer. What it leaves out is what these calls never use: the auth-flow and
redirect generators (no redirects are followed), event hooks and, unless the answer sets one, the
cookie jar (httpx parses every answer for cookies through urllib's request objects). A signed request
then costs the client 25-35% less CPU (bench/registrations.py prints the client's CPU per request).
Any other call, an auth other than the signer, event hooks, cookies already kept or a closed client:
plain httpx.
The bytes on the wire are identical (tests/unit/test_http_client.py).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from .auth import VolcSignerAuth

_httpx_log = logging.getLogger("httpx")
# Distinct (path, query) pairs kept: the operations' Action/Version pairs, plus the inner door's
# Token queries; cleared when full rather than grown without bound.
_MAX_URLS = 256


class SessionClient(httpx.Client):
    """``httpx.Client`` with a shorter path for the generated operations' calls (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept_urls: dict[tuple[str, tuple[tuple[str, str], ...]], httpx.URL] = {}

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
        auth = self.auth
        signer = auth if isinstance(auth, VolcSignerAuth) else None
        plain = (
            other
            or self.is_closed  # httpx refuses it, naming the closed client
            or not isinstance(url, str)
            or not (params is None or isinstance(params, dict))
            or (auth is not None and signer is None)
            or self.cookies
            or any(self.event_hooks.values())
        )
        if plain:
            return super().request(method, url, params=params, json=json, headers=headers, **other)
        request = httpx.Request(
            method,
            self._kept_url(method, url, params),
            headers=self._merged_headers(headers),
            json=json,
            extensions={"timeout": self.timeout.as_dict()},
        )
        if signer is not None:
            signer.sign(request)
        try:
            response = self._transport_for_url(request.url).handle_request(request)
        except httpx.RequestError as exc:
            exc.request = request  # as httpx's own send does: the error names its request
            raise
        response.request = request
        try:
            response.read()
        finally:
            response.close()
        if "set-cookie" in response.headers:
            self.cookies.extract_cookies(response)  # kept and sent again, as httpx would
        if _httpx_log.isEnabledFor(logging.INFO):
            _httpx_log.info(
                'HTTP Request: %s %s "%s %d %s"',
                request.method,
                request.url,
                response.http_version,
                response.status_code,
                response.reason_phrase,
            )
        return response

    def _kept_url(self, method: str, url: str, params: dict[str, str] | None) -> httpx.URL:
        key = (url, tuple(params.items()) if params else ())
        found = self._kept_urls.get(key)
        if found is None:
            if len(self._kept_urls) >= _MAX_URLS:
                self._kept_urls.clear()
            found = self._kept_urls[key] = self.build_request(method, url, params=params).url
        return found

    def _merged_headers(self, headers: dict[str, str] | None) -> httpx.Headers:
        merged = httpx.Headers(self.headers)
        if headers:
            merged.update(headers)
        return merged
