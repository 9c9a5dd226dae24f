"""What happens to a version's objects: the manifest written at CreateModel, the objects reclaimed when
the version (or its model) is deleted, and the sweep of what no version references.

Crash safety follows from the order of the steps. CreateModel writes the objects (client), then the
manifest, then commits the row: a crash before the commit leaves an upload prefix no version
references; the sweep removes such prefixes once they are older than the grace period. Delete commits
the row's removal together with a pending-reclaim record naming the Path, then removes the objects,
then the record: a crash in between leaves the record, which the sweep finishes (at start-up too),
whatever the Path's layout.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from volcengine_ml_platform.transfer import manifest
from volcengine_ml_platform.transfer.base import ObjectInfo, ObjectStore, unsafe_path_reason
from volcengine_ml_platform.transfer.folder import FolderStore

from .context import Platform
from .errors import ApiError
from .store.reclaim_turns import TurnBusy
from .store.reclaims import PendingReclaim

if TYPE_CHECKING:
    from .serving.files import Evicted

log = logging.getLogger("mlp_server")

DEFAULT_GRACE_SECONDS = 24 * 3600
DEFAULT_INTERVAL_SECONDS = 600
_BUCKET = re.compile(r"ml-platform-auto-created-required-(\d+)-(.+)")
# A reclaim removes the objects written before its delete was recorded. The record's time is the
# platform's clock, an object's the store's (S3's LastModified in whole seconds): an object is the
# deleted version's unless written more than this after the record.
RECORD_MARGIN_SECONDS = 1.0
# A decision to remove objects waits this long for the registrations in flight (store.reclaim_turns);
# a registration waits this long for a decision, then is answered a retryable 503.
DECISION_TURN_WAIT_SECONDS = 30.0
REGISTRATION_TURN_WAIT_SECONDS = 10.0
# How long the sweep's decision to remove an upload prefix is kept (store.reclaims.swept_upload): a
# CreateModel of that prefix meanwhile is refused. A client still writing files to it a week later is
# not one to wait for.
SWEPT_UPLOADS_KEPT_SECONDS = 7 * 86400


def grace_from_env() -> float:
    """``MLP_GC_GRACE``: seconds, or a number with a unit (``90s``, ``30m``, ``24h``, ``2d``)."""
    return parse_duration(os.environ.get("MLP_GC_GRACE") or str(DEFAULT_GRACE_SECONDS))


def parse_duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    value = text.strip().lower()
    factor = units.get(value[-1:], 0)
    number = value[:-1] if factor else value
    try:
        seconds = float(number) * (factor or 1)
    except ValueError:
        raise ValueError(f"grace: {text!r} is not a duration such as 0, 3600, 30m, 24h or 2d") from None
    if seconds < 0 or seconds != seconds:
        raise ValueError(f"grace: {text!r} must not be negative")
    return seconds


def split_path(path: str) -> tuple[str, str]:
    """``tos://bucket/prefix`` -> (bucket, prefix)."""
    bucket, _, prefix = path.removeprefix("tos://").partition("/")
    return bucket, prefix


# -- CreateModel: the manifest ----------------------------------------------------------------------


def list_version_files(objects: ObjectStore, path: str) -> list[ObjectInfo]:
    """The objects a Path names: everything under it as a folder, else the single object it names."""
    bucket, prefix = split_path(path)
    folder = prefix if prefix.endswith("/") else prefix + "/"
    if (listed := _listed(objects, bucket, folder)) is None:
        return []
    files = [o for o in listed if not o.key.endswith(manifest.SUFFIX)]
    # A key no store may hold ('..', '.', a backslash, absolute: see unsafe_path_reason) names nothing.
    named = not files and folder != prefix and unsafe_path_reason(prefix) is None
    if named and isinstance(objects, FolderStore):
        named = objects.beneath(bucket, prefix.rpartition("/")[0])
    if named and (single := objects.head(bucket, prefix)) is not None:
        files = [single]
    return files


