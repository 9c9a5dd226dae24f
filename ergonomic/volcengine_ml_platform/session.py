"""One configured connection to a platform: the generated client, signed, with retries and typed errors.

Every documented method goes through :meth:`Session.call`: the body is checked against the
document's request schema (nothing is sent when it is wrong), the generated operation sends it, and
the answer is either the generated response model or an exception from :mod:`.errors`. The session
writes no HTTP and no JSON by hand.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, TypeVar

import httpx

from ml_platform_client import Client
from ml_platform_client.errors import UnexpectedStatus
from ml_platform_client.models import ErrorResponse

from . import __version__, schema
from .auth import VolcSignerAuth
from .config import Credentials, Settings, resolve_settings
from .errors import AuthError, MLPlatformError, ServerError, ValidationError, error_for
from .transfer.retry import DEFAULT_RETRY, RetryPolicy

log = logging.getLogger("volcengine_ml_platform")

EMBEDDED_BASE_URL = "http://ml-platform.embedded"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
# 5xx codes that waiting does not fix (the platform's disk is full or read-only): never retried.
PERMANENT_CODES = frozenset({"StorageUnavailable"})
USER_AGENT = f"volcengine-ml-platform-models/{__version__}"


class _Body(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


B = TypeVar("B", bound=_Body)


def check_body(body_cls: type[Any], body: dict[str, Any]) -> None:
    """Raise ValidationError naming every problem of ``body`` against its request schema."""
    found = schema.problems(body_cls.__name__, body)
    if found:
        first = next(iter(schema.errors(body_cls.__name__, body)))
        raise ValidationError("; ".join(found), field=schema.field_path(first) or None)


def _embedded_credentials(data_dir: Path, settings: Settings) -> Credentials:
    # Keys passed as arguments are meant for this platform. Otherwise the keys the embedded platform
    # generated beside its data win over keys from env or ~/.volc/config, which are usually the cloud's.
    configured = settings.credentials
    if configured is not None and settings.access_key.source == "argument":
        return configured
    path = data_dir / "credentials.json"
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        return Credentials(data["ak"], data["sk"])
    if configured is None:
        raise AuthError(
            f"the embedded platform in {data_dir} has no credentials.json and no keys are configured"
        )
    return configured


def _error_code(parsed: Any) -> str | None:
    return parsed.response_metadata.error.code if isinstance(parsed, ErrorResponse) else None


def tls_verify() -> ssl.SSLContext | bool:
    """The CA bundle to verify https endpoints with: ``REQUESTS_CA_BUNDLE``, then ``SSL_CERT_FILE`` (what
    the Volcengine SDKs, through requests, and OpenSSL read), else the default trust store. A local
    platform with ``mlp serve --tls-self-signed`` prints the file to set."""
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if path := os.environ.get(name):
            return ssl.create_default_context(cafile=path)
    return True


def _untrusted_certificate(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Session:
    """A platform connection chosen by :class:`~.config.Settings`: embedded, a local server, or Volcengine."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings or resolve_settings()
        self.region = self.settings.region.value
        self.retry = retry
        data_dir = self.settings.data_dir.value
        if self.settings.mode == "embedded":
            from .embedded import EmbeddedTransport, embedded_app

            app = embedded_app(data_dir, self.region)  # creates the platform (and its keys) on first use
            transport = transport or EmbeddedTransport(app)
            base_url = EMBEDDED_BASE_URL
            credentials = _embedded_credentials(data_dir.expanduser(), self.settings)
        else:
            base_url = str(self.settings.endpoint.value)
            configured = self.settings.credentials
            if configured is None:
                raise AuthError(
                    f"no access keys for {base_url}: set VOLC_ACCESSKEY and VOLC_SECRETKEY, "
                    "or ak/sk in ~/.volc/config"
                )
            credentials = configured
        self.credentials = credentials
        self.base_url = base_url
        self._transport = transport
        self.timeout = timeout
        self.client = self._client(base_url, VolcSignerAuth(credentials, region=self.region))

    def _client(self, base_url: str, auth: httpx.Auth | None) -> Client:
        http = httpx.Client(
            base_url=base_url,
            transport=self._transport,
            verify=tls_verify(),
            auth=auth,
            timeout=self.timeout,
            headers={"User-Agent": USER_AGENT},
        )
        client = Client(base_url=base_url)
        client.set_httpx_client(http)
        return client

    def inner_client(self) -> Client:
        """A client for the inner front door (authenticated by a Token parameter, not a signature).

        Its host is ``ML_PLATFORM_HOST``; the local platform serves both doors on one address."""
        base = self.settings.inner_endpoint if self.settings.mode == "remote" else None
        return self._client(base or self.base_url, None)

    def call(
        self,
        operation: ModuleType,
        body_cls: type[B],
        body: dict[str, Any],
        *,
        client: Client | None = None,
        **params: Any,
    ) -> Any:
        """Validate ``body``, send it with ``operation`` (a generated module), return the parsed envelope.

        Retries 429/5xx answers and connection failures with backoff; raises a typed error otherwise.
        """
        check_body(body_cls, body)
        request = body_cls.from_dict(body)  # type: ignore[attr-defined]
        send: Callable[[], Any] = lambda: operation.sync_detailed(  # noqa: E731
            client=client or self.client, body=request, **params
        )
        name = body_cls.__name__.removesuffix("Request")
        attempt = 1
        while True:
            try:
                response = send()
            except httpx.TransportError as exc:
                if _untrusted_certificate(exc):  # retrying cannot help; say what would
                    raise ServerError(
                        f"{name}: the certificate of {self.base_url} is not trusted ({exc}); set "
                        "REQUESTS_CA_BUNDLE or SSL_CERT_FILE to its CA file (`mlp serve --tls-self-signed` "
                        "prints it)"
                    ) from exc
                if attempt >= self.retry.max_attempts:
                    raise ServerError(f"{name}: cannot reach {self.base_url}: {exc}") from exc
                self._wait(name, attempt, str(exc))
                attempt += 1
                continue
            except UnexpectedStatus as exc:
                if exc.status_code in RETRY_STATUS and attempt < self.retry.max_attempts:
                    self._wait(name, attempt, f"HTTP {exc.status_code}")
                    attempt += 1
                    continue
                raise ServerError(str(exc), status_code=exc.status_code) from exc
            status = int(response.status_code)
            if status == 200:
                return response.parsed
            if (
                status in RETRY_STATUS
                and attempt < self.retry.max_attempts
                and _error_code(response.parsed) not in PERMANENT_CODES
            ):
                self._wait(name, attempt, f"HTTP {status}")
                attempt += 1
                continue
            raise self._error(response.parsed, status)

    def _wait(self, what: str, attempt: int, why: str) -> None:
        delay = self.retry.delay(attempt)
        log.warning(
            "%s failed (%s, attempt %d of %d); retrying in %.2fs",
            what,
            why,
            attempt,
            self.retry.max_attempts,
            delay,
        )
        time.sleep(delay)

    @staticmethod
    def _error(parsed: Any, status: int) -> MLPlatformError:
        if isinstance(parsed, ErrorResponse):
            meta = parsed.response_metadata
            err = meta.error
            return error_for(
                err.message, code=err.code, code_n=err.code_n, status_code=status, request_id=meta.request_id
            )
        return ServerError(f"HTTP {status} without the documented error envelope", status_code=status)

    def close(self) -> None:
        self.client.get_httpx_client().close()
