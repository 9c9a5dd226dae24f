"""Uploading a local file or folder and downloading a prefix, laid out as wire protocol section 6 says.

Upload: a folder ``d`` goes to ``{key_prefix}{basename(d)}/{relative path}`` and its URL is
``tos://{bucket}/{key_prefix}{basename(d)}/``; a single file goes to ``{key_prefix}{file name}`` and its
URL is ``tos://{bucket}/{key_prefix}``. Download copies every object under a URL to a local folder,
keeping relative paths. Files move in parallel; large files also in parallel parts (inside the store).

A downloaded file is written to ``{name}.{random}.incomplete`` next to its destination and moved into
place only once the store has verified it, so a destination never holds a half-written file. The
download holds a lock on that file while it writes it (see :mod:`.partfile`): the next download of the
same file removes such files that a killed download left, never one that another download is writing.

When the platform recorded a manifest for the URL (see :mod:`.manifest`), download takes its file list
from there: every recorded file must be present with its recorded size and checksum, or the download
fails naming what is missing. A URL whose layout says it had one (:func:`.manifest.always_recorded`)
and that lost it fails naming the manifest; other URLs without one download what is listed. An empty
prefix is an error, never an empty success.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import os
import secrets
import stat
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ..errors import TransferError, UploadWarning, ValidationError
from . import manifest, partfile
from ._parallel import Cancelled, Task, run_parallel, small_in_one_lane
from .base import ByteCallback, ObjectInfo, ObjectStore, unsafe_path_reason, validate_bucket
from .base import tos_url as url_of
from .existing import Existing
from .integrity import recorded_checksum
from .progress import ProgressCallback, ProgressTracker
from .retry import DEFAULT_RETRY, RetryPolicy, call_with_retry
from .selection import FileFilter

logger = logging.getLogger(__name__)

T = TypeVar("T")

_SCHEME = "tos://"
# Uploads this small run in the calling thread (see upload_path).
SMALL_UPLOAD_FILES = 4
SMALL_UPLOAD_BYTES = 1 << 20


def parse_tos_url(url: str) -> tuple[str, str]:
    """Split ``tos://{bucket}/{prefix}`` into ``(bucket, prefix)``; the prefix may be empty."""
    if not isinstance(url, str) or not url.startswith(_SCHEME):
        raise ValidationError(f"not a tos:// URL: {url!r} (expected tos://bucket/prefix/)", field="url")
    bucket, _, prefix = url[len(_SCHEME) :].partition("/")
    if not bucket:
        raise ValidationError(f"no bucket in {url!r} (expected tos://bucket/prefix/)", field="url")
    try:
        validate_bucket(bucket)
    except ValidationError:
        raise ValidationError(f"invalid bucket name {bucket!r} in {url!r}", field="url") from None
    if "\x00" in prefix:
        raise ValidationError(f"NUL character in {url!r}", field="url")
    return bucket, prefix


@dataclass(frozen=True)
class LocalFiles:
    """What an upload of ``path`` sends, listed once (see :func:`list_local`)."""

    path: Path
    name: str  # the folder's or the file's own name, the last part of every key
    is_folder: bool
    files: list[tuple[Path, str, int]]  # (path, relative POSIX path, size) in key order


def list_local(local_path: Path, select: FileFilter | None = None) -> LocalFiles:
    """The files an upload of ``local_path`` sends (a folder's as ``select`` picks them), each name
    checked to make an object key: a name that is not UTF-8 raises ValidationError naming the file."""
    local_path = Path(local_path)
    if local_path.is_dir():
        name = Path(os.path.abspath(local_path)).name
        if not name:
            raise ValidationError(f"cannot upload the file system root {local_path}", field="local_path")
        listed = LocalFiles(local_path, name, True, _files_below(local_path, select))
    elif local_path.is_file():
        try:
            size = local_path.stat().st_size
        except OSError as exc:
            raise TransferError(f"cannot upload {exc.filename}: {exc.strerror}") from exc
        listed = LocalFiles(local_path, local_path.name, False, [(local_path, local_path.name, size)])
    else:
        what = "not a regular file or a folder" if os.path.lexists(local_path) else "no such file or folder"
        raise TransferError(f"cannot upload {local_path}: {what}")
    _check_utf8(listed)
    return listed


