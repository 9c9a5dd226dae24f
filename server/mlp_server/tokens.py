"""Secure tokens for the inner API: self-contained, HMAC-signed with the platform's own secret.

``v1.<payload>.<mac>``, both parts base64url: the payload names the target account and user, the
expiry and the token's kind; a forged or altered token fails the MAC, an old one its expiry. The
secret lives in the data folder (``token.key``) and never leaves the server.

Two kinds share the format and the secret, and neither is accepted as the other:
- ``inner``: AdminGetSecureToken's Token, the inner door's credential. It also names the
  administrator key that asked for it, so that revoking (or demoting) that key ends its tokens.
- ``sts``: the folder store's GetSTSToken SessionToken, a placeholder object-storage credential.
  Were it accepted by the inner door, any key could mint inner access, and every GetSTSToken
  would renew it for another ``Duration``.
A token of an earlier release carries no kind and is refused: ask for a new one.
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
from typing import Literal

from .errors import ApiError

_PREFIX = "v1"
# v1.<base64url payload>.<base64url mac>: anything else (non-ASCII, more dots ...) is malformed.
_SHAPE = re.compile(r"v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

TokenKind = Literal["inner", "sts"]
_WRONG_KIND: dict[str, str] = {
    "inner": "the Token is an object-storage session token (GetSTSToken's SessionToken), not a secure"
    " token: ask for one with AdminGetSecureToken",
    "sts": "the token is a secure token (AdminGetSecureToken), not an object-storage session token",
}


@dataclass(frozen=True)
class TokenClaims:
    account_id: int
    user_id: int
    expires: datetime
    kind: TokenKind
    # The access key that asked for the token (inner tokens); None for an STS session token.
    issuer: str | None = None


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

    def issue(
        self,
        account_id: int,
        user_id: int,
        ttl: timedelta,
        now: datetime,
        *,
        kind: TokenKind,
        issuer: str | None = None,
    ) -> tuple[str, datetime]:
        if (kind == "inner") != (issuer is not None):
            raise ValueError("an inner token names the key that asked for it; an STS token names none")
        expires = (now + ttl).replace(microsecond=0)
        claims: dict[str, object] = {
            "a": account_id,
            "u": user_id,
            "exp": int(expires.timestamp()),
            "k": kind,
            "n": secrets.token_hex(8),
        }
        if issuer is not None:
            claims["i"] = issuer
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{_PREFIX}.{payload}.{self._mac(payload)}", expires

    def verify(self, token: str, now: datetime, kind: TokenKind = "inner") -> TokenClaims:
        """The claims of a genuine, unexpired token of ``kind``; InvalidSecretToken otherwise."""
        if _SHAPE.fullmatch(token) is None:
            raise ApiError("InvalidSecretToken", "the Token is malformed (expected v1.<payload>.<mac>)")
        _, payload, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise ApiError("InvalidSecretToken", "the Token is not valid (bad signature)")
        try:
            claims = json.loads(_unb64(payload))
            expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
            found = claims.get("k")
            issuer = claims.get("i")
            if issuer is not None and not isinstance(issuer, str):
                raise TypeError(issuer)
            account_id, user_id = int(claims["a"]), int(claims["u"])
        except (ValueError, KeyError, TypeError, OverflowError, OSError, AttributeError):
            raise ApiError("InvalidSecretToken", "the Token is malformed") from None
        if found is None:
            raise ApiError(
                "InvalidSecretToken",
                "the Token was issued by an earlier release of the platform and is no longer accepted:"
                " ask for a new one (AdminGetSecureToken)",
            )
        if found != kind:
            raise ApiError("InvalidSecretToken", _WRONG_KIND[kind])
        if (kind == "inner") != (issuer is not None):
            raise ApiError("InvalidSecretToken", "the Token is malformed")
        result = TokenClaims(account_id, user_id, expires, kind, issuer)
        if now >= expires:
            raise ApiError("InvalidSecretToken", f"the Token expired at {expires.isoformat()}")
        return result
