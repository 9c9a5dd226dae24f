"""Checks that the bytes written are the bytes that were stored."""

from __future__ import annotations

import hashlib
from io import BufferedIOBase
from typing import BinaryIO

from ..errors import TransferError
from .base import ByteCallback

CHUNK = 1024 * 1024


def check_download(
    url: str,
    *,
    size: int,
    expected_size: int,
    digest: str | None = None,
    expected_digest: str | None = None,
    algorithm: str = "sha256",
) -> None:
    """Raise ``TransferError`` naming ``url`` unless size and (when known) digest match."""
    if size != expected_size:
        raise TransferError(f"{url}: received {size} bytes, expected {expected_size}")
    if expected_digest is not None and digest != expected_digest:
        raise TransferError(
            f"{url}: {algorithm} mismatch (stored {expected_digest}, received {digest}); "
            "the object is corrupt or was changed while it was read"
        )


def copy_hashing(src: BufferedIOBase, dst: BinaryIO, on_bytes: ByteCallback | None = None) -> tuple[int, str]:
    """Copy ``src`` to ``dst`` and return (size, sha256 hex) of exactly the bytes written."""
    digest = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    size = 0
    while n := src.readinto(view):
        chunk = view[:n]
        digest.update(chunk)
        dst.write(chunk)
        size += n
        if on_bytes is not None:
            on_bytes(n)
    return size, digest.hexdigest()
