"""Checks that the bytes written are the bytes that were stored, and the copies that compute them.

New objects are checksummed with BLAKE3 (the ``blake3`` package): a cryptographic hash like sha256, so a
recorded checksum still pins the bytes that were registered, but ~5x faster here, which lets a local
copy run at the speed of the kernel's own. Objects recorded with sha256 by earlier releases are still
verified with sha256 (:func:`new_hasher` knows both).
"""

from __future__ import annotations

import errno
import hashlib
import mmap
import os
from concurrent.futures import Future, ThreadPoolExecutor
from io import BufferedIOBase
from typing import TYPE_CHECKING, BinaryIO, Protocol

from ..errors import TransferError
from .base import ByteCallback

if TYPE_CHECKING:
    from .base import ObjectInfo

CHUNK = 1024 * 1024
BLAKE3 = "blake3"
SHA256 = "sha256"
ALGORITHMS = (BLAKE3, SHA256)
"""What a recorded checksum may be, the preferred first."""

# Files up to this size are copied with one read and one write: fewer system calls than a kernel copy.
SMALL_FILE = 4 * CHUNK
# A large file is copied in the kernel in pieces this big while the previous piece is hashed.
_PIECE = 16 * CHUNK
# copy_file_range says so when it cannot copy between these two files: fall back to read/write.
_NO_KERNEL_COPY = {
    errno.EXDEV,
    errno.ENOSYS,
    errno.EINVAL,
    errno.EOPNOTSUPP,
    errno.ENOTSUP,
    errno.EBADF,
    errno.EPERM,
    errno.ETXTBSY,
}


