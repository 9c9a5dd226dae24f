"""A version's manifest: the files (key, size, checksum) the platform found under its Path at CreateModel.

The local platform writes it as one object beside the Path (never under it, so it is not one of the
version's files) before it commits the version, and the client's download checks every listed file
against it. Both sides import this module; it imports neither.

Each file's checksum is the one its store recorded: ``Blake3`` for the folder store, ``Sha256`` for the S3
store and for manifests written before 0.2 (both are read; an entry may carry either).

Layout: for the Path ``tos://b/modelrepo/from-sdk-repo/1700000000000/resnet/`` the manifest is the
object ``modelrepo/from-sdk-repo/1700000000000/resnet.mlp-manifest.json``; for a single-file upload
(``.../1700000000000/``) it is ``modelrepo/from-sdk-repo/1700000000000.mlp-manifest.json``. Upload
folders of 0.8.0 and later carry a random tag after the stamp (``1700000000000-3f9a0c1e``): the same rules.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .base import ObjectInfo

SUFFIX = ".mlp-manifest.json"
FORMAT = 1
# GetTOSUploadPath's fresh folder: a millisecond timestamp, then (since 0.8.0) a random tag that keeps
# two platform processes on one database apart (``1700000000000-3f9a0c1e``); the first such segment of a
# key. Folders of earlier releases are the bare 13 digits.
_STAMP = re.compile(r"(\d{13})(?:-[0-9a-f]{8})?")
_TAGGED_STAMP = re.compile(r"\d{13}-[0-9a-f]{8}")


def manifest_key(prefix: str) -> str:
    """The manifest's key for the version whose Path has the key prefix ``prefix``."""
    return prefix.rstrip("/") + SUFFIX


def encode(path: str, files: list[ObjectInfo]) -> bytes:
    entries = [
        {
            k: v
            for k, v in (
                ("Key", f.key),
                ("Size", f.size),
                ("Blake3", f.blake3),
                ("Sha256", f.sha256),
                ("ETag", f.etag),
            )
            if v is not None
        }
        for f in files
    ]
    return json.dumps({"Format": FORMAT, "Path": path, "Files": entries}, indent=1).encode()


def decode(data: bytes) -> tuple[str, list[ObjectInfo]]:
    """(Path, files) of a manifest; ValueError if it is not one."""
    doc = json.loads(data)
    if not isinstance(doc, dict) or doc.get("Format") != FORMAT or not isinstance(doc.get("Files"), list):
        raise ValueError("not a version manifest")
    files = [
        ObjectInfo(str(f["Key"]), int(f["Size"]), f.get("Sha256"), f.get("ETag"), f.get("Blake3"))
        for f in doc["Files"]
    ]
    return str(doc["Path"]), files


@dataclass(frozen=True)
class UploadUnit:
    """The objects of one GetTOSUploadPath prefix: its key prefix and its millisecond timestamp."""

    prefix: str
    stamp_ms: int


def upload_unit(key: str) -> UploadUnit | None:
    """The upload prefix ``key`` belongs to (a manifest beside a single-file upload belongs to that
    upload), or None for a key not laid out by GetTOSUploadPath."""
    segments = key.split("/")
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        stamp = segment.removesuffix(SUFFIX) if last else segment
        found = _STAMP.fullmatch(stamp)
        if found and (not last or segment.endswith(SUFFIX)):
            return UploadUnit("/".join([*segments[:i], stamp]) + "/", int(found.group(1)))
    return None


def fresh_folder_below(key: str, unit: UploadUnit) -> int | None:
    """The millisecond stamp of the first segment of ``key`` below its upload prefix ``unit`` that has
    the form of GetTOSUploadPath's fresh folder since 0.8.0 (a tagged stamp), or None: an upload handed
    out in a folder named like a stamp (a ``Path`` of 13 digits, which is then the key's first stamp)
    has its own folder there. None too when ``unit`` is such a folder itself (the usual upload)."""
    if not key.startswith(unit.prefix) or _TAGGED_STAMP.fullmatch(unit.prefix.rstrip("/").rpartition("/")[2]):
        return None
    for segment in key[len(unit.prefix) :].split("/"):
        if _TAGGED_STAMP.fullmatch(segment):
            return int(segment[:13])
    return None


def always_recorded(prefix: str) -> bool:
    """Whether the version Path with the key prefix ``prefix`` must have a manifest: the Path of an
    upload folder of 0.8.0 or later (a tagged stamp, then at most the uploaded folder's name), which
    only the local platform hands out and which, since manifests exist, records one at every
    CreateModel. Other Paths may rightly have none: the Volcengine service's (bare stamps, no
    manifests), those of release 0.1.0 (before manifests) and Paths laid out by hand."""
    unit = upload_unit(prefix)
    if unit is None or not _TAGGED_STAMP.fullmatch(unit.prefix.rstrip("/").rpartition("/")[2]):
        return False
    return "/" not in prefix[len(unit.prefix) :].rstrip("/")