def _listed(objects: ObjectStore, bucket: str, folder: str) -> list[ObjectInfo] | None:
    """Every object under ``folder``; None when the bucket does not exist (an S3 store answers
    NoSuchBucket for an account that never asked GetTOSUploadPath: it has no objects)."""
    try:
        return list(objects.list_objects(bucket, folder))
    except Exception as exc:
        if getattr(exc, "response", {}).get("Error", {}).get("Code") == "NoSuchBucket":
            return None
        raise


def write_manifest(objects: ObjectStore, path: str, files: list[ObjectInfo]) -> None:
    # Straight from memory, on either store: no scratch file that a crash (kill -9) would leave behind.
    bucket, prefix = split_path(path)
    objects.put_bytes(bucket, manifest.manifest_key(prefix), manifest.encode(path, files))


def make_durable(platform: Platform, path: str, files: list[ObjectInfo]) -> None:
    """The Path's files and its manifest on disk (folder store), before the version is committed."""
    sync = platform.objects_sync
    if sync is None:
        return
    bucket, prefix = split_path(path)
    keys = [*(f.key for f in files), manifest.manifest_key(prefix)]
    sync.sync([sync.root / bucket / key for key in keys])


def finish_covering_reclaims(platform: Platform, account_id: int, path: str) -> None:
    """For a CreateModel on ``path``: finish the recorded reclaims that cover it (a delete's whose
    background reclaim failed or is still running, or the sweep's), waiting up to
    :data:`RECLAIM_WAIT_SECONDS`. Each removes only the objects written before it was recorded, so
    files uploaded to the Path since stay; another server finishing the same record at once removes
    the same objects, and either drops it. A record still there after that (the store still fails,
    or is slow) is a retryable 503 naming the Path."""
    covering = platform.store.reclaims_covering(account_id, path)
    if covering:
        reclaim_after_delete(platform, account_id, covering, drop_now=True)
    if (pending := platform.store.reclaim_covering(account_id, path)) is not None:
        raise ApiError(
            "ServiceUnavailableTemp",
            f"VersionInfo.Path: the objects under {pending} are still being removed after a delete; "
            "try again shortly (then upload the files again if they are gone)",
        )


def swept_upload(platform: Platform, account_id: int, path: str) -> str | None:
    """The upload prefix (tos:// URL) holding ``path`` if the storage sweep decided to remove it, else
    None. The sweep judges an upload by its age: one still being written (a slow client, a grace
    shorter than the time between two of its files) can lose its first files, and files written after
    the removal survive it. So a CreateModel of a prefix the sweep judged (in its exclusive turn, before
    this registration's shared one) is refused, whatever is there now: either all of an upload's files
    are registered, or none, and the client uploads again to a new prefix. The upload prefix without
    its trailing ``/`` is a Path of it too (CreateModel lists a Path as a folder)."""
    bucket, prefix = split_path(path)
    unit = _upload_unit_of_path(prefix)
    if unit is None:  # not laid out by GetTOSUploadPath, or above upload prefixes: check_no_swept_files
        return None
    url = f"tos://{bucket}/{unit.prefix}"
    decided = platform.store.swept_upload(account_id, url)
    return url if decided is not None and _judged(prefix, unit, decided, platform.clock()) else None


def _upload_unit_of_path(prefix: str) -> manifest.UploadUnit | None:
    """The upload prefix a Path's key prefix is in, or is (with or without its trailing ``/``)."""
    folder = prefix if prefix.endswith("/") else prefix + "/"
    return manifest.upload_unit(prefix) or manifest.upload_unit(folder)


