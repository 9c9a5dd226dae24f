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
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx

from ml_platform_client import Client
from ml_platform_client.errors import UnexpectedStatus
from ml_platform_client.models import ErrorResponse

from . import __version__
from .auth import VolcSignerAuth
from .config import Credentials, Settings, resolve_settings
from .errors import AuthError, MLPlatformError, NotSentError, OutcomeUnknownError, ServerError, error_for
from .http_client import SessionClient
from .schema import check_body as check_body  # re-exported: the sessions check every body
from .transfer.retry import DEFAULT_RETRY, RetryPolicy

if TYPE_CHECKING:
    from .embedded import EmbeddedPlatform

log = logging.getLogger("volcengine_ml_platform")

EMBEDDED_BASE_URL = "http://ml-platform.embedded"
CONNECT_TIMEOUT = 5.0  # seconds to open a connection: a platform that is up answers in milliseconds
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
# 5xx answers worth another try: transient by their code. Any other documented code (a full disk,
# say) will not go away by itself; an answer without the envelope comes from a proxy in between.
TRANSIENT_CODES = frozenset({"InternalError", "ServiceUnavailableTemp", "FlowLimitExceeded"})
# Actions that may be sent again after an answer that never arrived: reads, updates that set values,
# fresh upload prefixes and tokens, and CreateModel, which the platform answers once per Path.
# Every other action (CreatePerfJob, CreateService, UpdateService, Start/Stop, Cancel*, Delete*) is
# retried only when the request provably never left: a refused or timed-out connection.
IDEMPOTENT_OPERATIONS = frozenset(
    {
        "create_model",
        "inner_create_model",
        "get_model",
        "list_models",
        "update_model",
        "get_model_next_version",
        "list_model_versions",
        "get_model_version",
        "inner_get_model_version",
        "update_model_version",
        "inner_update_model_version",
        "get_tos_upload_path",
        "inner_get_tos_upload_path",
        "get_sts_token",
        "admin_get_secure_token",
        "list_perf_jobs",
        "list_perf_tasks",
        "list_resource",
        "get_service",
        "list_services",
    }
)
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
USER_AGENT = f"volcengine-ml-platform-models/{__version__}"


