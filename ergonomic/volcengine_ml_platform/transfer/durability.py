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


def _fsync(path: str | Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_path(path: str, is_dir: bool) -> None:
    """fsync one file (not following a symlink) or one directory, by name."""
    _fsync(path, _DIR_FLAGS if is_dir else _FILE_FLAGS)


def folders_up_to(folder: str, root: str) -> list[str]:
    """``folder`` and each of its parents up to ``root`` (inclusive), deepest first. Plain strings:
    this runs for every file of every registration. ValueError if ``folder`` is not below ``root``."""
    folder, root = os.path.normpath(folder), os.path.normpath(root)
    below = root.rstrip(os.sep) + os.sep
    if folder != root and not folder.startswith(below):
        raise ValueError(f"{folder} is not below {root}")
    chain = []
    while folder != root:
        chain.append(folder)
        folder = os.path.dirname(folder)
    chain.append(root)
    return chain


def sync_dirs(folder: Path, root: Path, done: set[str] | None = None) -> None:
    """fsync ``folder`` and each of its parents up to ``root`` (inclusive), skipping and adding to
    ``done`` (the folders already synced by the caller's earlier calls)."""
    for each in folders_up_to(os.fspath(folder), os.fspath(root)):
        if done is not None:
            if each in done:
                return  # it and every parent above it were synced already
            done.add(each)
        _fsync(each, _DIR_FLAGS)


def sync_files(paths: Iterable[Path], root: Path) -> None:
    """fsync each file (bytes, size, attributes) and then every directory on its way from ``root``,
    each directory once. A file that is gone raises FileNotFoundError (it cannot be made durable)."""
    folders: set[str] = set()
    for path in paths:
        _fsync(path, _FILE_FLAGS)
        folders.add(os.path.dirname(os.path.normpath(path)))
    done: set[str] = set()
    for folder in sorted(folders, key=lambda p: p.count(os.sep), reverse=True):
        sync_dirs(Path(folder), root, done)