def _judged(key: str, unit: manifest.UploadUnit, decided: datetime, now: datetime) -> bool:
    """Whether the sweep's decision at ``decided`` to remove ``unit`` may have taken files of the upload
    that ``key`` is in. GetTOSUploadPath's Path may name a folder of 13 digits, which the sweep then
    judges as one upload prefix (the key's first stamp) with every upload handed out in it: one whose
    own folder (:func:`manifest.fresh_folder_below`) was handed out after the decision (give or take
    :data:`RECORD_MARGIN_SECONDS` between the servers' clocks) lost nothing to it, and its registration
    is not refused for the week the decision is kept. A folder stamped later than ``now`` was not
    handed out: a name, which proves nothing."""
    stamp = manifest.fresh_folder_below(key, unit)
    if stamp is None or stamp > (now.timestamp() + RECORD_MARGIN_SECONDS) * 1000:
        return True
    return decided.timestamp() * 1000 >= stamp - RECORD_MARGIN_SECONDS * 1000


def _upload_removed(unit: str) -> ApiError:
    return ApiError(
        "UploadRemoved",
        f"VersionInfo.Path: the storage sweep removed the upload {unit} (no version referenced it for "
        "longer than its grace period), maybe while its files were still being written; nothing was "
        "registered, nor will be under this Path: upload the files again to a new Path "
        "(GetTOSUploadPath) and register that",
    )


def check_not_swept(platform: Platform, account_id: int, path: str) -> None:
    """404 ``UploadRemoved`` for a CreateModel of an upload the sweep decided to remove
    (:func:`swept_upload`); in the registration's turn."""
    if (unit := swept_upload(platform, account_id, path)) is not None:
        raise _upload_removed(unit)


def check_no_swept_files(platform: Platform, account_id: int, path: str, files: list[ObjectInfo]) -> None:
    """404 ``UploadRemoved`` for a CreateModel of a Path above upload prefixes (``tos://b/modelrepo/x/``)
    whose listed ``files`` include some of an upload the sweep decided to remove: the version would
    record that upload in part (and its client's ``register``, told its own Path was removed, would
    remove files the version records). A Path in an upload prefix was checked by
    :func:`check_not_swept`. In the registration's turn, after its listing."""
    bucket, prefix = split_path(path)
    if _upload_unit_of_path(prefix) is not None:
        return
    held: dict[str, list[tuple[manifest.UploadUnit, str]]] = {}
    for found in files:
        if (unit := manifest.upload_unit(found.key)) is not None:
            held.setdefault(f"tos://{bucket}/{unit.prefix}", []).append((unit, found.key))
    if not held:
        return
    now = platform.clock()
    for url, decided in sorted(platform.store.swept_uploads(account_id, held).items()):
        if any(_judged(key, unit, decided, now) for unit, key in held[url]):
            raise _upload_removed(url)


@contextlib.contextmanager
def registration_turn(platform: Platform, account_id: int, path: str) -> Iterator[None]:
    """The account's shared turn for a CreateModel's listing, manifest and commit (store.reclaim_turns):
    no sweep or reclaim decides to remove objects meanwhile. Waits up to
    :data:`REGISTRATION_TURN_WAIT_SECONDS` (for a sweep's decision, or a reclaim's removal on a slow
    store), then answers a retryable 503."""
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(
                platform.store.reclaim_turn(account_id, exclusive=False, wait=REGISTRATION_TURN_WAIT_SECONDS)
            )
        except TurnBusy:
            raise ApiError(
                "ServiceUnavailableTemp",
                f"VersionInfo.Path: objects of your account are being removed (a delete or the storage "
                f"sweep); register {path} again shortly",
            ) from None
        yield


# -- deletes ----------------------------------------------------------------------------------------


def reclaim(
    platform: Platform,
    account_id: int,
    path: str,
    record_id: int | None = None,
    recorded_at: datetime | None = None,
    *,
    drop_now: bool = False,
) -> list[ObjectInfo]:
    """Remove the objects of a deleted version's Path unless another version still uses them; return
    those removed, from the one listing that chose them (what a sweep's report counts). With
    ``recorded_at`` (when the delete was recorded), only objects written before it: one uploaded to
    the Path since is not the deleted version's. Then drop the delete's pending-reclaim record
    ``record_id`` (:mod:`mlp_server.store.reclaims`; with ``drop_now``, committed before this returns).
    A failure is logged, not raised: the row is gone, and the record stays for the sweep to finish."""
    try:
        removed = _remove_unused(platform, account_id, path, recorded_at)
    except Exception:
        log.warning("could not remove the objects of %s; the storage sweep will", path, exc_info=True)
        return []
    if record_id is not None:
        try:
            platform.store.reclaim_done(record_id, wait=drop_now)
        except Exception:  # the objects are gone: the sweep finds nothing left and drops it then
            log.warning("could not drop the reclaim record of %s", path, exc_info=True)
    return removed


