"""The local platform's object store: bucket ``b``, key ``k`` is the file ``{root}/b/k``.

Layout under ``root``::

    {bucket}/{key}           the objects, nothing else
    .meta/{bucket}/{key}     a JSON sidecar per object: {"sha256": ..., "size": ...}
    .tmp/                    objects being written (same filesystem, so os.replace is atomic)
    .locks/NN.lock           striped lock files serialising writers and readers of the same key

Bucket names never start with a dot, so the bookkeeping folders are outside the key space and a
listing never returns them. An object and its sidecar are swapped in under an exclusive lock and read
under a shared one, so concurrent writers (threads or processes) never leave or show a mismatched pair.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import stat
import threading
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

from ..errors import TransferError
from .base import ByteCallback, ObjectInfo, tos_url, unsafe_path_reason, validate_bucket, validate_key
from .integrity import check_download, copy_hashing

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the store is then safe across threads only
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

_LOCK_STRIPES = 64
_REPLACE_TRIES = 5


def _open_nofollow(path: str, flags: int) -> int:
    # Objects are regular files; a symlink planted in the store must not lead a reader out of root.
    return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0))


class FolderStore:
    """An :class:`~volcengine_ml_platform.transfer.base.ObjectStore` in a local folder.

    ``fsync=True`` flushes each object to disk before it becomes visible. Atomicity towards readers does
    not need it; it only matters after a power loss, and even then a torn object fails its checksum
    instead of being handed out.
    """

    def __init__(self, root: Path, *, fsync: bool = False) -> None:
        self.root = Path(root)
        self._fsync = fsync
        self._meta = self.root / ".meta"
        self._tmp = self.root / ".tmp"
        self._locks = self.root / ".locks"
        for folder in (self.root, self._meta, self._tmp, self._locks):
            folder.mkdir(parents=True, exist_ok=True)
        self._thread_locks = [threading.RLock() for _ in range(_LOCK_STRIPES)]

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
        # A local copy is bound by hashing, which is sequential: parts would not help, so concurrency
        # is accepted for the interface and ignored.
        obj_path, meta_path = self._paths(bucket, key)
        tmp = self._tmp / uuid.uuid4().hex
        tmp_meta = tmp.with_suffix(".json")
        try:
            with open(path, "rb") as src, open(tmp, "wb") as dst:
                size, sha256 = copy_hashing(src, dst, on_bytes)
                if self._fsync:
                    dst.flush()
                    os.fsync(dst.fileno())
            tmp_meta.write_text(json.dumps({"sha256": sha256, "size": size}))
            with self._lock(bucket, key, exclusive=True):
                self._replace(tmp, obj_path, bucket, key)
                self._replace(tmp_meta, meta_path, bucket, key)
        finally:
            tmp.unlink(missing_ok=True)
            tmp_meta.unlink(missing_ok=True)
        return ObjectInfo(key, size, sha256)

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
        obj_path, meta_path = self._paths(bucket, obj.key)
        # Open the object and read its sidecar under the lock: the open file keeps this version's bytes
        # even if a writer replaces the object while we copy.
        with self._lock(bucket, obj.key, exclusive=False):
            try:
                src = open(obj_path, "rb", opener=_open_nofollow)  # noqa: SIM115 - closed below
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ELOOP):
                    raise TransferError(f"{url} does not exist") from None
                raise
            stored = self._read_meta(meta_path)
        with src:
            size_now = os.fstat(src.fileno()).st_size
            current = ObjectInfo(obj.key, size_now, stored[0] if stored else None)
            if (obj.sha256 is not None and current.sha256 != obj.sha256) or size_now != obj.size:
                raise TransferError(f"{url} changed since it was listed")
            with open(dest, "wb") as dst:
                size, sha256 = copy_hashing(src, dst, on_bytes)
        if stored is None:
            logger.debug("%s has no recorded checksum; verified its size only", url)
            check_download(url, size=size, expected_size=size_now)
        else:
            check_download(url, size=size, expected_size=stored[1], digest=sha256, expected_digest=stored[0])
        return current

    def list_objects(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        validate_bucket(bucket)
        folder, _, _ = prefix.rpartition("/")
        if folder and unsafe_path_reason(folder) is not None:
            return iter(())  # no valid key lives there
        start = self.root / bucket / folder
        keys = sorted(
            k
            for k in self._walk(start, f"{folder}/" if folder else "")
            # A file someone dropped in by hand with a name no key can have is not an object.
            if k.startswith(prefix) and unsafe_path_reason(k) is None
        )
        return (info for k in keys if (info := self.head(bucket, k)) is not None)

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        obj_path, meta_path = self._paths(bucket, key)
        with self._lock(bucket, key, exclusive=False):
            try:
                st = obj_path.lstat()
            except (FileNotFoundError, NotADirectoryError):
                return None
            if not stat.S_ISREG(st.st_mode):  # a folder of longer keys, or a symlink
                return None
            stored = self._read_meta(meta_path)
        return ObjectInfo(key, st.st_size, stored[0] if stored else None)

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        deleted = 0
        for info in list(self.list_objects(bucket, prefix)):
            obj_path, meta_path = self._paths(bucket, info.key)
            with self._lock(bucket, info.key, exclusive=True):
                obj_path.unlink(missing_ok=True)
                meta_path.unlink(missing_ok=True)
            deleted += 1
            self._prune(obj_path.parent, self.root / bucket)
            self._prune(meta_path.parent, self._meta / bucket)
        return deleted

    # -- internals ------------------------------------------------------------------------------

    def _paths(self, bucket: str, key: str) -> tuple[Path, Path]:
        validate_bucket(bucket)
        validate_key(key)
        return self.root / bucket / key, self._meta / bucket / key

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

    def _replace(self, src: Path, dst: Path, bucket: str, key: str) -> None:
        # A concurrent delete_prefix may prune the (empty) parent between makedirs and replace: retry.
        for attempt in range(_REPLACE_TRIES):
            try:
                dst.parent.mkdir(parents=True, exist_ok=True)
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
    def _read_meta(meta_path: Path) -> tuple[str, int] | None:
        """(sha256, size) recorded for an object, or None for a file put there by other means."""
        try:
            meta = json.loads(meta_path.read_bytes())
            return str(meta["sha256"]), int(meta["size"])
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
