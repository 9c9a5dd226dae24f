"""Which files move first, and the folder store's path for many small files."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from blake3 import blake3

from volcengine_ml_platform.transfer import FolderStore, ObjectInfo, download_prefix, upload_path
from volcengine_ml_platform.transfer._parallel import run_parallel
from volcengine_ml_platform.transfer.base import ByteCallback

from .helpers import Wrapper, make_tree, read_tree


def test_largest_tasks_start_first_and_results_keep_their_order() -> None:
    started: list[int] = []

    def task(n: int) -> object:
        def run(_: threading.Event) -> int:
            started.append(n)
            return n * 10

        return run

    sizes = [5, 100, 1, 100, 50]
    results = run_parallel([task(i) for i in range(5)], concurrency=1, name="t", sizes=sizes)

    assert started == [1, 3, 4, 0, 2]  # by size, equal sizes in their given order
    assert results == [0, 10, 20, 30, 40]


class Recording(Wrapper):
    """Records the keys in the order their transfers start."""

    def __init__(self, inner: FolderStore) -> None:
        super().__init__(inner)
        self.order: list[str] = []

    def put_file(
        self, bucket: str, key: str, path: Path, *, concurrency: int = 8, on_bytes: ByteCallback | None = None
    ) -> ObjectInfo:
        self.order.append(key.rpartition("/")[2])
        return super().put_file(bucket, key, path, concurrency=concurrency, on_bytes=on_bytes)

    def get_file(
        self,
        bucket: str,
        obj: ObjectInfo,
        dest: Path,
        *,
        concurrency: int = 8,
        on_bytes: ByteCallback | None = None,
    ) -> ObjectInfo:
        self.order.append(obj.key.rpartition("/")[2])
        return super().get_file(bucket, obj, dest, concurrency=concurrency, on_bytes=on_bytes)


def test_the_largest_file_moves_first_both_ways(tmp_path: Path) -> None:
    # Sorted by key the big file comes last; alone at the end it would leave the other workers idle.
    files = make_tree(tmp_path / "model", small=20, big=300_000)
    store = Recording(FolderStore(tmp_path / "store"))

    url = upload_path(store, tmp_path / "model", "models", "p/", concurrency=1)
    assert store.order[0] == "big.bin"
    store.order.clear()
    written = download_prefix(store, url, tmp_path / "out", concurrency=1)

    assert store.order[0] == "big.bin"
    assert [p.relative_to(tmp_path / "out").as_posix() for p in written] == sorted(files)  # key order
    assert read_tree(tmp_path / "out") == files


def test_many_small_files_from_many_threads(tmp_path: Path) -> None:
    # The small-file path: one read and one write per file, temporary names from a counter shared by
    # the threads; every object carries the checksum of its own bytes and no temporary is left.
    files = make_tree(tmp_path / "model", small=400)
    root = tmp_path / "store"
    store = FolderStore(root)

    url = upload_path(store, tmp_path / "model", "models", "p/", concurrency=16)

    assert os.listdir(root / ".tmp") == []
    for rel, data in files.items():
        head = store.head("models", f"p/model/{rel}")
        assert head is not None and head.blake3 == blake3(data).hexdigest(), rel
    download_prefix(store, url, tmp_path / "out", concurrency=16)
    assert read_tree(tmp_path / "out") == files
