"""What the public and the cross-account Model share: ids, request bodies, upload-then-register and
download. Both classes differ only in how they reach the platform (signature or token) and which
credentials open the object store."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import MLPlatformError, NotSentError, OutcomeUnknownError, ValidationError
from . import validation
from ._plan import Plan, blocking, stoppable

if TYPE_CHECKING:
    # The transfer layer (threads, hashing, temporary files) is imported by the first upload or
    # download: lists and reads, most of what a program or an `mlp` command does, never load it.
    from ..transfer.base import ObjectStore
    from ..transfer.manager import LocalFiles
    from ..transfer.progress import TransferProgress
    from ..transfer.selection import FileFilter

log = logging.getLogger("volcengine_ml_platform")
R = TypeVar("R")

ProgressCallback = Callable[["TransferProgress"], None]
UPLOAD_FOLDER = ["from-sdk-repo"]
# Stands in for the not-yet-known upload Path when a CreateModel body is checked before the upload.
PENDING_PATH = "tos://pending-upload/modelrepo/from-sdk-repo/"
RENEW_MARGIN = 60.0  # renew a token or credentials this long before they expire
STS_DURATION = 3600  # seconds of object-store credentials asked of GetSTSToken


def version_id(model_id: str, model_version: str | int) -> str:
    """``m-20210812150750-w54j6`` + ``14`` -> ``m-20210812150750-w54j6-14`` (wire-protocol section 4).
    A malformed ``model_id`` is refused here, by its name, rather than as the ModelVersionID it makes."""
    validation.validate_required("ModelID", model_id, "model_id")
    return f"{model_id}-{str(model_version).lower()}"


def version_number(model_version: str | int | None) -> int | None:
    if model_version is None:
        return None
    try:
        return int(model_version)
    except (TypeError, ValueError):
        raise ValidationError(
            f"model_version: {model_version!r} is not a version number", field="model_version"
        ) from None


def drop_none(values: dict[str, Any]) -> dict[str, Any]:
    """Request bodies omit what the caller left out (the wire has no nulls)."""
    return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class Registration:
    """The arguments of ``register`` (public and inner), checked and turned into a CreateModel body."""

    local_path: str
    model_id: str | None = None
    model_name: str | None = None
    model_format: str | None = None
    model_type: str | None = None
    description: str | None = None
    tensor_config: dict[str, Any] | None = None
    model_metrics: list[Any] | None = None
    model_category: str | None = None
    dataset_id: str | None = None
    source_type: str | None = "TOS"
    model_tags: list[Any] | None = None
    base_model_version_id: str | None = None  # inner API only
    source_id: str | None = None  # inner API only

    def validate(self) -> None:
        """The documented checks of ``register``, before any I/O."""
        validation.validate_local_path(self.local_path)
        if self.model_id is None:
            needed = (
                ("model_name", self.model_name),
                ("model_format", self.model_format),
                ("model_type", self.model_type),
            )
            missing = [name for name, value in needed if not value]
            if missing:
                raise ValidationError(
                    f"registering a new model (no model_id) needs {', '.join(missing)}", field=missing[0]
                )
        validation.validate_argument("ModelFormat", self.model_format, "model_format")
        validation.validate_argument("ModelType", self.model_type, "model_type")
        if self.tensor_config is not None:
            validation.validate_model_tensor_config(self.tensor_config)
        if self.model_metrics is not None:
            validation.validate_metrics(self.model_metrics)
        validation.validate_model_category(self.model_category)
        validation.validate_source_type(self.source_type)

    def for_model(self, model_id: str | None) -> Registration:
        """The same registration as a version of ``model_id`` (None: a new model)."""
        return replace(self, model_id=model_id)

    def body(self, path: str) -> dict[str, Any]:
        version_info = drop_none(
            {
                "ModelFormat": self.model_format,
                "ModelType": self.model_type,
                "Path": path,
                "SourceType": self.source_type,
                "Description": self.description,
                "TensorConfig": self.tensor_config,
                "MetricsList": self.model_metrics,
                "ModelTags": self.model_tags,
                "BaseModelVersionID": self.base_model_version_id,
                "SourceId": self.source_id,
            }
        )
        return drop_none(
            {
                "ModelName": None if self.model_id else self.model_name,
                "ModelID": self.model_id,
                "ModelCategory": self.model_category,
                "DatasetID": self.dataset_id,
                "VersionInfo": version_info,
            }
        )


# CreateModel's fields -> the arguments of ``register`` they come from, so errors name the argument.
REGISTRATION_ARGUMENTS = {
    "ModelName": "model_name",
    "ModelID": "model_id",
    "ModelCategory": "model_category",
    "DatasetID": "dataset_id",
    "VersionInfo.ModelFormat": "model_format",
    "VersionInfo.ModelType": "model_type",
    "VersionInfo.SourceType": "source_type",
    "VersionInfo.Description": "description",
    "VersionInfo.TensorConfig": "tensor_config",
    "VersionInfo.MetricsList": "model_metrics",
    "VersionInfo.ModelTags": "model_tags",
    "VersionInfo.BaseModelVersionID": "base_model_version_id",
    "VersionInfo.SourceId": "source_id",
}


def check_registration(
    registration: Registration, body_cls: type[Any], select: FileFilter | None = None
) -> LocalFiles:
    """The arguments, then the whole CreateModel body (tags, dataset id ...), then the files to upload
    (those ``select`` picks of a folder), before any request; errors name the arguments
    (``model_tags``), not the body's fields (``VersionInfo.ModelTags``). Returns the files."""
    registration.validate()
    validation.check_named(body_cls.__name__, registration.body(PENDING_PATH), REGISTRATION_ARGUMENTS)
    return select_files(registration.local_path, select)