def _check_utf8(listed: LocalFiles) -> None:
    """Object keys are UTF-8 (S3 refuses anything else): a file whose name the file system keeps as
    other bytes is refused before anything is sent, not half-way through the upload. Refused rather
    than escaped: an escaped key would download under another name than the one registered."""
    for path, rel in [(listed.path, listed.name), *((p, r) for p, r, _ in listed.files)]:
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:
            shown = os.fsencode(path).decode("utf-8", "backslashreplace")
            raise ValidationError(
                f"local_path: cannot upload {shown}: its name is not UTF-8, which object keys must be "
                "(rename it, or leave it out with ignore_patterns)",
                field="local_path",
            ) from None


def upload_path(
    store: ObjectStore,
    local_path: Path,
    bucket: str,
    key_prefix: str,
    *,
    concurrency: int = 8,
    progress: ProgressCallback | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    select: FileFilter | None = None,
    listed: LocalFiles | None = None,
) -> str:
    """Upload a file or a folder under ``key_prefix`` and return its ``tos://`` URL (section 6).

    ``select`` picks the files of a folder by relative path (see :mod:`.selection`); ``listed``, the
    files :func:`list_local` found for ``local_path`` already (``select`` is then not used again).

    ``key_prefix`` is empty or ends with ``/`` (the platform's ``KeyPrefix`` does). Every key is checked
    before the first byte moves; raises ``TransferError`` naming the file that failed.
    """
    validate_bucket(bucket)
    _check_concurrency(concurrency)
    if key_prefix and (not key_prefix.endswith("/") or unsafe_path_reason(key_prefix[:-1])):
        raise ValidationError(
            f"key_prefix {key_prefix!r} must be empty or a relative path ending with '/'", field="key_prefix"
        )
    if listed is None:
        listed = list_local(Path(local_path), select)
    if listed.is_folder:
        root_key = f"{key_prefix}{listed.name}/"
        url = url_of(bucket, root_key)
        if not listed.files:
            warnings.warn(f"{listed.path} holds no files: nothing uploaded to {url}", UploadWarning, 2)
    else:
        root_key, url = key_prefix, url_of(bucket, key_prefix)
    files = [(path, rel, root_key + rel) for path, rel, _ in listed.files]
    sizes = [size for _, _, size in listed.files]
    for path, _, key in files:
        if reason := unsafe_path_reason(key):
            raise TransferError(f"cannot upload {path} as key {key!r}: {reason}")

    tracker = ProgressTracker(progress, bytes_total=sum(sizes), files_total=len(files))
    tracker.start()

    def upload(path: Path, rel: str, key: str) -> Task[ObjectInfo]:
        def run(cancel: threading.Event) -> ObjectInfo:
            return _attempts(
                f"upload of {path} to {url_of(bucket, key)}",
                rel,
                tracker,
                cancel,
                retry,
                lambda on_bytes: store.put_file(
                    bucket, key, path, concurrency=concurrency, on_bytes=on_bytes
                ),
            )

        return run

    # A few small files go one after another: starting threads would cost more than it saves.
    small = len(files) <= SMALL_UPLOAD_FILES and sum(sizes) <= SMALL_UPLOAD_BYTES
    tasks, task_sizes = _lanes(store, [upload(*f) for f in files], sizes)
    run_parallel(tasks, concurrency=1 if small else concurrency, name="mlp-upload", sizes=task_sizes)
    logger.info("uploaded %d files (%d bytes) to %s", len(files), sum(sizes), url)
    return url


