"""CreateModel (both doors) and the deletes: the store writes the rows; the objects are handled here
(the manifest before the row is committed, reclaiming after the row is gone; see ``lifecycle``)."""

from __future__ import annotations

from typing import Any

from ..context import Caller, Platform
from ..errors import ApiError
from ..lifecycle import (
    check_no_swept_files,
    check_not_swept,
    evict_served_copies,
    finish_covering_reclaims,
    list_version_files,
    make_durable,
    reclaim_after_delete,
    registration_turn,
    write_manifest,
)


def create_model(platform: Platform, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    if "ModelID" not in body:
        info = body["VersionInfo"]
        missing = [
            name
            for name, value in (
                ("ModelName", body.get("ModelName")),
                ("VersionInfo.ModelFormat", info.get("ModelFormat")),
                ("VersionInfo.ModelType", info.get("ModelType")),
            )
            if not value
        ]
        if missing:
            raise ApiError("MissingParameter", f"{', '.join(missing)} required for a new model (no ModelID)")
    path = body["VersionInfo"]["Path"]
    # One read: an unknown ModelID is NotFound whatever the Path says (so checked first), and a resend.
    registered = platform.store.registration_state(caller.account_id, body.get("ModelID"), path)
    check_bucket(platform, caller, path)
    if not registered:
        if (created := _register_files(platform, caller, body, path)) is not None:
            return created
        # A delete's (or the sweep's) reclaim of these objects has not finished (its store failed, or
        # is slow): finish it here, then once more. It removes only what was written before it was
        # recorded: files uploaded to the Path since are registered.
        finish_covering_reclaims(platform, caller.account_id, path)
        if (created := _register_files(platform, caller, body, path)) is not None:
            return created
        raise ApiError(
            "ServiceUnavailableTemp",
            f"VersionInfo.Path: the objects under {path} are being removed (a delete or the storage "
            "sweep); try again shortly (then upload the files again if they are gone)",
        )
    result: dict[str, Any] = platform.store.create_model(caller.account_id, body)
    return result


def _register_files(
    platform: Platform, caller: Caller, body: dict[str, Any], path: str
) -> dict[str, Any] | None:
    """List the Path's files, record them in its manifest and commit the version, all in the account's
    shared turn: no sweep or reclaim decides to remove objects of the account meanwhile, and one
    decided before left a pending-reclaim record, read here first (None: such a record covers the Path,
    nothing was done). See ``store.reclaim_turns``."""
    with registration_turn(platform, caller.account_id, path):
        # An upload the sweep judged is refused first: finishing the sweep's reclaim, then registering
        # what it left, would record only the files written after its decision.
        check_not_swept(platform, caller.account_id, path)
        if platform.store.reclaim_covering(caller.account_id, path) is not None:
            return None
        # A resent registration answers the version it made (the store checks that again under its
        # write lock); a new one lists its files once and records them before the row is committed,
        # and they and the record are on disk before it is (see ``objects_sync``).
        files = list_version_files(platform.objects, path)
        if not files:
            raise ApiError(
                "NotFound", f"VersionInfo.Path: no objects found under {path}; upload the model files first"
            )
        check_no_swept_files(platform, caller.account_id, path, files)
        write_manifest(platform.objects, path, files)
        make_durable(platform, path, files)
        created: dict[str, Any] = platform.store.create_model(caller.account_id, body)
        return created


def check_bucket(platform: Platform, caller: Caller, path: str) -> None:
    """A version's Path must point inside the caller's bucket. A Path that fails is a reference to
    objects the caller does not have: 404 NotFound, as the document says of references to what does
    not exist."""
    bucket, _, prefix = path.removeprefix("tos://").partition("/")
    own = platform.bucket_for(caller.account_id)
    if bucket != own:
        raise ApiError(
            "NotFound",
            f"VersionInfo.Path: no objects of yours under {path}: it is outside your bucket tos://{own}/ "
            "(see GetTOSUploadPath)",
        )
    if not prefix:
        raise ApiError("NotFound", f"VersionInfo.Path: {path} names the whole bucket, not uploaded files")


def delete_model_version(platform: Platform, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    pending = platform.store.delete_model_version_path(caller.account_id, body)
    reclaim_after_delete(platform, caller.account_id, [pending])
    evict_served_copies(platform, [body["ModelVersionID"]])
    return {"ModelVersionID": body["ModelVersionID"]}


def delete_model(platform: Platform, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    recorded, version_ids = platform.store.delete_model_paths(caller.account_id, body)
    reclaim_after_delete(platform, caller.account_id, recorded)
    evict_served_copies(platform, version_ids)
    return {"ModelID": body["ModelID"]}