def select_files(local_path: str | os.PathLike[str], select: FileFilter | None) -> LocalFiles:
    """The files an upload of ``local_path`` sends, listed once; a folder of which ``select`` keeps no
    file raises ValidationError naming ``local_path`` and the patterns that left everything out."""
    from ..transfer.manager import list_local

    listed = list_local(Path(local_path), select)
    if listed.is_folder and not listed.files:
        shown = os.fspath(local_path)
        if not _holds_a_file(local_path):
            why = "the folder is empty (no files to register)"
        else:
            describe = getattr(select, "describe", None)
            patterns = f" ({describe()})" if callable(describe) else ""
            why = f"no file to register: the selection leaves out every file of the folder{patterns}"
        raise ValidationError(f"local_path: {shown!r}: {why}", field="local_path")
    return listed


def register_plan(
    registration: Registration,
    *,
    body_cls: type[Any],
    upload_target: Callable[[], Plan[Any]],
    object_store: Callable[[], Plan[ObjectStore]],
    create: Callable[[dict[str, Any]], Plan[R]],
    progress: ProgressCallback | None,
    select: FileFilter | None = None,
    checked: bool = False,
    listed: LocalFiles | None = None,
) -> Plan[R]:
    """Check everything (unless the caller has: ``checked``), get a fresh upload prefix, upload (the
    files ``select`` picks, or those ``listed`` already), then send CreateModel (``create``). A
    CreateModel answered with a code of :data:`UPLOAD_AGAIN_CODES` (the platform's storage sweep took the
    upload: nothing was registered) is done once more, with the files uploaded again to a new prefix."""
    if not checked:
        listed = check_registration(registration, body_cls, select)
    elif listed is None:
        listed = select_files(registration.local_path, select)

    def upload_and_register() -> Plan[R]:
        target = yield from upload_target()
        store = yield from object_store()
        return (
            yield from upload_then_register(
                registration.local_path,
                store,
                target.bucket,
                target.key_prefix,
                lambda path: create(registration.body(path)),
                progress,
                listed=listed,
            )
        )

    try:
        return (yield from upload_and_register())
    except MLPlatformError as exc:
        if exc.code not in UPLOAD_AGAIN_CODES:
            raise
        # Nothing was registered, nor will be, under that Path (the code says so whatever earlier
        # attempts of the CreateModel did: they were sends of the same Path, which the platform answers
        # alike): upload the files again to a new Path and register that, once.
        log.warning("%s; uploading the files again to a new Path", exc)
    return (yield from upload_and_register())


UPLOAD_AGAIN_CODES = frozenset({"UploadRemoved"})
"""4xx codes of CreateModel that say the uploaded files are gone (the platform's storage sweep removed
them, maybe while they were being written) and that nothing was or will be registered under that
Path: ``register`` uploads the files again to a new Path and registers that, once."""

NOTHING_WRITTEN_CODES = frozenset({"StorageUnavailable"})
"""5xx codes that say the request was not carried out: the local platform answers StorageUnavailable
(a full or read-only disk) only for a transaction it did not commit. ServiceUnavailableTemp is not
one: the Volcengine gateway answers it too, and promises nothing."""