def download_prefix(
    store: ObjectStore,
    tos_url: str,
    local_path: Path,
    *,
    concurrency: int = 8,
    progress: ProgressCallback | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    existing: Existing | None = None,
) -> list[Path]:
    """Copy every object under ``tos_url`` into the folder ``local_path``, keeping relative paths.

    ``existing`` decides, before anything is written, which destination files are kept as they are
    (see :mod:`.existing`); by default every file is downloaded and replaced.

    A URL not ending with ``/`` names a folder too; if nothing is under it but an object has exactly
    that key, that one object is downloaded into ``local_path``. Returns the files written, in key
    order. Keys that would land outside ``local_path`` are refused before anything is written; on
    failure no ``.incomplete`` file and no half-written file remains (files already verified and moved
    into place do).
    """
    url = tos_url
    bucket, prefix = parse_tos_url(url)
    _check_concurrency(concurrency)
    folder = prefix if not prefix or prefix.endswith("/") else prefix + "/"
    objects = _call(
        f"listing of {url_of(bucket, folder)}", retry, lambda: list(store.list_objects(bucket, folder))
    )
    # A version Path of the upload layout is a folder (one object named by a URL is not such a Path).
    expects_manifest = bool(objects) and manifest.always_recorded(folder)
    if not objects and folder != prefix:
        single = _call(f"head of {url}", retry, lambda: store.head(bucket, prefix))
        if single is not None:
            objects, folder = [single], prefix[: prefix.rfind("/") + 1]
    recorded = _manifest(store, bucket, prefix, retry) if prefix else None
    if recorded is None and expects_manifest:
        # Without the record a listing cannot tell a file removed behind the platform's back: a
        # download would be short, and say nothing.
        raise TransferError(
            f"{url} has lost its manifest, {url_of(bucket, manifest.manifest_key(prefix))}, the "
            "platform's record of the version's files: cannot verify that the files listed are all of "
            "them (restore the data folder from a backup, or register the files again)"
        )
    if recorded is not None:
        objects = _as_recorded(bucket, url, recorded, objects)
        if objects and not objects[0].key.startswith(folder):  # the manifest of a single object
            folder = prefix[: prefix.rfind("/") + 1]
    root = Path(os.path.abspath(local_path))
    plan = _plan(bucket, folder, objects, root)
    if not plan:
        raise TransferError(f"no objects under {url}: nothing to download")
    partfile.remove_left_behind(dest for _, _, dest in plan)
    kept = existing([(obj, dest) for obj, _, dest in plan]) if existing else set()
    everything = [dest for _, _, dest in plan]
    plan = [p for p in plan if p[2] not in kept]

    created = _make_folders(root, {dest.parent for _, _, dest in plan})
    tracker = ProgressTracker(progress, bytes_total=sum(o.size for o, _, _ in plan), files_total=len(plan))
    tracker.start()

    # Temporary names: one random start per download, then a counter (no urandom per file); two
    # downloads of the same file, even from two processes, still pick different names.
    serial = itertools.count(secrets.randbits(32))

    def download(obj: ObjectInfo, rel: str, dest: Path) -> Task[Path]:
        def run(cancel: threading.Event) -> Path:
            part = partfile.create(dest, serial)
            try:
                _attempts(
                    f"download of {url_of(bucket, obj.key)} to {dest}",
                    rel,
                    tracker,
                    cancel,
                    retry,
                    lambda on_bytes: store.get_file(
                        bucket, obj, part.path, concurrency=concurrency, on_bytes=on_bytes
                    ),
                )
                # The store verified the content; this guards against a store that forgot to.
                if (size := part.size()) != obj.size:
                    raise TransferError(f"{url_of(bucket, obj.key)}: wrote {size} bytes, expected {obj.size}")
                part.move_to(dest)
            except BaseException:
                part.discard()
                raise
            part.release()
            return dest

        return run

    try:
        tasks, sizes = _lanes(store, [download(*p) for p in plan], [obj.size for obj, _, _ in plan])
        run_parallel(tasks, concurrency=concurrency, name="mlp-download", sizes=sizes)
        return everything
    except BaseException:
        for made in reversed(created):  # deepest first; keeps folders holding verified files
            with contextlib.suppress(OSError):
                made.rmdir()
        raise


# -- helpers ------------------------------------------------------------------------------------


def _manifest(store: ObjectStore, bucket: str, prefix: str, retry: RetryPolicy) -> list[ObjectInfo] | None:
    """The files the platform recorded for ``prefix``, or None when it recorded none: one GET, read in
    memory (no HEAD first, no scratch file)."""
    key = manifest.manifest_key(prefix)
    found = _call(f"download of {url_of(bucket, key)}", retry, lambda: store.get_bytes(bucket, key))
    if found is None:
        return None
    try:
        _, files = manifest.decode(found[1])
    except (ValueError, KeyError, TypeError) as exc:
        raise TransferError(f"{url_of(bucket, key)} is not a readable version manifest: {exc}") from exc
    return files


