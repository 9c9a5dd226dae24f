"""``httpx.Auth`` that signs each request with Volcengine's HMAC-SHA256 (SignerV4)."""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import UTC, datetime

import httpx

from volcengine_ml_platform.config import Credentials, Settings
from volcengine_ml_platform.errors import AuthError
from volcengine_ml_platform.signing import SigningResult, parse_wire_query, sign

__all__ = ["Credentials", "VolcSignerAuth"]

SERVICE = "ml_platform"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class VolcSignerAuth(httpx.Auth):
    """Signs the request exactly as httpx will send it: method, Host (with a non-default port), path,
    query, the headers present at that moment with their original casing, and the body bytes.
    """

    # httpx then reads a streamed body before auth_flow, so the signed bytes are the sent bytes.
    requires_request_body = True

    def __init__(
        self,
        credentials: Credentials,
        *,
        region: str,
        service: str = SERVICE,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.credentials = credentials
        self.region = region
        self.service = service
        self.clock = clock

    @classmethod
    def from_settings(
        cls, settings: Settings, *, service: str = SERVICE, clock: Callable[[], datetime] = _utc_now
    ) -> VolcSignerAuth:
        credentials = settings.credentials
        if credentials is None:
            raise AuthError(
                "no credentials: pass access_key and secret_key, set VOLC_ACCESSKEY and VOLC_SECRETKEY "
                "(or VOLCENGINE_ACCESS_KEY and VOLCENGINE_SECRET_KEY), "
                f"or write ak and sk to {settings.config_file}{settings.no_keys_hint()}"
            )
        return cls(credentials, region=settings.region.value, service=service, clock=clock)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request

    def sign(self, request: httpx.Request) -> SigningResult:
        """Add the signature headers to ``request`` (whose body must be read) and return the details."""
        encoding = request.headers.encoding
        headers = [(k.decode(encoding), v.decode(encoding)) for k, v in request.headers.raw]
        result = sign(
            request.method,
            request.url.path,
            parse_wire_query(request.url.query),
            headers,
            request.content,
            access_key=self.credentials.access_key,
            secret_key=self.credentials.secret_key,
            region=self.region,
            service=self.service,
            x_date=self.clock(),
            session_token=self.credentials.session_token,
        )
        for name, value in result.headers.items():
            request.headers[name] = value
        return result