# A delete answers once its row is gone; the objects follow in the background, waited for this long so
# that a healthy store's delete is done when the answer arrives (README: "a deleted version really
# frees its storage"), while a hung store never holds the answer past the client's read timeout.
RECLAIM_WAIT_SECONDS = 5.0
# At most this many reclaims wait on a slow store at once; beyond that a delete's records are left to
# the sweep (start-up, ``mlp gc``, ``MLP_GC_INTERVAL``) rather than tying up more threads.
_MAX_BACKGROUND_RECLAIMS = 8
_BACKGROUND_RECLAIMS = threading.BoundedSemaphore(_MAX_BACKGROUND_RECLAIMS)


def reclaim_after_delete(
    platform: Platform,
    account_id: int,
    pending: Iterable[PendingReclaim],
    *,
    wait: float | None = None,
    drop_now: bool = False,
) -> bool:
    """Reclaim a delete's recorded Paths (:func:`reclaim`) on a background thread and wait up to
    ``wait`` seconds (:data:`RECLAIM_WAIT_SECONDS`) for it; return whether it finished in time. What
    does not finish keeps running; a process that exits first leaves the records for the sweep."""
    records = list(pending)
    if not records:
        return True
    if not _BACKGROUND_RECLAIMS.acquire(blocking=False):
        log.warning(
            "%d reclaims are waiting on the store; the sweep will reclaim %s",
            _MAX_BACKGROUND_RECLAIMS,
            records[0].path,
        )
        return False
    done = threading.Event()

    def run() -> None:
        try:
            for record in records:
                reclaim(platform, account_id, record.path, record.id, record.create_time, drop_now=drop_now)
        finally:
            _BACKGROUND_RECLAIMS.release()
            done.set()

    threading.Thread(target=run, name="mlp-reclaim", daemon=True).start()
    finished = done.wait(RECLAIM_WAIT_SECONDS if wait is None else wait)
    if not finished:
        log.warning("the store is slow: reclaiming %s goes on after the delete's answer", records[0].path)
    return finished


def _reclaimable(platform: Platform, account_id: int, path: str) -> tuple[str, str] | None:
    """``path``'s (bucket, prefix) if its objects may go: in the account's bucket (never touch what is
    outside it) and used by no version of the account (none has it, lies below it or contains it).
    A removal checks it in the account's exclusive turn (:func:`_remove_unused`)."""
    bucket, prefix = split_path(path)
    if bucket != platform.bucket_for(account_id) or not prefix:
        return None
    if platform.store.path_in_use(account_id, path):
        return None
    return bucket, prefix


def _doomed(
    platform: Platform, account_id: int, path: str, recorded_at: datetime | None
) -> tuple[str, list[ObjectInfo]]:
    """(bucket, the objects a reclaim of ``path`` removes now): everything under it as a folder, the
    object it names, its manifest; none if it may not go (:func:`_reclaimable`). With
    ``recorded_at``, only those written no later than that (give or take :data:`RECORD_MARGIN_SECONDS`)."""
    if (where := _reclaimable(platform, account_id, path)) is None:
        return "", []
    bucket, prefix = where
    folder = prefix if prefix.endswith("/") else prefix + "/"
    objects = platform.objects
    if (listed := _listed(objects, bucket, folder)) is None:
        return bucket, []
    found = {o.key: o for o in listed}
    for key in ([prefix] if folder != prefix else []) + [manifest.manifest_key(prefix)]:
        if (single := objects.head(bucket, key)) is not None:
            found[key] = single
    if recorded_at is None:
        return bucket, list(found.values())
    # The record's time is the platform's clock, the objects' the store's. The version's manifest was
    # written (store's clock) at its CreateModel, before the delete: its own time also counts, so that
    # a platform clock behind the store's does not make every file of the version look "written after".
    latest = recorded_at.timestamp()
    record = found.get(manifest.manifest_key(prefix))
    if record is not None and record.modified is not None:
        latest = max(latest, record.modified)
    latest += RECORD_MARGIN_SECONDS
    return bucket, [o for o in found.values() if o.modified is None or o.modified <= latest]


