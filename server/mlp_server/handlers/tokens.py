"""AdminGetSecureToken (admin keys only) and GetSTSToken (inner, with a secure token)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, timedelta
from typing import Any

from ..context import Caller, Platform
from ..errors import ApiError
from ..sts import assume_scoped_role
from .storage import ensure_bucket


def admin_get_secure_token(platform: Platform, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    if not caller.is_admin or caller.access_key is None:
        raise ApiError("AccessDenied", "AdminGetSecureToken needs an administrator's access key")
    account_id, user_id = body["AccountId"], body["UserId"]
    if platform.store.get_account(account_id) is None:
        raise ApiError(
            "NotFound", f"account {account_id} does not exist on this platform (`mlp account add`)"
        )
    token, expires = platform.tokens.issue(
        account_id,
        user_id,
        timedelta(seconds=body["TimeToLive"]),
        platform.clock(),
        kind="inner",
        issuer=caller.access_key,
    )
    return {"Token": token, "ExpiredTime": expires.isoformat()}


def get_sts_token(platform: Platform, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """Object-storage credentials for the caller's account (the token's account on the inner door).

    With an S3-compatible store: from the store's own STS (AssumeRole) with a session policy that
    reaches the account's bucket only, expiring after ``Duration`` seconds. A store without STS is
    refused (ObjectStoreSTSUnavailable) unless the operator set MLP_S3_UNSAFE_SHARE_STORE_KEYS, which
    hands out the store's own keys. With the folder store they are derived placeholders: the client
    writes the folder directly, and only the folder's file permissions protect it.
    """
    duration = int(body.get("Duration", 3600))
    s3 = platform.settings.s3
    bucket = platform.bucket_for(caller.account_id)
    if s3 is not None and not s3.unsafe_share_store_keys:
        ensure_bucket(platform, bucket)
        ak, sk, session, expires = assume_scoped_role(
            s3, bucket, f"mlp-{caller.account_id}-{caller.user_id}", duration
        )
        return {
            "AccessKeyId": ak,
            "SecretAccessKey": sk,
            "SessionToken": session,
            "ExpiredTime": expires.astimezone(UTC).replace(microsecond=0).isoformat(),
            "Endpoint": platform.objects_endpoint,
        }
    expires = (platform.clock() + timedelta(seconds=duration)).replace(microsecond=0)
    if s3 is not None:
        # The operator's unsafe opt-in: long-lived keys of the whole store, no session token.
        ak, sk, session = s3.access_key, s3.secret_key, ""
    else:
        seed = hmac.new(platform.settings.token_secret(), f"sts:{caller.account_id}".encode(), hashlib.sha256)
        ak, sk = "STSLOCAL" + seed.hexdigest()[:16].upper(), seed.hexdigest()[16:]
        # Kind "sts": the inner door refuses it, so it is never a way to a (renewable) secure token.
        session, _ = platform.tokens.issue(
            caller.account_id, caller.user_id, timedelta(seconds=duration), platform.clock(), kind="sts"
        )
    return {
        "AccessKeyId": ak,
        "SecretAccessKey": sk,
        "SessionToken": session,
        "ExpiredTime": expires.isoformat(),
        "Endpoint": platform.objects_endpoint,
    }
