"""The narrow interface every object store implements, and the naming rules shared by all of them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..errors import ValidationError

MiB = 1024 * 1024

ByteCallback = Callable[[int], None]
"""Called with the number of bytes just transferred (an increment, not a running total)."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One object as a store reports it.

    ``blake3`` and ``sha256`` are the checksums recorded when the object was written (None if the store
    does not know it, e.g. an S3 listing, which carries no user metadata): the folder store records
    BLAKE3 (sha256 for objects written by releases before it), the S3 store sha256. ``etag`` is the
    S3 ETag without quotes. ``modified``: when the object was last written (POSIX seconds, the
    store's clock: a file's mtime, S3's LastModified), if the store reports it; not part of equality.
    """

    key: str
    size: int
    sha256: str | None = None
    etag: str | None = None
    blake3: str | None = None
    modified: float | None = field(default=None, compare=False)


class ObjectStore(Protocol):
    """Where model files live: ``tos://{bucket}/{key}``.

    Implementations verify what they hand out: :meth:`get_file` returns only once the bytes written to
    ``dest`` match the object's recorded size and checksum, and raises ``TransferError`` otherwise.
    Transient failures (connection errors, throttling, 5xx) are raised as such so that
    :func:`~volcengine_ml_platform.transfer.retry.call_with_retry` can retry them.
    """

    def put_file(
        self,
        bucket: str,
        key: str,
        path: Path,
        *,
        concurrency: int = 8,
        on_bytes: ByteCallback | None = None,
    ) -> ObjectInfo:
        """Store the file at ``path`` as ``key`` (in parallel parts if large); return what was stored."""
        ...

    def get_file(
        self,
        bucket: str,
        obj: ObjectInfo,
        dest: Path,
        *,
        concurrency: int = 8,
        on_bytes: ByteCallback | None = None,
    ) -> ObjectInfo:
        """Write the object ``obj`` (as listed or headed) to ``dest``, truncating it, and verify it.

        Raises ``TransferError`` if the object changed since ``obj`` was listed or fails its checksum.
        """
        ...

    def put_bytes(self, bucket: str, key: str, data: bytes) -> ObjectInfo:
        """Store ``data`` (small: a version's manifest) as ``key`` straight from memory; return what was
        stored. No scratch file, so a crash leaves nothing behind but, at most, the object."""
        ...

    def get_bytes(self, bucket: str, key: str) -> tuple[ObjectInfo, bytes] | None:
        """The whole object ``key`` (small: a version's manifest) in memory, verified as :meth:`get_file`
        verifies, in one request; None if there is none (where :meth:`head` then :meth:`get_file`
        would take two)."""
        ...

    def list_objects(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order."""
        ...

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        """The object ``key``, or None if there is none."""
        ...

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        """Delete every object whose key starts with ``prefix``; return how many were deleted."""
        ...


# S3's bucket naming rules (TOS's are a subset); a bucket never starts with a dot, which keeps the
# FolderStore's bookkeeping folders (``.meta``, ``.tmp``, ``.locks``) out of the bucket namespace.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def validate_bucket(bucket: str) -> str:
    """Return ``bucket`` if it is a valid bucket name, else raise ``ValidationError``."""
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise ValidationError(f"invalid bucket name {bucket!r}", field="bucket")
    return bucket


def unsafe_path_reason(path: str) -> str | None:
    """Why ``path`` (a key, or a key relative to a prefix) cannot name a file below a folder, or None.

    The rules are the same on upload and download so that whatever we upload can be downloaded again
    on any OS: no empty, ``.`` or ``..`` segment, no absolute path, no backslash, no NUL.
    """
    if not path:
        return "it is empty"
    if "\x00" in path:
        return "it contains a NUL character"
    if "\\" in path:
        return "it contains a backslash"
    if path.startswith("/") or re.match(r"[A-Za-z]:", path):
        return "it is absolute"
    for segment in path.split("/"):
        if segment == "":
            return "it contains an empty path segment ('//' or a trailing '/')"
        if segment in (".", ".."):
            return f"it contains a {segment!r} path segment"
    return None


def validate_key(key: str) -> str:
    """Return ``key`` if it can name a file below a folder (see :func:`unsafe_path_reason`)."""
    reason = unsafe_path_reason(key)
    if reason is not None:
        raise ValidationError(f"invalid object key {key!r}: {reason}", field="key")
    return key


def tos_url(bucket: str, key: str) -> str:
    return f"tos://{bucket}/{key}"