def _remove_unused(
    platform: Platform, account_id: int, path: str, recorded_at: datetime | None
) -> list[ObjectInfo]:
    """Decide, list and remove in the account's exclusive turn (store.reclaim_turns): the registrations
    in flight have committed (the Path is in use then, nothing goes), and none commits before the
    removal is over. Were the turn given back after the decision, another server (or a CreateModel)
    could finish the same record and drop it, and a registration of files uploaded again under the same
    names commit, before this removal of the keys it listed took them."""
    with platform.store.reclaim_turn(account_id, exclusive=True, wait=DECISION_TURN_WAIT_SECONDS):
        bucket, doomed = _doomed(platform, account_id, path, recorded_at)
        if not doomed:
            return []
        keys = [o.key for o in doomed]
        delete_keys: Callable[[str, list[str]], int] | None = getattr(platform.objects, "delete_keys", None)
        if delete_keys is not None:
            delete_keys(bucket, keys)
            return doomed
        # A store without it: one key at a time, each only if no longer key starts with it.
        return [o for o in doomed if _delete_exact(platform.objects, bucket, o.key)]


def evict_served_copies(platform: Platform, version_ids: Iterable[str]) -> None:
    """Remove deleted versions' copies from this machine's serving cache (``serving.files``). A
    failure is logged, not raised: the row is gone, the next sweep or supervisor start evicts them."""
    from .serving.files import cache_root, evict

    root = cache_root(platform.settings.data_dir)
    for version_id in version_ids:
        try:
            evict(root, version_id)
        except OSError:
            log.warning(
                "could not evict %s from the serving cache; the next sweep will", version_id, exc_info=True
            )


def evict_unneeded_copies(platform: Platform, *, dry_run: bool = False) -> list[Evicted]:
    """Evict what this machine's serving cache holds of versions that are gone and that no service
    names (deleted while this process was not running, or through another machine's server)."""
    from .serving.files import cache_root, evict_unneeded

    return evict_unneeded(
        cache_root(platform.settings.data_dir), platform.store.versions_needed, dry_run=dry_run
    )


def remove_replica_files_of_deleted_services(platform: Platform, *, dry_run: bool = False) -> list[Path]:
    """This machine's replica hello and log files of services that no longer exist (a replica that
    failed, or a process that ended before its runtime removed them)."""
    from .serving.replica_files import remove_orphans

    def service_ids() -> set[str]:
        return {row.service_id for row in platform.store.serving_rows()}

    try:
        return remove_orphans(platform.settings.data_dir / "serving", service_ids, dry_run=dry_run)
    except OSError:  # the rest of the sweep still runs
        log.warning("could not remove the replica files of deleted services", exc_info=True)
        return []


