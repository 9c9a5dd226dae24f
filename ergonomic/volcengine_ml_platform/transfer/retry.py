"""Retries of transient object-storage failures: the one helper every request of the transfer layer uses.

botocore's own retries are switched off (see ``S3Store``) so that the number of attempts is exactly
``RetryPolicy.max_attempts`` wherever a failure happens. A transient failure is retried by the innermost
``call_with_retry`` that sees it; when that one gives up it raises ``TransferError``, which is not
transient, so an outer ``call_with_retry`` never multiplies the attempts.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from ..errors import TransferError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Error codes of S3 and TOS that mean "try again later" whatever the HTTP status says.
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequests",
        "TooManyRequestsException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "ExceedAccountQPSLimit",
        "ExceedAccountRateLimit",
        "ExceedBucketQPSLimit",
        "ExceedBucketRateLimit",
    }
)
_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is worth retrying: connection trouble, timeouts, throttling or a 5xx."""
    from ._obstore import is_transient as obstore_transient

    if (verdict := obstore_transient(exc)) is not None:  # the S3 store's whole-object requests
        return verdict
    # Imported here so that the folder store never loads botocore.
    from botocore.exceptions import ClientError, HTTPClientError, IncompleteReadError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in _TRANSIENT_CODES or status in _TRANSIENT_STATUS
    # HTTPClientError covers read timeouts, closed connections and broken response streams;
    # the builtin ConnectionError and TimeoutError are what sockets and files raise directly.
    return isinstance(
        exc, BotoConnectionError | HTTPClientError | IncompleteReadError | ConnectionError | TimeoutError
    )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter: attempt ``n`` waits up to ``base_delay * 2**(n-1)``."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay < 0 or self.max_delay < 0:
            raise ValueError(f"invalid retry policy {self}")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        cap = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        # "Equal jitter": at least half the cap, so waits still grow, and spread so that many clients
        # throttled together do not come back together.
        return cap / 2 + random.uniform(0, cap / 2)


DEFAULT_RETRY = RetryPolicy()


def call_with_retry(fn: Callable[[], T], *, what: str, policy: RetryPolicy = DEFAULT_RETRY) -> T:
    """Call ``fn`` until it succeeds, retrying transient failures up to ``policy.max_attempts`` in all.

    ``what`` names the operation and its object (e.g. ``"upload of tos://b/k"``) in logs and errors.
    Non-transient exceptions propagate unchanged; a transient failure on the last attempt becomes
    ``TransferError``.
    """
    attempt = 1
    while True:
        try:
            return fn()
        except Exception as exc:
            time.sleep(_after_failure(exc, attempt, what, policy))
            attempt += 1


async def call_with_retry_async(
    fn: Callable[[], Awaitable[T]], *, what: str, policy: RetryPolicy = DEFAULT_RETRY
) -> T:
    """:func:`call_with_retry` for a coroutine function, waiting with ``asyncio.sleep``."""
    import asyncio

    attempt = 1
    while True:
        try:
            return await fn()
        except Exception as exc:
            await asyncio.sleep(_after_failure(exc, attempt, what, policy))
            attempt += 1


def _after_failure(exc: Exception, attempt: int, what: str, policy: RetryPolicy) -> float:
    """Seconds to wait before the next attempt after failed attempt ``attempt``; re-raises ``exc`` if it
    is not transient, and a ``TransferError`` if it was the last attempt."""
    if not is_transient(exc):
        raise exc
    if attempt >= policy.max_attempts:
        raise TransferError(f"{what} failed after {attempt} attempts: {exc}") from exc
    delay = policy.delay(attempt)
    logger.warning(
        "%s failed (attempt %d of %d): %s; retrying in %.2fs", what, attempt, policy.max_attempts, exc, delay
    )
    return delay
