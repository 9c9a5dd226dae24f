"""Moving model files between a local path and object storage (``tos://bucket/key``).

Two stores behind one interface (:class:`ObjectStore`): :class:`FolderStore` for the local platform and
:class:`S3Store` for TOS (or any S3). :func:`upload_path` and :func:`download_prefix` are what the
model classes call; both run files in parallel, verify checksums end to end (BLAKE3 on the folder
store, sha256 on S3), retry transient failures (:mod:`.retry`) and report :class:`TransferProgress` to
an optional callback.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import ObjectInfo, ObjectStore, tos_url
    from .folder import FolderStore
    from .manager import download_prefix, parse_tos_url, upload_path
    from .progress import ProgressCallback, TransferProgress
    from .retry import DEFAULT_RETRY, RetryPolicy, call_with_retry, is_transient
    from .s3 import S3Store, tos_s3_endpoint

# Each name is imported from its module on first use (PEP 562): the session needs only `.retry`, and
# importing a submodule runs this file first. boto3 alone (`.s3`) takes a tenth of a second.
_MODULES = {
    "ObjectInfo": ".base",
    "ObjectStore": ".base",
    "tos_url": ".base",
    "FolderStore": ".folder",
    "download_prefix": ".manager",
    "parse_tos_url": ".manager",
    "upload_path": ".manager",
    "ProgressCallback": ".progress",
    "TransferProgress": ".progress",
    "DEFAULT_RETRY": ".retry",
    "RetryPolicy": ".retry",
    "call_with_retry": ".retry",
    "is_transient": ".retry",
    "S3Store": ".s3",
    "tos_s3_endpoint": ".s3",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


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