def finish_reclaims(platform: Platform, *, dry_run: bool = False) -> SweepReport:
    """The reclaims that deletes recorded and a crash interrupted, whatever the grace period: the
    delete decided the fate of those objects. Each Path is checked again first: a version registered
    on it (or on a Path containing it or below it) since then keeps its files."""
    report = SweepReport(dry_run=dry_run)
    batches: Iterable[list[PendingReclaim]] = (
        [platform.store.pending_reclaims()]
        if dry_run
        else iter(lambda: platform.store.claim_reclaims(platform.clock()), [])  # until none is left
    )
    for batch in batches:
        for pending in batch:
            if dry_run:
                # Judged as the reclaim would judge it, in the account's exclusive turn: a registration
                # in flight on a Path that contains it has committed (it is in use then), so the report
                # does not count files that a real run would keep.
                try:
                    with platform.store.reclaim_turn(
                        pending.account_id, exclusive=True, wait=DECISION_TURN_WAIT_SECONDS
                    ):
                        objects = _doomed(platform, pending.account_id, pending.path, pending.create_time)[1]
                except Exception:  # one Path the store cannot list stops neither the others nor the sweep
                    log.warning("could not list %s to report its reclaim", pending.path, exc_info=True)
                    continue
            else:  # one pass: what the reclaim listed and removed is what the report counts
                objects = reclaim(platform, pending.account_id, pending.path, pending.id, pending.create_time)
            if objects:
                report.prefixes.append(pending.path)
                report.objects += len(objects)
                report.bytes += sum(o.size for o in objects)
    return report


def _delete_exact(objects: ObjectStore, bucket: str, key: str) -> int:
    # The interface deletes by prefix; make sure it takes only this key.
    if objects.head(bucket, key) is None:
        return 0
    others = [o.key for o in objects.list_objects(bucket, key) if o.key != key]
    if others:
        log.warning("not removing %s: other keys start with it (%s ...)", key, others[0])
        return 0
    return objects.delete_prefix(bucket, key)


# -- the sweep --------------------------------------------------------------------------------------


@dataclass
class SweepReport:
    objects: int = 0
    bytes: int = 0
    prefixes: list[str] = field(default_factory=list)
    temp_files: int = 0
    temp_bytes: int = 0
    cache_folders: list[str] = field(default_factory=list)
    cache_bytes: int = 0
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "DryRun": self.dry_run,
            "Objects": self.objects,
            "Bytes": self.bytes,
            "Prefixes": self.prefixes,
            "TempFiles": self.temp_files,
            "TempBytes": self.temp_bytes,
            "ServingCacheFolders": self.cache_folders,
            "ServingCacheBytes": self.cache_bytes,
        }


def sweep(
    platform: Platform, *, grace_seconds: float, dry_run: bool = False, now: datetime | None = None
) -> SweepReport:
    """Finish the reclaims that deletes recorded and a crash interrupted (:func:`finish_reclaims`),
    remove upload prefixes older than ``grace_seconds`` that no version references, the folder store's
    temporary files older than that, and this machine's serving cache copies of versions that are gone
    (no grace: a deleted version never comes back). With ``dry_run`` only report what would go.

    An upload prefix is old when both the stamp in its name (when GetTOSUploadPath handed it out) and
    its newest object (its mtime, S3's LastModified) are older than the grace. Removing one is decided
    in the account's exclusive turn (store.reclaim_turns), after the registrations in flight have
    committed: the references are read again there, and each prefix that may go gets a pending-reclaim
    record before anything is removed (a CreateModel on it meanwhile sees the record), and is kept as
    swept for :data:`SWEPT_UPLOADS_KEPT_SECONDS`: a CreateModel of it later is refused too
    (:func:`swept_upload`), since a client may still have been writing it. ``now`` (default the
    platform's clock) is the time the ages are measured at."""
    try:
        report = finish_reclaims(platform, dry_run=dry_run)
    except Exception:  # the database's trouble with the records: the rest of the sweep still runs
        log.warning("could not finish the recorded reclaims; a later sweep will", exc_info=True)
        report = SweepReport(dry_run=dry_run)
    # A dry run has removed nothing: the upload prefixes below those Paths are counted once.
    pending = [p.path for p in platform.store.pending_reclaims()] if dry_run else []
    for evicted in evict_unneeded_copies(platform, dry_run=dry_run):
        report.cache_folders.append(str(evicted.folder))
        report.cache_bytes += evicted.bytes
    remove_replica_files_of_deleted_services(platform, dry_run=dry_run)
    at = platform.clock() if now is None else now
    if not dry_run:
        try:
            platform.store.forget_swept_uploads(at - timedelta(seconds=SWEPT_UPLOADS_KEPT_SECONDS))
        except Exception:  # the rest of the sweep still runs; a later one forgets them
            log.warning("could not forget the sweep's old decisions", exc_info=True)
    cutoff = at.timestamp() - grace_seconds
    cutoff_ms = cutoff * 1000
    for bucket, account_id in _account_buckets(platform):
        listed = list(platform.objects.list_objects(bucket, ""))
        references = _references(platform, bucket, account_id)
        units: dict[str, list[ObjectInfo]] = {}
        stamps: dict[str, int] = {}
        for obj in listed:
            unit = manifest.upload_unit(obj.key)
            if unit is None:
                continue  # not laid out by GetTOSUploadPath: not ours to judge
            units.setdefault(unit.prefix, []).append(obj)
            stamps[unit.prefix] = unit.stamp_ms
        counted = [split_path(p)[1] for p in pending if split_path(p)[0] == bucket]
        old = [
            prefix
            for prefix, objs in sorted(units.items())
            if stamps[prefix] <= cutoff_ms
            and all(o.modified is None or o.modified <= cutoff for o in objs)
            and not _referenced(prefix, references + counted)
        ]
        if dry_run and old:
            # What a real run would decide (:func:`_remove_old_prefixes`): the references read again in
            # the exclusive turn, once the registrations in flight have committed.
            for prefix in _unreferenced_in_turn(platform, bucket, account_id, old):
                report.prefixes.append(f"tos://{bucket}/{prefix}")
                report.objects += len(units[prefix])
                report.bytes += sum(o.size for o in units[prefix])
        elif old:
            _remove_old_prefixes(platform, bucket, account_id, old, report)
        _abort_stale_multipart(platform, bucket, references, cutoff_ms, dry_run, report)
    if isinstance(platform.objects, FolderStore):
        _sweep_folder_store(platform.objects, cutoff, dry_run, report)
    return report


