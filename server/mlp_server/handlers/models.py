"""CreateModel (both doors): the store writes the model, after the version's Path is checked here."""

from __future__ import annotations

from typing import Any

from ..context import Caller, Platform
from ..errors import ApiError


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
    else:
        # The model referred to first: an unknown ModelID is NotFound whatever the Path says.
        platform.store.get_model(caller.account_id, {"ModelID": body["ModelID"]})
    check_path(platform, caller, body["VersionInfo"]["Path"])
    result: dict[str, Any] = platform.store.create_model(caller.account_id, body)
    return result


def check_path(platform: Platform, caller: Caller, path: str) -> None:
    """A version's Path must point inside the caller's bucket, at objects that exist. Either way a Path
    that fails is a reference to objects the caller does not have: 404 NotFound, as the document says
    of references to what does not exist."""
    bucket, _, prefix = path.removeprefix("tos://").partition("/")
    own = platform.bucket_for(caller.account_id)
    if bucket != own:
        raise ApiError(
            "NotFound",
            f"VersionInfo.Path: no objects of yours under {path}: it is outside your bucket tos://{own}/ "
            "(see GetTOSUploadPath)",
        )
    if not prefix or next(iter(platform.objects.list_objects(bucket, prefix)), None) is None:
        raise ApiError(
            "NotFound", f"VersionInfo.Path: no objects found under {path}; upload the model files first"
        )
