"""The asynchronous twin of :class:`~.session.Session`: the generated asyncio operations on an
``httpx.AsyncClient`` (with the sync session's short path: :mod:`.http_client`), signed the same way,
with the same checks, retries and typed errors.

The embedded platform is reached through httpx's own ASGI transport, on the caller's event loop (the
synchronous session needs a loop in a thread for that; here the caller already has one)."""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any

import httpx

from ml_platform_client import Client
from ml_platform_client.errors import UnexpectedStatus

from .auth import VolcSignerAuth
from .config import Settings
from .errors import ServerError
from .http_client import AsyncSessionClient
from .session import (
    CONNECT_TIMEOUT,
    RETRY_STATUS,
    USER_AGENT,
    Session,
    _gave_up_with,
    _verify_for,
    _worth_retrying,
    check_body,
    is_idempotent,
    log,
    may_have_acted,
    may_have_left,
    transport_failure,
)
from .transfer.retry import DEFAULT_RETRY, RetryPolicy


class AsyncSession:
    """A platform connection for asyncio code; settings and credentials are resolved as for ``Session``."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        # The synchronous session resolves the mode, the endpoint and the credentials (and opens the
        # embedded platform); it sends nothing unless asked to.
        self.sync = Session(settings, timeout=timeout, retry=retry)
        self.settings = self.sync.settings
        self.region = self.sync.region
        self.retry = self.sync.retry
        self.credentials = self.sync.credentials
        self.base_url = self.sync.base_url
        self.scope = self.sync.scope
        if transport is None and self.sync.platform is not None:
            from .embedded import EmbeddedAsyncTransport

            # The sync session's platform: its quick reads answer the reads they are sure of.
            transport = EmbeddedAsyncTransport(self.sync.platform)
        self._transport = transport
        self.timeout = timeout
        self.client = self._client(self.base_url, VolcSignerAuth(self.credentials, region=self.region))
        self._inner: Client | None = None
        self._reached = False

    def _client(self, base_url: str, auth: httpx.Auth | None) -> Client:
        http = AsyncSessionClient(
            base_url=base_url,
            transport=self._transport,
            verify=_verify_for(base_url),  # as the sync session: no trust store for plain http
            auth=auth,
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, CONNECT_TIMEOUT)),
            headers={"User-Agent": USER_AGENT},
        )
        client = Client(base_url=base_url)
        client.set_async_httpx_client(http)
        return client

    def inner_client(self) -> Client:
        """The inner front door (a Token parameter, no signature), as :meth:`Session.inner_client`;
        one client, closed with the session."""
        if self._inner is None:
            base = self.settings.inner_endpoint if self.settings.mode == "remote" else None
            self._inner = self._client(base or self.base_url, None)
        return self._inner

    async def call(
        self,
        operation: ModuleType,
        body_cls: type[Any],
        body: dict[str, Any],
        *,
        client: Client | None = None,
        **params: Any,
    ) -> Any:
        """Validate ``body``, send it with ``operation.asyncio_detailed``, return the parsed envelope.

        Retries as ``Session.call`` does (the same decisions: :func:`transport_failure`,
        idempotency, transient codes)."""
        check_body(body_cls, body)
        request = body_cls.from_dict(body)
        name = body_cls.__name__.removesuffix("Request")
        idempotent = is_idempotent(operation)
        attempt = 1
        sent = False  # whether an attempt so far may have been carried out
        while True:
            try:
                response = await operation.asyncio_detailed(
                    client=client or self.client, body=request, **params
                )
            except httpx.TransportError as exc:
                failure = transport_failure(
                    name,
                    self.base_url,
                    exc,
                    reached=self._reached,
                    idempotent=idempotent,
                    last=attempt >= self.retry.max_attempts,
                    sent_before=sent,
                )
                if failure is not None:
                    raise failure from exc
                sent = sent or may_have_left(exc)
                await self._wait(name, attempt, str(exc))
                attempt += 1
                continue
            except UnexpectedStatus as exc:
                if exc.status_code in RETRY_STATUS and idempotent and attempt < self.retry.max_attempts:
                    sent = sent or may_have_acted(exc.status_code)
                    await self._wait(name, attempt, f"HTTP {exc.status_code}")
                    attempt += 1
                    continue
                raise _gave_up_with(ServerError(str(exc), status_code=exc.status_code), sent) from exc
            self._reached = True
            status = int(response.status_code)
            if status == 200:
                return response.parsed
            if attempt < self.retry.max_attempts and _worth_retrying(status, response.parsed, idempotent):
                sent = sent or may_have_acted(status)
                await self._wait(name, attempt, f"HTTP {status}")
                attempt += 1
                continue
            raise _gave_up_with(Session._error(response.parsed, status), sent)

    async def _wait(self, what: str, attempt: int, why: str) -> None:
        delay = self.retry.delay(attempt)
        log.warning(
            "%s failed (%s, attempt %d of %d); retrying in %.2fs",
            what,
            why,
            attempt,
            self.retry.max_attempts,
            delay,
        )
        await asyncio.sleep(delay)

    async def aclose(self) -> None:
        await self.client.get_async_httpx_client().aclose()
        if self._inner is not None:
            await self._inner.get_async_httpx_client().aclose()
        self.sync.close()
