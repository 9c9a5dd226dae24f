"""GetTOSUploadPath: a fresh prefix in the caller's bucket (created in an S3 store if missing)."""

from __future__ import annotations

import secrets
import threading
from typing import Any

from ..context import Caller, Platform

_lock = threading.Lock()
_last_ms = 0
_EXISTS = ("BucketAlreadyOwnedByYou", "BucketAlreadyExists")


def _fresh_millis(now_ms: int) -> int:
    # The seed's layout uses a millisecond timestamp as the fresh folder; two calls of this process
    # within one millisecond still get different stamps.
    global _last_ms
    with _lock:
        _last_ms = max(now_ms, _last_ms + 1)
        return _last_ms


def fresh_folder(now_ms: int) -> str:
    """``{13-digit ms}-{8 hex}``: the stamp is unique per process only, and several processes may
    serve one database (a team's servers, `mlp serve` beside the embedded platform); the random tag
    (32 bits) keeps their prefixes apart, so two uploads never mix files or share a Path (which
    CreateModel would take as a retry of the first). The storage sweep reads the stamp before it."""
    return f"{_fresh_millis(now_ms):013d}-{secrets.token_hex(4)}"


def ensure_bucket(platform: Platform, bucket: str) -> None:
    """The account's bucket is "auto-created" (its name says so): the folder store makes folders as it
    writes, an S3-compatible store needs the bucket to exist before the client's first upload."""
    s3 = platform.settings.s3
    if s3 is None or bucket in platform.known_buckets:
        return
    from botocore.exceptions import ClientError

    from volcengine_ml_platform.transfer.s3 import S3Store

    if not isinstance(platform.objects, S3Store):
        return
    client = platform.objects.client
    try:
        client.head_bucket(Bucket=bucket)
        platform.known_buckets.add(bucket)
        return
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
            raise
    # S3 refuses a LocationConstraint that names its default region.
    where: dict[str, Any] = {}
    if s3.region != "us-east-1":
        where["CreateBucketConfiguration"] = {"LocationConstraint": s3.region}
    try:
        client.create_bucket(Bucket=bucket, **where)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in _EXISTS:  # a concurrent request made it
            raise
    platform.known_buckets.add(bucket)


def get_tos_upload_path(platform: Platform, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    folders = [body["ServiceName"], *body.get("Path", [])]
    folder = fresh_folder(int(platform.clock().timestamp() * 1000))
    bucket = platform.bucket_for(caller.account_id)
    ensure_bucket(platform, bucket)
    return {
        "Bucket": bucket,
        "KeyPrefix": "/".join([*folders, folder]) + "/",
        "Endpoint": platform.objects_endpoint,
    }
