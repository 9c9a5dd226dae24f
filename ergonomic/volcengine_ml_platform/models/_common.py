"""What the public and the cross-account Model share: ids, request bodies, upload-then-register and
download. Both classes differ only in how they reach the platform (signature or token) and which
credentials open the object store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ValidationError
from ..transfer.base import ObjectStore
from ..transfer.manager import download_prefix, parse_tos_url, upload_path
from ..transfer.progress import TransferProgress
from . import validation

log = logging.getLogger("volcengine_ml_platform")

ProgressCallback = Callable[[TransferProgress], None]
UPLOAD_FOLDER = ["from-sdk-repo"]
# Stands in for the not-yet-known upload Path when a CreateModel body is checked before the upload.
PENDING_PATH = "tos://pending-upload/modelrepo/from-sdk-repo/"


def version_id(model_id: str, model_version: str | int) -> str:
    """``m-20210812150750-w54j6`` + ``14`` -> ``m-20210812150750-w54j6-14`` (wire-protocol section 4)."""
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


def validate_register(
    local_path: str,
    model_id: str | None,
    model_name: str | None,
    model_format: str | None,
    model_type: str | None,
    tensor_config: dict[str, Any] | None,
    model_metrics: list[Any] | None,
    model_category: str | None,
    source_type: str | None,
) -> None:
    """The documented checks of ``register``, before any I/O."""
    validation.validate_local_path(local_path)
    if model_id is None:
        missing = [
            n
            for n, v in (
                ("model_name", model_name),
                ("model_format", model_format),
                ("model_type", model_type),
            )
            if not v
        ]
        if missing:
            raise ValidationError(
                f"registering a new model (no model_id) needs {', '.join(missing)}", field=missing[0]
            )
    validation.validate_argument("ModelFormat", model_format, "model_format")
    validation.validate_argument("ModelType", model_type, "model_type")
    if tensor_config is not None:
        validation.validate_model_tensor_config(tensor_config)
    if model_metrics is not None:
        validation.validate_metrics(model_metrics)
    validation.validate_model_category(model_category)
    validation.validate_source_type(source_type)


def register_body(
    path: str,
    *,
    model_id: str | None,
    model_name: str | None,
    model_format: str | None,
    model_type: str | None,
    description: str | None,
    tensor_config: dict[str, Any] | None,
    model_metrics: list[Any] | None,
    model_category: str | None,
    dataset_id: str | None,
    source_type: str | None,
    model_tags: list[Any] | None,
    **extra_version_info: Any,
) -> dict[str, Any]:
    version_info = drop_none(
        {
            "ModelFormat": model_format,
            "ModelType": model_type,
            "Path": path,
            "SourceType": source_type,
            "Description": description,
            "TensorConfig": tensor_config,
            "MetricsList": model_metrics,
            "ModelTags": model_tags,
            **extra_version_info,
        }
    )
    return drop_none(
        {
            "ModelName": None if model_id else model_name,
            "ModelID": model_id,
            "ModelCategory": model_category,
            "DatasetID": dataset_id,
            "VersionInfo": version_info,
        }
    )


def upload_then_register(
    local_path: str,
    store: ObjectStore,
    bucket: str,
    key_prefix: str,
    create: Callable[[str], Any],
    progress: ProgressCallback | None,
) -> Any:
    """Upload ``local_path`` under the fresh prefix, then register it. If the upload or the
    registration fails (or is interrupted), what was uploaded is removed: a failed register leaves
    nothing behind. The prefix is fresh, so nothing else lives under it."""
    try:
        path = upload_path(store, Path(local_path), bucket, key_prefix, progress=progress)
        return create(path)
    except BaseException:
        try:
            removed = store.delete_prefix(bucket, key_prefix)
            log.info(
                "register failed; removed %d uploaded object(s) under tos://%s/%s",
                removed,
                bucket,
                key_prefix,
            )
        except Exception:  # the original failure matters more than the cleanup's
            log.warning(
                "register failed and tos://%s/%s could not be cleaned up", bucket, key_prefix, exc_info=True
            )
        raise


def download_version(
    path: str, store: ObjectStore, local_path: str, progress: ProgressCallback | None
) -> list[Path]:
    parse_tos_url(path)  # a clear error for a malformed stored Path
    return download_prefix(store, path, Path(local_path), progress=progress)