class _Body(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


B = TypeVar("B", bound=_Body)


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


def is_idempotent(operation: ModuleType) -> bool:
    """Whether sending the generated ``operation`` twice has the effect of sending it once."""
    return operation.__name__.rpartition(".")[2] in IDEMPOTENT_OPERATIONS


def _worth_retrying(status: int, parsed: Any, idempotent: bool) -> bool:
    code = parsed.response_metadata.error.code if isinstance(parsed, ErrorResponse) else None
    if status == 429:
        return True  # throttled: refused before it was carried out
    if status not in RETRY_STATUS or not idempotent:
        return False
    return code is None or code in TRANSIENT_CODES


def transport_failure(
    name: str,
    base_url: str,
    exc: httpx.TransportError,
    *,
    reached: bool,
    idempotent: bool,
    last: bool,
    sent_before: bool,
) -> Exception | None:
    """What a failed send means: None to try again, else the error to raise. Shared by both sessions.

    A connection refused or timed out before anything ever answered means the platform is not there
    (wrong address, not started): waiting through the retries only hides that. A request that may have
    been carried out is sent again only when sending it twice does no harm. ``sent_before``: whether an
    earlier attempt of this request may have been carried out; if none was, and this one never left
    either, the error is :class:`NotSentError` (nothing happened), else :class:`OutcomeUnknownError`.
    """
    if _untrusted_certificate(exc):  # refused in the handshake, before the request; retrying cannot help
        return _gave_up(
            f"{name}: the certificate of {base_url} is not trusted ({exc}); set "
            "REQUESTS_CA_BUNDLE or SSL_CERT_FILE to its CA file (`mlp serve --tls-self-signed` prints it)",
            sent_before,
        )
    not_sent = isinstance(exc, _NOT_SENT)
    first_contact = not reached and isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
    if not last and not first_contact and (idempotent or not_sent):
        return None
    if not_sent:
        return _gave_up(f"{name}: cannot reach {base_url}: {exc}{_reach_hint(base_url, exc)}", sent_before)
    return OutcomeUnknownError(
        f"{name}: the connection to {base_url} failed after the request was sent "
        f"({exc}); it may or may not have been carried out",
    )


def may_have_left(exc: httpx.TransportError) -> bool:
    """Whether the request of a failed send may have reached the platform (not a refused, timed-out
    or never-made connection)."""
    return not isinstance(exc, _NOT_SENT)


def may_have_acted(status: int) -> bool:
    """Whether an answer retried with ``status`` may come from a request that was carried out: a 5xx
    may (the platform failed midway); a 429 was refused before anything was done."""
    return status != 429


def _gave_up(message: str, sent_before: bool) -> ServerError:
    """The last attempt never left: nothing happened, unless an earlier attempt may have."""
    if sent_before:
        return OutcomeUnknownError(
            f"{message}; an earlier attempt may have been carried out, so the outcome is unknown"
        )
    return NotSentError(message)


def _gave_up_with(error: MLPlatformError, sent_before: bool) -> MLPlatformError:
    """The answer a call gives up with, marked when an earlier attempt may have been carried out."""
    error.earlier_attempt_may_have_acted = sent_before
    return error


def _is_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def _no_keys_message(base_url: str) -> str:
    message = (
        f"no access keys for {base_url}: set VOLC_ACCESSKEY and VOLC_SECRETKEY, "
        "or run `mlp configure` (ak/sk in ~/.volc/config)"
    )
    if _is_local(base_url):
        message += (
            "; a local platform (`mlp serve`) wrote its administrator keys to credentials.json "
            "in its data folder"
        )
    return message


def _reach_hint(base_url: str, exc: Exception) -> str:
    """A hint for the common mistakes behind a failed connection."""
    text = str(exc)
    if base_url.startswith("https://") and ("SSL" in text or "TLS" in text or "record layer" in text):
        return (
            " (https was used: an endpoint without a scheme means https; a local platform "
            "`mlp serve` speaks plain http, so write http://HOST:PORT)"
        )
    if isinstance(exc, httpx.ConnectError) and _is_local(base_url):
        return " (is `mlp serve` running there?)"
    return ""


def tls_verify() -> ssl.SSLContext | bool:
    """The CA bundle to verify https endpoints with: ``REQUESTS_CA_BUNDLE``, then ``SSL_CERT_FILE`` (what
    the Volcengine SDKs, through requests, and OpenSSL read), else the default trust store. A local
    platform with ``mlp serve --tls-self-signed`` prints the file to set."""
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if path := os.environ.get(name):
            return ssl.create_default_context(cafile=path)
    return True


def _verify_for(base_url: str) -> ssl.SSLContext | bool:
    """What ``base_url`` is verified with. Plain http (the embedded platform, ``mlp serve``) uses no
    TLS, so no trust store is loaded (that takes tens of milliseconds at every start); the empty one
    given instead still requires a certificate, so a TLS connection it ever made would trust nothing."""
    if urlsplit(base_url).scheme.lower() == "https":
        return tls_verify()
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


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
            from .embedded import EmbeddedPlatform, EmbeddedTransport

            # Creates the platform (and its keys) on first use; reads it quickly when it needs nothing.
            platform = EmbeddedPlatform(data_dir, self.region)
            self.platform: EmbeddedPlatform | None = platform
            transport = transport or EmbeddedTransport(platform=platform)
            base_url = EMBEDDED_BASE_URL
            credentials = _embedded_credentials(data_dir.expanduser(), self.settings)
        else:
            self.platform = None
            base_url = str(self.settings.endpoint.value)
            configured = self.settings.credentials
            if configured is None:
                raise AuthError(_no_keys_message(base_url) + self.settings.no_keys_hint())
            credentials = configured
        self.credentials = credentials
        self.base_url = base_url
        # Which platform this is (every embedded one has the same base URL): locks that the clients
        # of one machine share are per platform.
        self.scope = base_url if self.platform is None else f"{base_url}#{data_dir.expanduser().resolve()}"
        self._transport = transport
        self.timeout = timeout
        self.client = self._client(base_url, VolcSignerAuth(credentials, region=self.region))
        self._reached = False  # whether any answer came back: a refused first connection fails at once
        self._inner: Client | None = None

    def _client(self, base_url: str, auth: httpx.Auth | None) -> Client:
        http = SessionClient(
            base_url=base_url,
            transport=self._transport,
            verify=_verify_for(base_url),
            auth=auth,
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, CONNECT_TIMEOUT)),
            headers={"User-Agent": USER_AGENT},
        )
        client = Client(base_url=base_url)
        client.set_httpx_client(http)
        return client

    def inner_client(self) -> Client:
        """A client for the inner front door (authenticated by a Token parameter, not a signature).

        Its host is ``ML_PLATFORM_HOST``; the local platform serves both doors on one address. One
        client, closed with the session."""
        if self._inner is None:
            base = self.settings.inner_endpoint if self.settings.mode == "remote" else None
            self._inner = self._client(base or self.base_url, None)
        return self._inner

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

        Retries with backoff: every action after a connection that could not be made and after 429;
        idempotent actions (see :data:`IDEMPOTENT_OPERATIONS`) also after transient 5xx answers and
        lost answers. A non-idempotent action whose answer was lost raises ``OutcomeUnknownError``.
        """
        check_body(body_cls, body)
        request = body_cls.from_dict(body)  # type: ignore[attr-defined]
        send: Callable[[], Any] = lambda: operation.sync_detailed(  # noqa: E731
            client=client or self.client, body=request, **params
        )
        name = body_cls.__name__.removesuffix("Request")
        idempotent = is_idempotent(operation)
        attempt = 1
        sent = False  # whether an attempt so far may have been carried out
        while True:
            try:
                response = send()
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
                self._wait(name, attempt, str(exc))
                attempt += 1
                continue
            except UnexpectedStatus as exc:
                if exc.status_code in RETRY_STATUS and idempotent and attempt < self.retry.max_attempts:
                    sent = sent or may_have_acted(exc.status_code)
                    self._wait(name, attempt, f"HTTP {exc.status_code}")
                    attempt += 1
                    continue
                raise _gave_up_with(ServerError(str(exc), status_code=exc.status_code), sent) from exc
            self._reached = True
            status = int(response.status_code)
            if status == 200:
                return response.parsed
            if attempt < self.retry.max_attempts and _worth_retrying(status, response.parsed, idempotent):
                sent = sent or may_have_acted(status)
                self._wait(name, attempt, f"HTTP {status}")
                attempt += 1
                continue
            raise _gave_up_with(self._error(response.parsed, status), sent)

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
        """Close the connections, and let go of the embedded platform (see :class:`.EmbeddedPlatform`)."""
        self.client.get_httpx_client().close()
        if self._inner is not None:
            self._inner.get_httpx_client().close()