def _as_recorded(
    bucket: str, url: str, recorded: list[ObjectInfo], listed: list[ObjectInfo]
) -> list[ObjectInfo]:
    """The recorded files, each checked present with its recorded size; else a TransferError naming
    every file that is missing or changed."""
    present = {o.key: o for o in listed}
    missing = [f.key for f in recorded if f.key not in present]
    changed = [f.key for f in recorded if f.key in present and present[f.key].size != f.size]
    if missing or changed:
        named = [
            *(f"missing: {url_of(bucket, k)}" for k in missing),
            *(f"changed: {url_of(bucket, k)}" for k in changed),
        ]
        shown = "; ".join(named[:10]) + (f"; and {len(named) - 10} more" if len(named) > 10 else "")
        raise TransferError(
            f"{url} is incomplete: {len(missing)} of the {len(recorded)} files the platform recorded are "
            f"missing and {len(changed)} changed ({shown})"
        )
    # The recorded checksum pins each download to the bytes that were registered: a checksum of the
    # object as it is now is taken only when the manifest recorded none.
    return [_pinned(f, present[f.key]) for f in recorded]


def _pinned(recorded: ObjectInfo, present: ObjectInfo) -> ObjectInfo:
    etag = recorded.etag or present.etag
    if recorded_checksum(recorded) is not None:
        return ObjectInfo(recorded.key, recorded.size, recorded.sha256, etag, recorded.blake3)
    return ObjectInfo(recorded.key, recorded.size, present.sha256, etag, present.blake3)


def _lanes(
    store: ObjectStore, tasks: list[Task[T]], sizes: list[int]
) -> tuple[list[Task[object]], list[int]]:
    """The tasks to run: a store that says so (``small_files_in_one_lane``, the folder store's number of
    bytes) gets its small files one after another in one lane (see :func:`small_in_one_lane`)."""
    small = getattr(store, "small_files_in_one_lane", None)
    if not isinstance(small, int) or isinstance(small, bool):
        return list(tasks), sizes
    return small_in_one_lane(tasks, sizes, small)


def _check_concurrency(concurrency: int) -> None:
    if concurrency < 1:
        raise ValidationError(f"concurrency must be at least 1, not {concurrency}", field="concurrency")


def _call(what: str, retry: RetryPolicy, fn: Callable[[], T]) -> T:
    """``call_with_retry`` that reports any failure as a ``TransferError`` naming ``what``."""
    try:
        return call_with_retry(fn, what=what, policy=retry)
    except (TransferError, Cancelled):
        raise
    except Exception as exc:
        raise TransferError(f"{what} failed: {exc}") from exc


def _attempts(
    what: str,
    name: str,
    tracker: ProgressTracker,
    cancel: threading.Event,
    retry: RetryPolicy,
    fn: Callable[[ByteCallback], T],
) -> T:
    """Move one file with retries; the bytes a failed attempt reported are taken back from the progress."""
    if cancel.is_set():
        raise Cancelled

    def attempt() -> T:
        moved: list[int] = []  # appended from several part threads: list.append is atomic

        def on_bytes(nbytes: int) -> None:
            if cancel.is_set():
                raise Cancelled  # another file failed: stop at the next chunk
            moved.append(nbytes)
            tracker.add_bytes(name, nbytes)

        try:
            return fn(on_bytes)
        except BaseException:
            tracker.add_bytes(name, -sum(moved))
            raise

    result = _call(what, retry, attempt)
    tracker.file_done(name)
    return result


def _left_out(message: str, depth: int = 0) -> None:
    # A warning, not a log record: files left out of an upload are news a Python program must see
    # without configuring logging (the mlp command prints it as "mlp: warning: ...").
    # Attributed to upload_path or to whoever else listed the files (depth: frames between).
    warnings.warn(message, UploadWarning, 4 + depth)


