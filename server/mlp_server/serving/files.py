"""A version's files on this machine: downloaded once per version, verified, found, and evicted once the
version is deleted (by the delete itself, or later by a sweep of what no version or service needs)."""

from __future__ import annotations

import os
import secrets
import shutil
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from volcengine_ml_platform.transfer.base import ObjectStore
from volcengine_ml_platform.transfer.manager import download_prefix

from .. import scratch
from ..scratch import make_locked

PARTIAL = ".partial-"  # a download in progress (locked by its owner), or one a crash left
EVICTED = ".evicted-"  # a deleted version's folder being removed, or one a crash left half-removed


class ModelLoadError(Exception):
    """The version cannot be served; the message is the service's Failed reason."""


def find_onnx(model_dir: Path) -> Path:
    """The version's one ``.onnx`` file (at any depth); none or several is a load error."""
    found = sorted(p for p in model_dir.rglob("*.onnx") if p.is_file())
    if len(found) != 1:
        what = (
            "no .onnx file" if not found else f"{len(found)} .onnx files ({', '.join(p.name for p in found)})"
        )
        raise ModelLoadError(f"the version has {what}; the local platform serves one ONNX model per version")
    return found[0]


class VersionCache:
    """``<root>/<ModelVersionID>/``: a folder exists only once every file in it was verified."""

    def __init__(self, root: Path, objects: ObjectStore) -> None:
        self.root = root
        self.objects = objects
        # A lock per version being fetched now, with how many callers hold or wait on it: dropped
        # by the last, so a long-lived server does not keep one per version it ever served.
        self._locks: dict[str, tuple[threading.Lock, list[int]]] = {}
        self._guard = threading.Lock()

    def folder(self, version_id: str, tos_url: str) -> Path:
        with self._guard:
            lock, users = self._locks.setdefault(version_id, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                return self._fill(version_id, tos_url)
        finally:
            with self._guard:
                users[0] -= 1
                if not users[0]:
                    del self._locks[version_id]

    def _fill(self, version_id: str, tos_url: str) -> Path:
        final = self.root / version_id
        if final.is_dir():
            return final
        self.root.mkdir(parents=True, exist_ok=True)
        # Locked while it fills: one that a killed process left is removed by the next download of
        # the version, here or in another platform process (see ``scratch``).
        tmp, held = make_locked(f"{PARTIAL}{version_id}.", self.root)
        try:
            # The store verifies every file's size and checksum before it is moved into place.
            download_prefix(self.objects, tos_url, tmp, concurrency=4)
            os.replace(tmp, final)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if final.is_dir():  # another platform process on this data folder was first
                return final
            raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            os.close(held)
        return final


def cache_root(data_dir: Path) -> Path:
    """Where the platform process of ``data_dir`` caches the versions its replicas serve (one folder
    per ModelVersionID; on each machine, in team mode)."""
    return data_dir / "serving" / "versions"


def evict(root: Path, version_id: str) -> int:
    """Remove the cached copy of a deleted version; returns the bytes freed (0: nothing cached). The
    folder is renamed away first: a crash while it is removed never leaves a half folder under the name
    that means "complete and verified", and :func:`evict_unneeded` removes what it left."""
    if not version_id or version_id.startswith(".") or "/" in version_id or os.sep in version_id:
        return 0
    final = root / version_id
    size = _tree_size(final)
    # Named as scratch names its folders (this host's tag, 8 characters), so that a sweep can prove one
    # a crash left dead: unlocked, made by this kernel, older than scratch.GRACE_SECONDS.
    doomed = root / f"{EVICTED}{version_id}.{scratch.this_host().tag}{secrets.token_hex(4)}"
    try:
        os.rename(final, doomed)
    except FileNotFoundError:
        return 0  # none cached here, or another process evicted it first
    shutil.rmtree(doomed, ignore_errors=True)
    return size


@dataclass(frozen=True)
class Evicted:
    version_id: str
    folder: Path
    bytes: int


def evict_unneeded(
    root: Path, needed: Callable[[Collection[str]], Collection[str]], *, dry_run: bool = False
) -> list[Evicted]:
    """Remove the cached versions that ``needed`` (given the cached ModelVersionIDs, it answers those
    still registered or used by a service) does not keep: a version deleted while this process was
    not running, or on another machine. Then the partial downloads and half-removed folders that no
    live process holds (``scratch``'s rules). With ``dry_run``, only say what would go.

    A version that is gone stays gone (ids are never reused) and no new service can name it, so a
    folder judged unneeded cannot become needed while it is removed."""
    try:
        names = [
            e.name for e in os.scandir(root) if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
        ]
    except FileNotFoundError:
        return []
    keep = set(needed(names)) if names else set()
    gone = [Evicted(name, root / name, _tree_size(root / name)) for name in sorted(set(names) - keep)]
    if dry_run:
        return gone
    for item in gone:
        evict(root, item.version_id)
    scratch.sweep(PARTIAL, root)
    scratch.sweep(EVICTED, root)
    return gone


def _tree_size(folder: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total
