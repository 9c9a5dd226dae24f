"""Moving model files between a local path and object storage (``tos://bucket/key``).

Two stores behind one interface (:class:`ObjectStore`): :class:`FolderStore` for the local platform and
:class:`S3Store` for TOS (or any S3). :func:`upload_path` and :func:`download_prefix` are what the
model classes call; both run files in parallel, verify checksums end to end (BLAKE3 on the folder
store, sha256 on S3), retry transient failures (:mod:`.retry`) and report :class:`TransferProgress` to
an optional callback.
"""

from typing import TYPE_CHECKING, Any

from .base import ObjectInfo, ObjectStore, tos_url
from .folder import FolderStore
from .manager import download_prefix, parse_tos_url, upload_path
from .progress import ProgressCallback, TransferProgress
from .retry import DEFAULT_RETRY, RetryPolicy, call_with_retry, is_transient

if TYPE_CHECKING:
    from .s3 import S3Store, tos_s3_endpoint


def __getattr__(name: str) -> Any:
    # boto3 takes a tenth of a second to import; the folder store and the CLI's --help never need it.
    if name in ("S3Store", "tos_s3_endpoint"):
        from . import s3

        return getattr(s3, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_RETRY",
    "FolderStore",
    "ObjectInfo",
    "ObjectStore",
    "ProgressCallback",
    "RetryPolicy",
    "S3Store",
    "TransferProgress",
    "call_with_retry",
    "download_prefix",
    "is_transient",
    "parse_tos_url",
    "tos_s3_endpoint",
    "tos_url",
    "upload_path",
]