def _files_below(folder: Path, select: FileFilter | None = None) -> list[tuple[Path, str, int]]:
    """(path, relative POSIX path, size) of every selected file below ``folder``, following symlinks
    without looping. Selection comes first: what is not uploaded is never warned about (a dangling
    link the patterns leave out is no concern of the user's). One ``stat`` per file answers both "is it
    a regular file" and its size (a Path per file and two stats were a tenth of a small file's upload)."""
    found: list[tuple[Path, str, int]] = []
    ancestors: dict[str, frozenset[tuple[int, int]]] = {}
    base = len(os.path.join(folder, ""))  # the relative path starts after "{folder}/"

    def fail(exc: OSError) -> None:  # os.walk would silently skip an unreadable folder
        raise TransferError(f"cannot read {exc.filename}: {exc.strerror}") from exc

    for dirpath, dirnames, filenames in os.walk(folder, onerror=fail, followlinks=True):
        st = os.stat(dirpath)
        here = (st.st_dev, st.st_ino)
        above = ancestors.pop(dirpath, frozenset())
        if here in above:
            _left_out(f"skipping {dirpath}: a symlink back to a folder that contains it")
            dirnames.clear()
            continue
        for name in dirnames:
            ancestors[os.path.join(dirpath, name)] = above | {here}
        for name in filenames:
            path = os.path.join(dirpath, name)
            rel = path[base:] if os.sep == "/" else Path(path[base:]).as_posix()
            if select is not None and not select(rel):
                continue
            if (found_stat := _stat_followed(path)) is None:
                continue
            mode, size = found_stat
            if not stat.S_ISREG(mode):  # socket, fifo...
                _left_out(f"skipping {path}: not a regular file")
                continue
            found.append((Path(path), rel, size))
    return sorted(found, key=lambda f: f[1])


def _stat_followed(path: str) -> tuple[int, int] | None:
    """(mode, size) of what ``path`` leads to, or None (with a warning) for a dangling symlink or a file
    gone since the folder was listed, which are skipped as ``Path.is_file`` skipped them."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            raise TransferError(f"cannot upload {path}: {exc.strerror}") from exc
        if os.path.islink(path):
            _left_out(f"skipping {path}: a symlink to {os.readlink(path)}, which does not exist", 1)
        else:
            _left_out(f"skipping {path}: it disappeared while the folder was listed", 1)
        return None
    return st.st_mode, st.st_size


def _plan(
    bucket: str, folder: str, objects: list[ObjectInfo], root: Path
) -> list[tuple[ObjectInfo, str, Path]]:
    """Map each object to its destination below ``root``; refuse any that would land elsewhere."""
    plan: list[tuple[ObjectInfo, str, Path]] = []
    files: set[str] = set()
    parents: set[str] = set()
    for obj in objects:
        rel = obj.key[len(folder) :]
        if (rel == "" or rel.endswith("/")) and obj.size == 0:
            continue  # a "folder" marker object, as web consoles create
        if reason := unsafe_path_reason(rel):
            raise TransferError(
                f"refusing to download {url_of(bucket, obj.key)}: its path below {url_of(bucket, folder)}, "
                f"{rel!r}, would not stay inside {root} ({reason})"
            )
        ancestors = {rel[:i] for i, c in enumerate(rel) if c == "/"}
        if rel in parents or ancestors & files:
            raise TransferError(f"cannot download {url_of(bucket, obj.key)}: it is both a file and a folder")
        files.add(rel)
        parents |= ancestors
        plan.append((obj, rel, root.joinpath(*rel.split("/"))))
    real_root = root.resolve()
    escapes = {
        # A symlinked folder inside local_path must not carry a file elsewhere.
        parent: not parent.resolve().is_relative_to(real_root)
        for parent in {dest.parent for _, _, dest in plan}
    }
    for obj, _, dest in plan:
        if escapes[dest.parent]:
            raise TransferError(
                f"refusing to download {url_of(bucket, obj.key)}: {dest.parent} leads outside {root}"
            )
        if dest.is_dir() and not dest.is_symlink():
            raise TransferError(f"cannot download {url_of(bucket, obj.key)}: {dest} is a folder")
    return plan


def _make_folders(root: Path, folders: set[Path]) -> list[Path]:
    """Create ``root`` and ``folders``; return the ones this call created, parents before children."""
    needed: set[Path] = set()
    for folder in {root, *folders}:
        for p in (folder, *folder.parents):  # up to the first one that exists
            if p in needed or p.is_dir():
                break
            needed.add(p)
    created: list[Path] = []
    try:
        for folder in sorted(needed, key=lambda p: len(p.parts)):
            try:
                folder.mkdir()
                created.append(folder)
            except FileExistsError:
                if not folder.is_dir():
                    raise TransferError(f"cannot create folder {folder}: a file is in the way") from None
            except OSError as exc:
                raise TransferError(f"cannot create folder {folder}: {exc.strerror}") from exc
    except BaseException:
        for made in reversed(created):
            with contextlib.suppress(OSError):
                made.rmdir()
        raise
    return created
