"""Making a folder store's files survive a power loss: the file's bytes and attributes, and the
directory entries that lead to it from the store's root.

A rename is durable only once the directory holding the new name is fsynced, and a directory made on
the way only once its parent is. Every directory from the file's up to the root is fsynced rather
than only those this process made: another writer may have made one a moment ago without having
fsynced it yet. A directory with nothing pending costs a syscall and no disk write (ext4, xfs, btrfs).
Used by :class:`~.folder.FolderStore` (``fsync=True``) and by the platform, which syncs the objects
of a Path before it registers them whoever wrote them (so a client that did not is covered too).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_dirs(folder: Path, root: Path, done: set[Path] | None = None) -> None:
    """fsync ``folder`` and each of its parents up to ``root`` (inclusive), skipping and adding to
    ``done`` (the folders already synced by the caller's earlier calls)."""
    folder, root = Path(folder), Path(root)
    if folder != root and root not in folder.parents:
        raise ValueError(f"{folder} is not below {root}")
    for each in [folder, *(p for p in folder.parents if root in p.parents or p == root)]:
        if done is not None:
            if each in done:
                return  # it and every parent above it were synced already
            done.add(each)
        _fsync(each, _DIR_FLAGS)


def sync_files(paths: Iterable[Path], root: Path) -> None:
    """fsync each file (bytes, size, attributes) and then every directory on its way from ``root``,
    each directory once. A file that is gone raises FileNotFoundError (it cannot be made durable)."""
    folders: set[Path] = set()
    for path in paths:
        _fsync(path, _FILE_FLAGS)
        folders.add(Path(path).parent)
    done: set[Path] = set()
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        sync_dirs(folder, root, done)