def _references(platform: Platform, bucket: str, account_id: int) -> list[str]:
    """The key prefixes of the account's versions in ``bucket`` (what the sweep keeps)."""
    return [
        split_path(p)[1]
        for p in platform.store.registered_paths([account_id]).get(account_id, [])
        if split_path(p)[0] == bucket
    ]


def _unreferenced_in_turn(platform: Platform, bucket: str, account_id: int, prefixes: list[str]) -> list[str]:
    """For a dry run: which of ``prefixes`` no version references, read in the account's exclusive turn
    (none, said in the log, if registrations held it past the wait: a real run would remove none)."""
    try:
        with platform.store.reclaim_turn(account_id, exclusive=True, wait=DECISION_TURN_WAIT_SECONDS):
            references = _references(platform, bucket, account_id)
    except TurnBusy:
        log.warning("registrations held the turn of account %d; a real run would remove none now", account_id)
        return []
    return [p for p in prefixes if not _referenced(p, references)]


def _remove_old_prefixes(
    platform: Platform, bucket: str, account_id: int, prefixes: list[str], report: SweepReport
) -> None:
    """Decide in the account's exclusive turn which of ``prefixes`` still no version references (a
    registration may have committed since the listing) and record their reclaims, each prefix as swept
    too; then remove them."""
    try:
        with platform.store.reclaim_turn(account_id, exclusive=True, wait=DECISION_TURN_WAIT_SECONDS):
            references = _references(platform, bucket, account_id)
            unused = [p for p in prefixes if not _referenced(p, references)]
            records = platform.store.record_reclaims(account_id, [f"tos://{bucket}/{p}" for p in unused])
    except TurnBusy:
        log.warning(
            "registrations held the turn of account %d; a later sweep removes its uploads", account_id
        )
        return
    for record in records:
        removed = reclaim(platform, account_id, record.path, record.id, record.create_time)
        if removed:
            report.prefixes.append(record.path)
            report.objects += len(removed)
            report.bytes += sum(o.size for o in removed)


