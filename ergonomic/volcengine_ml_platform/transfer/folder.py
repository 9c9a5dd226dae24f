"""The local platform's object store: bucket ``b``, key ``k`` is the file ``{root}/b/k``.

Layout under ``root``::

    {bucket}/{key}           the objects, nothing else; each carries its BLAKE3 checksum as the user
                             extended attribute ``user.mlp.blake3`` (the store's own metadata, as S3's
                             native checksums are)
    .meta/{bucket}/{key}     a JSON sidecar per object, only where there is no such attribute: on a file
                             system without user xattrs ({"blake3": ..., "size": ...}), and for objects
                             written by releases before 0.2 ({"sha256": ..., "size": ...})
    .tmp/                    objects being written (same filesystem, so os.replace is atomic)
    .locks/NN.lock           striped lock files serialising writers and readers of a sidecar pair

Bucket names never start with a dot, so the bookkeeping folders are outside the key space and a
listing never returns them. An object gets its attribute before it is renamed into place, so object
and checksum appear together in one atomic rename and a reader reads both from one open file: no lock.
A sidecar pair is swapped in under an exclusive lock and read under a shared one, so concurrent writers
(threads or processes) never leave or show a mismatched pair. A checksum attribute, when present, wins
over a sidecar (which is then a leftover of an object since replaced).
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import logging
import os
import stat
import threading
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..errors import TransferError
from . import durability
from .base import ByteCallback, ObjectInfo, tos_url, unsafe_path_reason, validate_bucket, validate_key
from .integrity import (
    BLAKE3,
    check_download,
    copy_file_hashed,
    new_hasher,
    recorded_checksum,
    same_version,
    verify_bytes,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the store is then safe across threads only
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

_LOCK_STRIPES = 64
_REPLACE_TRIES = 5
XATTR = "user.mlp.blake3"
_NO_XATTR = {errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP}
# Objects are regular files; a symlink planted in the store must not lead a reader out of root, and a
# fifo must not block the opener.
_READ_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
)
_WRITE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
# This process's id, for temporary names; a forked child updates it.
_PID = [os.getpid()]
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _PID.__setitem__(0, os.getpid()))


class _Opened:
    """An object opened for reading, with what the store recorded for exactly that file."""

    __slots__ = ("fd", "info", "recorded_size")

    def __init__(self, fd: int, info: ObjectInfo, recorded_size: int) -> None:
        self.fd = fd
        self.info = info
        self.recorded_size = recorded_size  # a sidecar's size, or the file's own

    def close(self) -> None:
        os.close(self.fd)


class FolderStore:
    """An :class:`~volcengine_ml_platform.transfer.base.ObjectStore` in a local folder.

    ``fsync=True`` flushes each object (bytes and checksum) to disk before it becomes visible, and
    its name and the folders leading to it before ``put_file`` returns: what was put survives a power
    loss (see :mod:`.durability`). Atomicity towards readers does not need it, and a torn object would
    fail its checksum instead of being handed out. Off by default: the platform makes a
    registration's files durable itself, with one syncfs for many (``mlp_server.objects_sync``).
    ``xattrs`` chooses where checksums go: None (the default) uses extended
    attributes when the file system takes them and sidecars otherwise; False always uses sidecars.
    Either way, objects recorded either way (or with sha256 by earlier releases) are read and verified.
    """

    small_files_in_one_lane: int | None = 256 * 1024
    """Uploads and downloads move files of up to this many bytes one after another in one thread,
    beside the larger ones (see :func:`~._parallel.small_in_one_lane`); None: one thread per file.
    Small enough that creating the file costs more than its bytes: larger files keep their threads,
    whose hashes can run on several cores."""

    def __init__(self, root: Path, *, fsync: bool = False, xattrs: bool | None = None) -> None:
        self.root = Path(root)
        self._fsync = fsync
        self._meta = self.root / ".meta"
        self._root_prefix = f"{self.root}{os.sep}"
        self._tmp = self.root / ".tmp"
        self._locks = self.root / ".locks"
        for folder in (self.root, self._meta, self._tmp, self._locks):
            folder.mkdir(parents=True, exist_ok=True)
        self._thread_locks = [threading.RLock() for _ in range(_LOCK_STRIPES)]
        # Temporary names: a random prefix per store object, the process id (a forked child keeps the
        # counter) and a counter; O_EXCL still refuses any clash. One urandom per store, not per file.
        self._tmp_prefix = f"{self._tmp}{os.sep}{uuid.uuid4().hex[:16]}-"
        self._tmp_seq = itertools.count()
        self.xattrs = self._xattrs_work() if xattrs is None else xattrs

    def __repr__(self) -> str:
        return f"FolderStore({str(self.root)!r})"

    # -- the ObjectStore interface -------------------------------------------------------------

    def put_file(
        self,
        bucket: str,
        key: str,
        path: Path,
        *,
        concurrency: int = 8,
        on_bytes: ByteCallback | None = None,
    ) -> ObjectInfo:
        # A local copy runs in the kernel, with its hash overlapped (integrity.copy_file_hashed):
        # parts would not help, so concurrency is accepted for the interface and ignored.

        def write(dst: int) -> tuple[int, str]:
            src = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            try:
                before = os.fstat(src)
                blake3 = copy_file_hashed(src, dst, before.st_size, BLAKE3, on_bytes)
                after = os.fstat(src)
                if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
                    raise TransferError(f"{path} changed while it was uploaded; upload it again")
                return before.st_size, blake3
            finally:
                os.close(src)

        return self._put(bucket, key, write)

    def put_bytes(self, bucket: str, key: str, data: bytes) -> ObjectInfo:
        """``put_file`` of bytes in memory (the platform's manifests): one write, no source file."""

        def write(dst: int) -> tuple[int, str]:
            hasher = new_hasher(BLAKE3)
            hasher.update(data)
            view = memoryview(data)
            while view:
                view = view[os.write(dst, view) :]
            return len(data), hasher.hexdigest()

        return self._put(bucket, key, write)

    def _put(self, bucket: str, key: str, write: Callable[[int], tuple[int, str]]) -> ObjectInfo:
        """A new object from ``write(fd)`` (which fills a temporary file and answers its size and
        BLAKE3), made visible under ``key`` in one rename, with its checksum recorded."""
        validate_bucket(bucket)
        validate_key(key)
        # Plain strings, and the process id cached (os.register_at_fork keeps it true in a child):
        # building Paths and asking getpid for every object was a tenth of a small file's upload.
        obj_path = f"{self._root_prefix}{bucket}/{key}"
        tmp = f"{self._tmp_prefix}{_PID[0]:x}-{next(self._tmp_seq):x}"
        tmp_meta = f"{tmp}.json"
        try:
            dst = os.open(tmp, _WRITE_FLAGS, 0o644)
            try:
                size, blake3 = write(dst)
                if self.xattrs:
                    os.setxattr(dst, XATTR, blake3.encode())
                # The one place an object's data is flushed before its rename, after the
                # attribute: the checksum must survive with the bytes.
                if self._fsync:
                    os.fsync(dst)
            finally:
                os.close(dst)
            meta_path = self._meta / bucket / key
            if self.xattrs:
                self._replace(tmp, obj_path, bucket, key)
            else:
                Path(tmp_meta).write_text(json.dumps({BLAKE3: blake3, "size": size}))
                if self._fsync:
                    durability.sync_files([Path(tmp_meta)], self._tmp)
                with self._lock(bucket, key, exclusive=True):
                    self._replace(tmp, obj_path, bucket, key)
                    self._replace(tmp_meta, os.fspath(meta_path), bucket, key)
            if self._fsync:  # the new names, and every folder on the way to them
                durability.sync_dirs(Path(os.path.dirname(obj_path)), self.root)
                if not self.xattrs:
                    durability.sync_dirs(meta_path.parent, self.root)
        except BaseException:
            for leftover in (tmp, tmp_meta):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)
            raise
        return ObjectInfo(key, size, blake3=blake3)

    def get_file(
        self,
        bucket: str,
        obj: ObjectInfo,
        dest: Path,
        *,
        concurrency: int = 8,
        on_bytes: ByteCallback | None = None,
    ) -> ObjectInfo:
        url = tos_url(bucket, obj.key)
        # The open file keeps this version's bytes even if a writer replaces the object while we copy.
        opened = self._open(bucket, obj.key)
        if opened is None:
            raise TransferError(f"{url} does not exist")
        try:
            current = opened.info
            if not same_version(obj, current):
                raise TransferError(f"{url} changed since it was listed")
            # An object that lost its attribute (a data folder copied with ``cp -r``) is verified
            # against the checksum the listing (the version's manifest) recorded for it.
            recorded = recorded_checksum(current) or recorded_checksum(obj)
            dst = os.open(dest, os.O_RDWR | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o666)
            try:
                digest = copy_file_hashed(
                    opened.fd, dst, current.size, recorded[0] if recorded else BLAKE3, on_bytes
                )
                size = os.fstat(dst).st_size
            finally:
                os.close(dst)
        finally:
            opened.close()
        if recorded is None:
            logger.debug("%s has no recorded checksum; verified its size only", url)
            check_download(url, size=size, expected_size=current.size)
        else:
            check_download(
                url,
                size=size,
                expected_size=opened.recorded_size,
                digest=digest,
                expected_digest=recorded[1],
                algorithm=recorded[0],
            )
        return current

    def get_bytes(self, bucket: str, key: str) -> tuple[ObjectInfo, bytes] | None:
        opened = self._open(bucket, key)
        if opened is None:
            return None
        try:
            current = opened.info
            chunks: list[bytes] = []
            # To the end of the file, not to the recorded size: a longer file fails the size check.
            while chunk := os.read(opened.fd, max(current.size, 64 * 1024)):
                chunks.append(chunk)
        finally:
            opened.close()
        data = b"".join(chunks)
        verify_bytes(tos_url(bucket, key), data, current, opened.recorded_size)
        return current, data

    def list_objects(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        validate_bucket(bucket)
        folder, _, _ = prefix.rpartition("/")
        if folder and unsafe_path_reason(folder) is not None:
            return iter(())  # no valid key lives there
        if folder and not self.beneath(bucket, folder):
            return iter(())  # a symlinked folder: what is there is not this bucket's
        start = self.root / bucket / folder
        keys = sorted(
            k
            for k in self._walk(start, f"{folder}/" if folder else "")
            # A file someone dropped in by hand with a name no key can have is not an object.
            if k.startswith(prefix) and unsafe_path_reason(k) is None
        )
        return (info for k in keys if (info := self._listed(bucket, k)) is not None)

    def beneath(self, bucket: str, folder: str) -> bool:
        """Whether ``folder`` (a key's folder) of ``bucket`` really is in the bucket's folder. A listing
        never follows a symlink below it (:meth:`_walk`), but the folder it starts from is reached by
        path: a symlinked directory planted in a bucket must not lead a listing, and the registrations
        and deletes that follow one, into another bucket. (The bucket's own folder may be a link.)"""
        base = os.path.realpath(self.root / bucket)
        found = os.path.realpath(self.root / bucket / folder)
        return found == base or found.startswith(base + os.sep)

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        opened = self._open(bucket, key)
        if opened is None:
            return None
        opened.close()
        return opened.info

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        return self.delete_keys(bucket, [info.key for info in self.list_objects(bucket, prefix)])

    def delete_keys(self, bucket: str, keys: Iterable[str]) -> int:
        """Delete exactly these objects (those already gone too); return how many were asked."""
        deleted = 0
        for key in keys:
            obj_path, meta_path = self._paths(bucket, key)
            with self._lock(bucket, key, exclusive=True):
                obj_path.unlink(missing_ok=True)
                meta_path.unlink(missing_ok=True)
            deleted += 1
            self._prune(obj_path.parent, self.root / bucket)
            self._prune(meta_path.parent, self._meta / bucket)
        return deleted

    # -- internals ------------------------------------------------------------------------------

    def _listed(self, bucket: str, key: str) -> ObjectInfo | None:
        """What a listing says of ``key``: like :meth:`head`, but by path (two system calls instead of
        four, for a folder of many small files). Size and checksum may then come from two versions of
        an object replaced in between; ``get_file`` compares the listing with what it opened, so such
        a pair fails as "changed since it was listed", which it was."""
        if not self.xattrs:
            return self.head(bucket, key)
        path = f"{self._root_prefix}{bucket}/{key}"
        try:
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode):
                return None
            blake3 = os.getxattr(path, XATTR, follow_symlinks=False).decode()
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            if exc.errno in _NO_XATTR:  # a sidecar's object (or none recorded): the full lookup
                return self.head(bucket, key)
            raise
        return ObjectInfo(key, st.st_size, blake3=blake3, modified=st.st_mtime)

    def _paths(self, bucket: str, key: str) -> tuple[Path, Path]:
        validate_bucket(bucket)
        validate_key(key)
        return self.root / bucket / key, self._meta / bucket / key

    def _open(self, bucket: str, key: str) -> _Opened | None:
        """The object ``key`` opened for reading with its recorded checksum, or None if there is none
        (no file, a folder of longer keys, a symlink)."""
        validate_bucket(bucket)
        validate_key(key)
        # A plain string: building a Path for every object was a third of a small file's download.
        obj_path = f"{self._root_prefix}{bucket}/{key}"
        opened = self._open_regular(obj_path)
        if opened is None:
            return None
        fd, size, mtime = opened
        if (blake3 := self._read_xattr(fd)) is not None:
            return _Opened(fd, ObjectInfo(key, size, blake3=blake3, modified=mtime), size)
        os.close(fd)
        # No attribute: a sidecar pair, read under the lock its writer held.
        with self._lock(bucket, key, exclusive=False):
            opened = self._open_regular(obj_path)
            if opened is None:
                return None
            fd, size, mtime = opened
            try:
                if (blake3 := self._read_xattr(fd)) is not None:  # replaced meanwhile by a new object
                    return _Opened(fd, ObjectInfo(key, size, blake3=blake3, modified=mtime), size)
                stored = self._read_meta(self._meta / bucket / key)
            except BaseException:
                os.close(fd)
                raise
        if stored is None:
            return _Opened(fd, ObjectInfo(key, size, modified=mtime), size)
        algorithm, digest, recorded_size = stored
        info = ObjectInfo(
            key,
            size,
            sha256=digest if algorithm == "sha256" else None,
            blake3=digest if algorithm == BLAKE3 else None,
            modified=mtime,
        )
        return _Opened(fd, info, recorded_size)

    @staticmethod
    def _open_regular(path: str) -> tuple[int, int, float] | None:
        """(descriptor, size, mtime) of the regular file ``path`` opened for reading, or None."""
        try:
            fd = os.open(path, _READ_FLAGS)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EISDIR, errno.ENXIO):
                return None
            raise
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            return None
        return fd, st.st_size, st.st_mtime

    def _read_xattr(self, fd: int) -> str | None:
        try:
            return os.getxattr(fd, XATTR).decode()
        except OSError as exc:
            if exc.errno in _NO_XATTR:
                return None
            raise
        except AttributeError:  # pragma: no cover - no os.getxattr outside Linux
            return None

    def _xattrs_work(self) -> bool:
        """Whether the store's file system keeps user extended attributes (tmpfs before Linux 6.6 does
        not, nor do some network file systems)."""
        probe = self._tmp / f"xattr-probe-{uuid.uuid4().hex}"
        try:
            fd = os.open(probe, _WRITE_FLAGS, 0o644)
            try:
                os.setxattr(fd, XATTR, b"probe")
                return os.getxattr(fd, XATTR) == b"probe"
            finally:
                os.close(fd)
                probe.unlink(missing_ok=True)
        except (OSError, AttributeError):
            logger.info("%s keeps no user extended attributes: checksums go to sidecar files", self.root)
            return False

    @contextlib.contextmanager
    def _lock(self, bucket: str, key: str, *, exclusive: bool) -> Iterator[None]:
        # crc32, not hash(): the stripe must be the same in every process.
        stripe = zlib.crc32(f"{bucket}/{key}".encode()) % _LOCK_STRIPES
        if fcntl is None:  # pragma: no cover
            with self._thread_locks[stripe]:
                yield
            return
        # A fresh descriptor per acquisition: flock excludes other open file descriptions, so this
        # serialises threads of this process as well as other processes.
        fd = os.open(self._locks / f"{stripe:02d}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _replace(self, src: str, dst: str, bucket: str, key: str) -> None:
        # A concurrent delete_prefix may prune the (empty) parent between makedirs and replace: retry.
        for attempt in range(_REPLACE_TRIES):
            try:
                if attempt:  # the parent usually exists already: create it only when missing
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                os.replace(src, dst)
                return
            except FileNotFoundError:
                if attempt == _REPLACE_TRIES - 1:
                    raise
            except (IsADirectoryError, NotADirectoryError, FileExistsError) as exc:
                raise TransferError(
                    f"cannot store {tos_url(bucket, key)}: a key and a key prefix of the store collide "
                    f"({exc.strerror})"
                ) from exc

    @staticmethod
    def _read_meta(meta_path: Path) -> tuple[str, str, int] | None:
        """(algorithm, digest, size) a sidecar records for an object, or None for a file put there by
        other means. Sidecars written before 0.2 record sha256."""
        try:
            meta = json.loads(meta_path.read_bytes())
            algorithm = BLAKE3 if BLAKE3 in meta else "sha256"
            return algorithm, str(meta[algorithm]), int(meta["size"])
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise TransferError(f"corrupt checksum record {meta_path}") from exc

    @staticmethod
    def _walk(folder: Path, key_prefix: str) -> Iterator[str]:
        """Keys of the regular files below ``folder`` (symlinks are not objects: they could leave root)."""
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                yield from FolderStore._walk(Path(entry.path), f"{key_prefix}{entry.name}/")
            elif entry.is_file(follow_symlinks=False):
                yield f"{key_prefix}{entry.name}"

    @staticmethod
    def _prune(folder: Path, stop: Path) -> None:
        """Remove ``folder`` and its parents up to (not including) ``stop`` while they are empty."""
        while folder != stop and stop in folder.parents:
            try:
                folder.rmdir()
            except OSError:  # not empty, or already gone
                return
            folder = folder.parent
