"""Secure tokens for the inner API: self-contained, HMAC-signed with the platform's own secret.

``v1.<payload>.<mac>``, both parts base64url: the payload names the target account and user and the
expiry, so checking a token needs no lookup; a forged or altered token fails the MAC, an old one its
expiry. The secret lives in the data folder (``token.key``) and never leaves the server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .errors import ApiError

_PREFIX = "v1"
# v1.<base64url payload>.<base64url mac>: anything else (non-ASCII, more dots ...) is malformed.
_SHAPE = re.compile(r"v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class TokenClaims:
    account_id: int
    user_id: int
    expires: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the token secret must be at least 32 bytes")
        self._secret = secret

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode("ascii"), hashlib.sha256).digest())

    def issue(self, account_id: int, user_id: int, ttl: timedelta, now: datetime) -> tuple[str, datetime]:
        expires = (now + ttl).replace(microsecond=0)
        claims = {"a": account_id, "u": user_id, "exp": int(expires.timestamp()), "n": secrets.token_hex(8)}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{_PREFIX}.{payload}.{self._mac(payload)}", expires

    def verify(self, token: str, now: datetime) -> TokenClaims:
        if _SHAPE.fullmatch(token) is None:
            raise ApiError("InvalidSecretToken", "the Token is malformed (expected v1.<payload>.<mac>)")
        _, payload, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise ApiError("InvalidSecretToken", "the Token is not valid (bad signature)")
        try:
            claims = json.loads(_unb64(payload))
            expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
            result = TokenClaims(int(claims["a"]), int(claims["u"]), expires)
        except (ValueError, KeyError, TypeError, OverflowError, OSError):
            raise ApiError("InvalidSecretToken", "the Token is malformed") from None
        if now >= expires:
            raise ApiError("InvalidSecretToken", f"the Token expired at {expires.isoformat()}")
        return result
