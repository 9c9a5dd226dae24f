"""Temporary object-store keys that are asked for again before they expire.

The platform hands out object-store credentials for an hour (GetSTSToken); a transfer that outlasts
them would fail half-way with ExpiredToken. :class:`RenewingKeys` holds the current keys and fetches new
ones once fewer than ``margin`` seconds are left, whenever a request is signed: botocore through its
``RefreshableCredentials``, obstore through its ``credential_provider``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.credentials import CredentialResolver, RefreshableCredentials

RENEW_MARGIN = 300.0  # renew this long before expiry: a request signed just before must still arrive

_FAR_FUTURE = 253402214400.0  # 9999-12-31: within every platform's datetime range


def now() -> float:
    return time.time()  # a function, so that a test can move the client's clock with the store's


@dataclass(frozen=True)
class StoreKeys:
    access_key: str
    secret_key: str
    session_token: str | None
    expires: float  # seconds since the epoch


class RenewingKeys:
    """The current keys; ``fetch`` is called (one caller at a time) for new ones near their expiry."""

    def __init__(
        self, first: StoreKeys, fetch: Callable[[], StoreKeys], margin: float = RENEW_MARGIN
    ) -> None:
        self.fetch = fetch  # replaced by the owner when the way to reach the platform changes
        self.margin = margin
        self._keys = first
        self._lock = threading.Lock()

    def current(self) -> StoreKeys:
        with self._lock:
            if now() >= self._keys.expires - self.margin:
                self._keys = self.fetch()
            return self._keys

    def botocore(self) -> RefreshableCredentials:
        """Credentials botocore checks before signing each request, renewed through :meth:`current`."""
        from botocore.credentials import RefreshableCredentials

        def metadata() -> dict[str, Any]:
            keys = self.current()
            return {
                "access_key": keys.access_key,
                "secret_key": keys.secret_key,
                "token": keys.session_token,
                # Keys that do not expire (inf) are given a far expiry: botocore needs a date.
                "expiry_time": datetime.fromtimestamp(min(keys.expires, _FAR_FUTURE), UTC).isoformat(),
            }

        first = metadata()
        return RefreshableCredentials(
            first["access_key"],
            first["secret_key"],
            first["token"],
            datetime.fromisoformat(first["expiry_time"]),
            metadata,
            "mlp-sts",
            time_fetcher=lambda: datetime.fromtimestamp(now(), UTC),
            # botocore's own windows (15 and 10 minutes) would ask every request while ours are not due.
            advisory_timeout=int(self.margin),
            mandatory_timeout=int(self.margin) // 2,
        )

    def botocore_resolver(self) -> CredentialResolver:
        """A botocore session's ``credential_provider`` component that answers :meth:`botocore`."""
        from botocore.credentials import CredentialProvider, CredentialResolver

        renewing = self

        class Provider(CredentialProvider):
            METHOD = "mlp-sts"

            def load(self) -> RefreshableCredentials:
                return renewing.botocore()

        return CredentialResolver([Provider()])

    def obstore(self) -> Callable[[], dict[str, Any]]:
        """obstore's ``credential_provider``: asked before each request (the keys are said to expire
        at once, so obstore keeps none), answered from :meth:`current` without a request."""

        def provide() -> dict[str, Any]:
            keys = self.current()
            return {
                "access_key_id": keys.access_key,
                "secret_access_key": keys.secret_key,
                "token": keys.session_token,
                "expires_at": datetime.now(UTC),
            }

        return provide
