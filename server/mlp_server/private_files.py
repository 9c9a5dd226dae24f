"""The data folder's small private files (``token.key``, ``credentials.json``): written whole and
durable, or not at all.

Each is written to a temporary file beside it (mode 0600), fsynced, then linked or renamed into place,
and the folder fsynced: a crash or power loss leaves the old file or the complete new one, never an
empty one. Any failure (a full disk) removes the temporary file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from volcengine_ml_platform.transfer.durability import fsync_path


def write_private(path: Path, data: bytes, *, keep_existing: bool = False) -> bool:
    """Write ``data`` to ``path`` (0600). ``keep_existing``: only if ``path`` does not exist yet (the
    first of several processes starting at once wins); returns whether this call's ``data`` is
    there."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        written = True
        if keep_existing:
            try:
                os.link(tmp, path)
            except FileExistsError:
                written = False
        else:
            os.replace(tmp, path)
        fsync_path(os.fspath(path.parent), is_dir=True)
        return written
    finally:
        tmp.unlink(missing_ok=True)