def upload_then_register(
    local_path: str,
    store: ObjectStore,
    bucket: str,
    key_prefix: str,
    create: Callable[[str], Plan[R]],
    progress: ProgressCallback | None,
    select: FileFilter | None = None,
    *,
    listed: LocalFiles | None = None,
) -> Plan[R]:
    """Upload ``local_path`` (or the files ``listed`` already) under the fresh prefix, then register it.

    What was uploaded is removed only when no version can reference it: the upload itself failed, no
    CreateModel attempt ever reached the platform (:class:`NotSentError`), or the platform
    definitively refused the registration (a 4xx answer other than a conflict, or a code of
    :data:`NOTHING_WRITTEN_CODES`), on an attempt with no earlier one that may have acted, or said that
    nothing was or will be registered under that Path (:data:`UPLOAD_AGAIN_CODES`). When the
    registration's fate is unknown (its answer was lost, a 5xx, an interruption) the objects stay,
    for the platform's storage sweep, and ``OutcomeUnknownError`` names the prefix."""
    from ..transfer.manager import upload_path

    upload_url = f"tos://{bucket}/{key_prefix}"

    def upload(stop: threading.Event) -> str:
        return upload_path(
            store,
            Path(local_path),
            bucket,
            key_prefix,
            progress=stoppable(stop, progress),
            select=select,
            listed=listed,
        )

    try:
        path = yield from blocking(upload)
    except GeneratorExit:
        raise
    except BaseException:
        yield from _remove_upload(store, bucket, key_prefix)  # nothing was sent: the prefix is ours alone
        raise
    try:
        return (yield from create(path))
    except ValidationError:
        yield from _remove_upload(store, bucket, key_prefix)  # refused before it was sent
        raise
    except NotSentError as exc:
        yield from _remove_upload(store, bucket, key_prefix)  # no attempt reached the platform
        raise NotSentError(f"not registered; register again ({exc})") from exc
    except MLPlatformError as exc:
        status = exc.status_code
        refused = status is not None and 400 <= status < 500 and status != 409
        # The local platform answers StorageUnavailable only when the request's transaction was not
        # committed (its document says so): a refusal too, not an unknown outcome.
        refused = refused or exc.code in NOTHING_WRITTEN_CODES
        if exc.code in UPLOAD_AGAIN_CODES:  # nothing is or will be registered under this Path
            yield from _remove_upload(store, bucket, key_prefix)
            raise
        # A refusal after an attempt that may have registered it (a lost answer, then 429s): the version
        # may exist and reference these files, so they stay and the outcome is unknown.
        if refused and not exc.earlier_attempt_may_have_acted:
            yield from _remove_upload(store, bucket, key_prefix)
            raise
        raise OutcomeUnknownError(
            f"the registration's outcome is unknown ({exc}); the uploaded files stay at {upload_url}: "
            "register again, or leave them to the platform's storage sweep",
            upload_url=upload_url,
            **exc.service_fields(),
        ) from exc
    except BaseException:
        log.warning("register interrupted; the uploaded files stay at %s for the storage sweep", upload_url)
        raise


def _remove_upload(store: ObjectStore, bucket: str, key_prefix: str) -> Plan[None]:
    yield from blocking(lambda _stop: _remove_prefix(store, bucket, key_prefix))


def _remove_prefix(store: ObjectStore, bucket: str, key_prefix: str) -> None:
    from ..transfer.manifest import manifest_key

    try:
        removed = store.delete_prefix(bucket, key_prefix)
        # A single file's manifest sits beside the prefix, not under it (a refused CreateModel may
        # have written it before its commit failed).
        # Exactly that key where the store can (a prefix walk lists every upload of the account).
        exact = getattr(store, "delete_keys", None)
        manifest = manifest_key(key_prefix)
        removed += exact(bucket, [manifest]) if exact is not None else store.delete_prefix(bucket, manifest)
        log.info(
            "register failed; removed %d uploaded object(s) under tos://%s/%s", removed, bucket, key_prefix
        )
    except Exception:  # the original failure matters more than the cleanup's
        log.warning(
            "register failed and tos://%s/%s could not be cleaned up", bucket, key_prefix, exc_info=True
        )


def _holds_a_file(folder: str | os.PathLike[str]) -> bool:
    """Whether anything but folders is below ``folder`` (only to word the error of an empty selection)."""
    return any(files for _, _, files in os.walk(folder, followlinks=True))


def download_version(
    path: str,
    store: ObjectStore,
    local_path: str,
    progress: ProgressCallback | None,
    *,
    overwrite: bool = False,
) -> list[Path]:
    """Every file under the version's ``path`` into ``local_path``: matching files already there are
    kept, differing ones refused unless ``overwrite`` (see :mod:`..transfer.existing`)."""
    from ..transfer.existing import keep_or_refuse
    from ..transfer.manager import download_prefix, parse_tos_url

    bucket, _ = parse_tos_url(path)  # a clear error for a malformed stored Path
    existing = keep_or_refuse(overwrite, lambda obj: store.head(bucket, obj.key))
    return download_prefix(store, path, Path(local_path), progress=progress, existing=existing)


def download_plan(
    path: str, store: ObjectStore, local_path: str, progress: ProgressCallback | None, overwrite: bool
) -> Plan[list[Path]]:
    """:func:`download_version` where blocking is allowed (a worker thread under asyncio)."""

    def download(stop: threading.Event) -> list[Path]:
        return download_version(path, store, local_path, stoppable(stop, progress), overwrite=overwrite)

    return (yield from blocking(download))
