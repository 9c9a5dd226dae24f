"""Files already at a download's destination: kept when they hold the object's bytes (so a repeated or
interrupted download does not move them again), refused when they differ unless overwriting is asked.

A file matches when its size and recorded checksum (BLAKE3 or sha256) equal the object's. An object
whose checksum is unknown (written by another tool to S3) is compared by its single-part ETag (an MD5)
when it has one; otherwise the local file counts as differing, since nothing proves it is the same."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import ValidationError
from .base import ObjectInfo
from .integrity import digest_fd, recorded_checksum

Existing = Callable[[Sequence[tuple[ObjectInfo, Path]]], set[Path]]
"""Given each (object, destination) of a download, the destinations to keep as they are."""

_MD5_ETAG = re.compile(r"^[0-9a-f]{32}$")
_SHOWN = 5  # differing files named in the error


def _digest(path: Path, algorithm: str) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()


def same_content(obj: ObjectInfo, path: Path) -> bool:
    """Whether the local file ``path`` holds exactly the object's bytes."""
    try:
        if not path.is_file() or path.stat().st_size != obj.size:
            return False
        if (recorded := recorded_checksum(obj)) is not None:
            fd = os.open(path, os.O_RDONLY)
            try:
                return digest_fd(fd, obj.size, recorded[0]) == recorded[1]
            finally:
                os.close(fd)
        if obj.etag is not None and _MD5_ETAG.match(obj.etag):
            return _digest(path, "md5") == obj.etag
    except OSError:
        return False
    return False


def keep_or_refuse(overwrite: bool, head: Callable[[ObjectInfo], ObjectInfo | None]) -> Existing:
    """The policy of ``download``: keep matching files; differing ones raise ValidationError (nothing
    written yet) unless ``overwrite``. ``head`` fills in a checksum a listing left out."""

    def decide(plan: Sequence[tuple[ObjectInfo, Path]]) -> set[Path]:
        keep: set[Path] = set()
        differ: list[Path] = []
        for obj, dest in plan:
            if not dest.exists() and not dest.is_symlink():
                continue
            full = obj if recorded_checksum(obj) is not None else (head(obj) or obj)
            if same_content(full, dest):
                keep.add(dest)
            else:
                differ.append(dest)
        if differ and not overwrite:
            names = ", ".join(str(p) for p in differ[:_SHOWN])
            more = f" and {len(differ) - _SHOWN} more" if len(differ) > _SHOWN else ""
            raise ValidationError(
                f"local_path: {len(differ)} existing file(s) differ from the version's and would be "
                f"replaced: {names}{more}; pass overwrite=True (mlp: --force) to replace them",
                field="local_path",
            )
        return keep

    return decide