class Hasher(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> object: ...

    def hexdigest(self) -> str: ...


def new_hasher(algorithm: str) -> Hasher:
    """A fresh hash object for one of :data:`ALGORITHMS` (or anything hashlib knows, e.g. md5)."""
    if algorithm == BLAKE3:
        from blake3 import blake3  # a compiled extension: only the transfers that hash need it

        hasher: Hasher = blake3()
        return hasher
    return hashlib.new(algorithm)


def recorded_checksum(obj: ObjectInfo) -> tuple[str, str] | None:
    """(algorithm, hex digest) of the preferred checksum recorded for ``obj``, or None."""
    if obj.blake3 is not None:
        return BLAKE3, obj.blake3
    if obj.sha256 is not None:
        return SHA256, obj.sha256
    return None


def same_version(a: ObjectInfo, b: ObjectInfo) -> bool:
    """Whether two descriptions of an object can be the same bytes: equal sizes, and equal checksums for
    every algorithm both name. When either names no checksum at all, the sizes decide: the caller then
    verifies the bytes against the other's checksum (an object copied without its extended attribute,
    e.g. by ``cp -r``, still matches its manifest entry). Two descriptions naming checksums of
    different algorithms only cannot be matched, so they count as different."""
    if a.size != b.size:
        return False
    shared = [
        (x, y) for x, y in ((a.blake3, b.blake3), (a.sha256, b.sha256)) if x is not None and y is not None
    ]
    if shared:
        return all(x == y for x, y in shared)
    return recorded_checksum(a) is None or recorded_checksum(b) is None


def check_download(
    url: str,
    *,
    size: int,
    expected_size: int,
    digest: str | None = None,
    expected_digest: str | None = None,
    algorithm: str = SHA256,
) -> None:
    """Raise ``TransferError`` naming ``url`` unless size and (when known) digest match."""
    if size != expected_size:
        raise TransferError(f"{url}: received {size} bytes, expected {expected_size}")
    if expected_digest is not None and digest != expected_digest:
        raise TransferError(
            f"{url}: {algorithm} mismatch (stored {expected_digest}, received {digest}); "
            "the object is corrupt or was changed while it was read"
        )


def verify_bytes(url: str, data: bytes, version: ObjectInfo, expected_size: int | None = None) -> None:
    """``get_file``'s check of an object read into memory: its size (``expected_size``, else the
    version's) and, when one was recorded, its checksum; ``TransferError`` naming ``url`` otherwise."""
    size = version.size if expected_size is None else expected_size
    recorded = recorded_checksum(version)
    if recorded is None:
        check_download(url, size=len(data), expected_size=size)
        return
    algorithm, expected = recorded
    hasher = new_hasher(algorithm)
    hasher.update(data)
    check_download(
        url,
        size=len(data),
        expected_size=size,
        digest=hasher.hexdigest(),
        expected_digest=expected,
        algorithm=algorithm,
    )


def copy_hashing(
    src: BufferedIOBase, dst: BinaryIO, on_bytes: ByteCallback | None = None, algorithm: str = SHA256
) -> tuple[int, str]:
    """Copy ``src`` to ``dst`` and return (size, hex digest) of exactly the bytes written."""
    digest = new_hasher(algorithm)
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


def copy_file_hashed(
    src_fd: int, dst_fd: int, size: int, algorithm: str, on_bytes: ByteCallback | None = None
) -> str:
    """Copy ``size`` bytes from the start of ``src_fd`` into the empty file ``dst_fd``; return the digest
    of the bytes **as written to** ``dst_fd`` (read back from it, so the record or the check is about
    the destination itself, whatever happens to the source meanwhile).

    A large file is copied in the kernel (``copy_file_range``: no trip through Python's memory) piece
    by piece, while a second thread hashes the piece before from a read-only mapping of the
    destination; the hash then costs little more than one piece's worth of time. Raises
    ``TransferError`` if the source ends early.
    """
    report = on_bytes or _ignore
    if size <= SMALL_FILE:
        data = _read_exactly(src_fd, size)
        _write_all(dst_fd, memoryview(data))
        report(size)
        hasher = new_hasher(algorithm)
        hasher.update(data)
        return hasher.hexdigest()
    if hasattr(os, "posix_fadvise"):  # a larger readahead from disk, as cp asks for
        os.posix_fadvise(src_fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
    os.ftruncate(dst_fd, size)  # the mapping must cover the whole file before the pieces arrive
    hasher = new_hasher(algorithm)
    with mmap.mmap(dst_fd, size, prot=mmap.PROT_READ) as mapped, ThreadPoolExecutor(1) as pool:
        view = memoryview(mapped)
        pending: tuple[Future[object], memoryview] | None = None
        try:
            kernel = hasattr(os, "copy_file_range")  # Linux only
            for start in range(0, size, _PIECE):
                end = min(start + _PIECE, size)
                kernel = _copy_range(src_fd, dst_fd, start, end, kernel)
                if pending is not None:
                    pending[0].result()
                    pending[1].release()
                # One hashing thread, in order: the digest is of the pieces in file order.
                piece = view[start:end]
                # The pages fault in as the hash reads them. Mapping each piece up front with
                # MADV_POPULATE_READ, while the kernel copy writes the next piece into the same file,
                # cost 1.5-2x the CPU of a 1 GiB download in an A/B in one process (README).
                pending = (pool.submit(hasher.update, piece), piece)
                report(end - start)
            if pending is not None:
                pending[0].result()
        finally:
            if pending is not None:
                pending[0].exception()  # wait: the mapping must outlive the hash reading it
                pending[1].release()
            view.release()
    return hasher.hexdigest()


def digest_fd(fd: int, size: int, algorithm: str) -> str:
    """The digest of the first ``size`` bytes of the open file ``fd`` (a file someone else may change:
    read, never mapped, so a file truncated meanwhile is a wrong digest, not a SIGBUS)."""
    hasher = new_hasher(algorithm)
    pos = 0
    while pos < size and (data := os.pread(fd, min(4 * CHUNK, size - pos), pos)):
        hasher.update(data)
        pos += len(data)
    return hasher.hexdigest()


def _copy_range(src_fd: int, dst_fd: int, start: int, end: int, kernel: bool) -> bool:
    """Copy bytes [start, end) between the same offsets; return whether the kernel copy still works."""
    pos = start
    while pos < end:
        if kernel:
            try:
                n = os.copy_file_range(src_fd, dst_fd, end - pos, pos, pos)
            except OSError as exc:
                if exc.errno in _NO_KERNEL_COPY:
                    kernel = False
                    continue
                raise
        else:
            data = os.pread(src_fd, min(end - pos, 4 * CHUNK), pos)
            n = len(data)
            if n:
                _pwrite_all(dst_fd, memoryview(data), pos)
        if n == 0:
            raise TransferError(f"the file ended at byte {pos} of {end}: it shrank while it was copied")
        pos += n
    return kernel


def _read_exactly(fd: int, size: int) -> bytes:
    data = os.pread(fd, size, 0) if size else b""
    if len(data) != size:  # a short read of a regular file: it shrank since it was sized
        parts = [data]
        got = len(data)
        while got < size and (more := os.pread(fd, size - got, got)):
            parts.append(more)
            got += len(more)
        data = b"".join(parts)
        if len(data) != size:
            raise TransferError(
                f"the file ended at byte {len(data)} of {size}: it shrank while it was copied"
            )
    return data


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view) :]


def _pwrite_all(fd: int, view: memoryview, offset: int) -> None:
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _ignore(_: int) -> None:
    pass