def _abort_stale_multipart(
    platform: Platform,
    bucket: str,
    references: list[str],
    cutoff_ms: float,
    dry_run: bool,
    report: SweepReport,
) -> None:
    """S3 keeps the parts of a multipart upload whose client died until someone aborts it."""
    from volcengine_ml_platform.transfer.s3 import S3Store

    if not isinstance(platform.objects, S3Store):
        return
    client = platform.objects.client
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            key, upload_id = upload.get("Key", ""), upload.get("UploadId", "")
            unit = manifest.upload_unit(key)
            started_ms = upload["Initiated"].timestamp() * 1000 if "Initiated" in upload else 0
            if (
                unit is None
                or max(unit.stamp_ms, started_ms) > cutoff_ms
                or _referenced(unit.prefix, references)
            ):
                continue
            report.temp_files += 1
            if not dry_run:
                client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


def _referenced(unit_prefix: str, references: list[str]) -> bool:
    for ref in references:
        folder = ref if ref.endswith("/") else ref + "/"
        if ref.startswith(unit_prefix) or unit_prefix.startswith(folder) or ref == unit_prefix.rstrip("/"):
            return True
    return False


def _account_buckets(platform: Platform) -> list[tuple[str, int]]:
    """The platform's account buckets (its region's) that exist in the object store."""
    region = platform.settings.region
    names: list[str]
    if isinstance(platform.objects, FolderStore):
        root = platform.objects.root
        names = [e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith(".")]
    else:
        from volcengine_ml_platform.transfer.s3 import S3Store

        if not isinstance(platform.objects, S3Store):
            return []
        names = [b["Name"] for b in platform.objects.client.list_buckets().get("Buckets", [])]
    found = []
    for name in sorted(names):
        match = _BUCKET.fullmatch(name)
        if match and match.group(2) == region:
            found.append((name, int(match.group(1))))
    return found


def _sweep_folder_store(store: FolderStore, cutoff: float, dry_run: bool, report: SweepReport) -> None:
    """Temporary files of writers that died (older than the cutoff), and checksum sidecars whose
    object is gone (a writer or a delete killed between the two renames)."""
    for entry in list(os.scandir(store.root / ".tmp")):
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if st.st_mtime >= cutoff:
            continue
        report.temp_files += 1
        report.temp_bytes += st.st_size
        if not dry_run:
            Path(entry.path).unlink(missing_ok=True)
    meta_root = store.root / ".meta"
    for dirpath, _, filenames in os.walk(meta_root):
        for name in filenames:
            sidecar = Path(dirpath, name)
            obj = store.root / sidecar.relative_to(meta_root)
            if obj.exists() or sidecar.stat().st_mtime >= cutoff:
                continue
            report.temp_files += 1
            report.temp_bytes += sidecar.stat().st_size
            if not dry_run:
                sidecar.unlink(missing_ok=True)


def start_background_sweep(platform: Platform, *, interval: float, grace_seconds: float) -> threading.Event:
    """Run :func:`sweep` every ``interval`` seconds in a daemon thread; set the returned event to stop."""
    stop = threading.Event()

    def loop() -> None:
        try:  # at start-up: the reclaims a crash of this platform's servers left
            finished = finish_reclaims(platform)
            if finished.objects:
                log.info(
                    "finished %d interrupted reclaims: %d objects", len(finished.prefixes), finished.objects
                )
        except Exception:
            log.warning("finishing interrupted reclaims failed; the storage sweep retries", exc_info=True)
        while not stop.wait(interval):
            try:
                report = sweep(platform, grace_seconds=grace_seconds)
            except Exception:
                log.warning("the storage sweep failed; it runs again in %ss", interval, exc_info=True)
                continue
            if report.objects or report.temp_files or report.cache_folders:
                log.info(
                    "storage sweep: removed %d objects (%d bytes) under %d prefixes, %d temporary files, "
                    "%d serving cache folders (%d bytes)",
                    report.objects,
                    report.bytes,
                    len(report.prefixes),
                    report.temp_files,
                    len(report.cache_folders),
                    report.cache_bytes,
                )

    threading.Thread(target=loop, name="mlp-storage-sweep", daemon=True).start()
    return stop
