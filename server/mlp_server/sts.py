"""Scoped object-store credentials: AssumeRole at the S3 store's own STS with a session policy that
reaches one account's bucket only.

The effective permissions of the returned credentials are the intersection of the assumed role's
policy and the session policy (AWS, MinIO): whatever the role may do, these credentials can list, read,
write and delete objects of ``bucket`` and nothing else, and they expire after ``DurationSeconds``.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .settings import S3Settings

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

log = logging.getLogger("mlp_server")


# What a client does in its account's bucket: list it, read, write (multipart too) and delete objects.
# Never the bucket's own configuration: versioning (deleted versions would never free their storage),
# ACLs and policies (a public bucket, or one that shuts the platform out of its sweep), lifecycle,
# replication, deleting the bucket: the platform owns the bucket, the tenant its objects.
# DeleteObjects (one request for many keys) is sent to the bucket: some stores (moto) check the
# bucket's ARN for s3:DeleteObject there, AWS each object's.
BUCKET_ACTIONS = ("s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:GetBucketLocation", "s3:DeleteObject")
OBJECT_ACTIONS = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)


def bucket_policy(bucket: str) -> str:
    """The session policy: listing the bucket and the object actions in it, nothing elsewhere."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": list(BUCKET_ACTIONS), "Resource": [f"arn:aws:s3:::{bucket}"]},
                {"Effect": "Allow", "Action": list(OBJECT_ACTIONS), "Resource": [f"arn:aws:s3:::{bucket}/*"]},
            ],
        },
        separators=(",", ":"),
    )


@cache
def _client(s3: S3Settings) -> STSClient:
    import boto3
    from botocore.config import Config

    client: STSClient = boto3.client(
        "sts",
        endpoint_url=s3.sts_endpoint,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
        region_name=s3.region,
        config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30),
    )
    return client


def assume_scoped_role(
    s3: S3Settings, bucket: str, session_name: str, duration_seconds: int
) -> tuple[str, str, str, datetime]:
    """``(access key, secret key, session token, expiry)`` reaching ``bucket`` only.

    A store that answers AssumeRole with an error, or not at all, has no usable STS: that is
    ``ObjectStoreSTSUnavailable``, naming the setting to change.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer: Any = _client(s3).assume_role(
            RoleArn=s3.sts_role_arn,
            RoleSessionName=session_name,
            Policy=bucket_policy(bucket),
            DurationSeconds=duration_seconds,
        )
    except (ClientError, BotoCoreError) as exc:
        log.warning("AssumeRole at %s failed: %s", s3.sts_endpoint, exc)
        raise ApiError(
            "ObjectStoreSTSUnavailable",
            f"the object store's STS at {s3.sts_endpoint} could not issue scoped credentials ({exc}); "
            "set MLP_S3_STS_ENDPOINT / MLP_S3_STS_ROLE_ARN to a working STS, or, for a single trusted "
            "tenant only, MLP_S3_UNSAFE_SHARE_STORE_KEYS=1 to hand out the store's own keys",
        ) from exc
    creds = answer["Credentials"]
    return creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], creds["Expiration"]
