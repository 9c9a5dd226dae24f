"""Test helpers: folder trees, and stores that fail on purpose."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

from volcengine_ml_platform.transfer import ObjectInfo, ObjectStore
from volcengine_ml_platform.transfer.base import ByteCallback


def make_tree(root: Path, *, small: int = 300, big: int = 0) -> dict[str, bytes]:
    """Write ``small`` small files in nested folders, an empty file and optionally one ``big``-byte file."""
    files: dict[str, bytes] = {}
    for i in range(small):
        files[f"d{i % 3}/sub{i % 5}/f{i}.bin"] = os.urandom(i * 7 % 4000)
    files["empty.txt"] = b""
    files["top.json"] = b'{"a": 1}'
    if big:
        files["weights/big.bin"] = os.urandom(big)
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


class Wrapper:
    """An ObjectStore that passes everything through; subclasses break one thing."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def count(self, name: str) -> int:
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1
            return self.calls[name]

    def put_file(
        self, bucket: str, key: str, path: Path, *, concurrency: int = 8, on_bytes: ByteCallback | None = None
    ) -> ObjectInfo:
        self.count("put_file")
        return self.inner.put_file(bucket, key, path, concurrency=concurrency, on_bytes=on_bytes)

    def get_file(
        self,
        bucket: str,
        obj: ObjectInfo,
        dest: Path,
        *,
        concurrency: int = 8,
        on_bytes: ByteCallback | None = None,
    ) -> ObjectInfo:
        self.count("get_file")
        return self.inner.get_file(bucket, obj, dest, concurrency=concurrency, on_bytes=on_bytes)

    def list_objects(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        self.count("list_objects")
        return self.inner.list_objects(bucket, prefix)

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        self.count("head")
        return self.inner.head(bucket, key)

    def put_bytes(self, bucket: str, key: str, data: bytes) -> ObjectInfo:
        self.count("put_bytes")
        return self.inner.put_bytes(bucket, key, data)

    def get_bytes(self, bucket: str, key: str) -> tuple[ObjectInfo, bytes] | None:
        self.count("get_bytes")
        return self.inner.get_bytes(bucket, key)

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        return self.inner.delete_prefix(bucket, prefix)


class FailAfterBytes(Wrapper):
    """Downloads fail with ``error`` once ``limit`` bytes of one file have been written."""

    def __init__(self, inner: ObjectStore, limit: int, error: BaseException) -> None:
        super().__init__(inner)
        self.limit = limit
        self.error = error

    def get_file(
        self,
        bucket: str,
        obj: ObjectInfo,
        dest: Path,
        *,
        concurrency: int = 8,
        on_bytes: ByteCallback | None = None,
    ) -> ObjectInfo:
        self.count("get_file")
        done = 0
        lock = threading.Lock()

        def counting(nbytes: int) -> None:
            nonlocal done
            with lock:
                done += nbytes
                if done > self.limit:
                    raise self.error
            if on_bytes is not None:
                on_bytes(nbytes)

        return self.inner.get_file(bucket, obj, dest, concurrency=concurrency, on_bytes=counting)


class Flaky(Wrapper):
    """The first ``failures`` calls of every put_file / get_file fail with a dropped connection.

    A failing get_file first writes some bytes (and reports them), as a real dropped download would.
    """

    def __init__(self, inner: ObjectStore, failures: int) -> None:
        super().__init__(inner)
        self.failures = failures

    def put_file(
        self, bucket: str, key: str, path: Path, *, concurrency: int = 8, on_bytes: ByteCallback | None = None
    ) -> ObjectInfo:
        if self.count(f"put_file:{key}") <= self.failures:
            raise ConnectionResetError(f"simulated reset uploading {key}")
        return self.inner.put_file(bucket, key, path, concurrency=concurrency, on_bytes=on_bytes)

    def get_file(
        self,
        bucket: str,
        obj: ObjectInfo,
        dest: Path,
        *,
        concurrency: int = 8,
        on_bytes: ByteCallback | None = None,
    ) -> ObjectInfo:
        if self.count(f"get_file:{obj.key}") <= self.failures:
            dest.write_bytes(b"x" * min(obj.size, 10))
            if on_bytes is not None:
                on_bytes(min(obj.size, 10))
            raise ConnectionResetError(f"simulated reset downloading {obj.key}")
        return self.inner.get_file(bucket, obj, dest, concurrency=concurrency, on_bytes=on_bytes)


class ExtraKeys(Wrapper):
    """Lists ``extra`` keys that are not in the store (as a hostile or broken server might)."""

    def __init__(self, inner: ObjectStore, extra: list[str]) -> None:
        super().__init__(inner)
        self.extra = extra

    def list_objects(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        listed = list(self.inner.list_objects(bucket, prefix))
        return iter(listed + [ObjectInfo(k, 3, None, None) for k in self.extra])


def leftovers(root: Path) -> list[str]:
    """Every ``.incomplete`` file below root."""
    return sorted(p.name for p in root.rglob("*.incomplete"))
