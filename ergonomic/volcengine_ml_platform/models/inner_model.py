"""``volcengine_ml_platform.models.inner_model.Model``: act for a target account (wire-protocol section 3).

Platform services call with their own signed keys: ``AdminGetSecureToken`` gives a short-lived token
for the target account and user, every call goes through the inner front door with that token, and
object storage is opened with temporary credentials from ``GetSTSToken``. Tokens and credentials are
renewed before they expire; a token refused as expired is renewed once and the call retried.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ml_platform_client import Client
from ml_platform_client.api.inner import (
    get_sts_token,
    inner_create_model,
    inner_get_model_version,
    inner_get_tos_upload_path,
    inner_update_model_version,
)
from ml_platform_client.api.tokens import admin_get_secure_token
from ml_platform_client.models import (
    AdminGetSecureTokenRequest,
    CreateModelResponse,
    GetModelVersionResponse,
    GetSTSTokenRequest,
    GetTOSUploadPathRequest,
    InnerCreateModelRequest,
    ModelVersionIDRequest,
    ModelVersionIDResponse,
    UpdateModelVersionRequest,
)

from ..config import Credentials, resolve_settings
from ..errors import AuthError, ServerError, ValidationError
from ..session import Session
from ..storage import object_store_for
from ..transfer.base import ObjectStore
from ..transfer.manager import upload_path
from ..transfer.selection import file_filter
from . import validation
from ._common import (
    RENEW_MARGIN,
    STS_DURATION,
    UPLOAD_FOLDER,
    ProgressCallback,
    Registration,
    download_version,
    drop_none,
    register_flow,
    version_id,
)

T = TypeVar("T")
R = TypeVar("R")

TOKEN_TTL = 600  # seconds, as the original SDK asks


def _env_id(name: str) -> int | None:
    value = os.environ.get(name)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationError(f"{name}={value!r} is not an integer id", field=name) from None


def _as_id(value: Any, field: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{field}: {value!r} is not an integer id", field=field) from None


class Model:
    """The model repository of another account, acting for ``target_account_id`` / ``target_user_id``
    (default: env ``VOLC_ACCOUNT_ID`` / ``VOLC_USER_ID``)."""

    def __init__(
        self,
        target_account_id: int | str | None = None,
        target_user_id: int | str | None = None,
        *,
        endpoint: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str | None = None,
        data_dir: str | Path | None = None,
        profile: str | None = None,
        session: Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session or Session(
            resolve_settings(
                endpoint=endpoint,
                access_key=access_key,
                secret_key=secret_key,
                region=region,
                data_dir=data_dir,
                profile=profile,
            )
        )
        self._inner: Client = self._session.inner_client()
        self._clock = clock
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None
        self._sts: tuple[Credentials, str | None, float] | None = None
        self._target_account_id = _as_id(target_account_id, "target_account_id") or _env_id("VOLC_ACCOUNT_ID")
        self._target_user_id = _as_id(target_user_id, "target_user_id")
        if self._target_user_id is None:
            self._target_user_id = _env_id("VOLC_USER_ID")

    # ---- target ids (documented getters and setters) ---------------------------------------------

    def get_target_account_id(self) -> int | None:
        return self._target_account_id

    def set_target_account_id(self, target_account_id: int | str) -> None:
        with self._lock:
            self._target_account_id = _as_id(target_account_id, "target_account_id")
            self._token = self._sts = None  # a token acts for one account only

    def get_target_user_id(self) -> int | None:
        return self._target_user_id

    def set_target_user_id(self, target_user_id: int | str) -> None:
        with self._lock:
            self._target_user_id = _as_id(target_user_id, "target_user_id")
            self._token = self._sts = None

    # ---- tokens and credentials ------------------------------------------------------------------

    def _secure_token(self, renew: bool = False) -> str:
        with self._lock:
            if not renew and self._token is not None and self._clock() < self._token[1] - RENEW_MARGIN:
                return self._token[0]
            account, user = self._target_account_id, self._target_user_id
            if account is None or user is None:
                raise ValidationError(
                    "target_account_id and target_user_id are required (arguments or env VOLC_ACCOUNT_ID / "
                    "VOLC_USER_ID)",
                    field="target_account_id" if account is None else "target_user_id",
                )
            body = {"TimeToLive": TOKEN_TTL, "AccountId": account, "UserId": user}
            resp = self._session.call(admin_get_secure_token, AdminGetSecureTokenRequest, body)
            self._token = (resp.result.token, self._clock() + TOKEN_TTL)
            return self._token[0]

    def _typed_call(self, operation: Any, body_cls: type[Any], body: dict[str, Any], response: type[R]) -> R:
        parsed = self._inner_call(operation, body_cls, body)
        if not isinstance(parsed, response):  # the generated operation parsed another shape
            raise ServerError(f"{body_cls.__name__}: unexpected answer {type(parsed).__name__}")
        return parsed

    def _inner_call(self, operation: Any, body_cls: type[Any], body: dict[str, Any]) -> Any:
        def send(token: str) -> Any:
            return self._session.call(
                operation, body_cls, body, client=self._inner, region=self._session.region, token=token
            )

        try:
            return send(self._secure_token())
        except AuthError as exc:
            if exc.code != "InvalidSecretToken":
                raise
        # The token was refused (expired early, or the platform restarted with a new secret):
        # renew it once; a second refusal is final.
        try:
            return send(self._secure_token(renew=True))
        except AuthError as exc:
            raise AuthError(
                f"the secure token for account {self._target_account_id} was refused and could "
                f"not be renewed: {exc.message}",
                code=exc.code,
                code_n=exc.code_n,
                status_code=exc.status_code,
                request_id=exc.request_id,
            ) from exc

    def _object_store(self) -> ObjectStore:
        with self._lock:
            cached = self._sts
        if cached is None or self._clock() >= cached[2] - RENEW_MARGIN:
            result = self._inner_call(get_sts_token, GetSTSTokenRequest, {"Duration": STS_DURATION}).result
            creds = Credentials(result.access_key_id, result.secret_access_key, result.session_token or None)
            endpoint = result.endpoint if isinstance(result.endpoint, str) else None
            cached = (creds, endpoint, self._clock() + STS_DURATION)
            with self._lock:
                self._sts = cached
        return object_store_for(cached[1], region=self._session.region, credentials=cached[0])

    def _upload_target(self) -> Any:
        body = {"ServiceName": "modelrepo", "Path": UPLOAD_FOLDER}
        return self._inner_call(inner_get_tos_upload_path, GetTOSUploadPathRequest, body).result

    # ---- documented methods ----------------------------------------------------------------------

    def register(
        self,
        local_path: str,
        model_id: str | None = None,
        model_name: str | None = None,
        model_format: str | None = None,
        model_type: str | None = None,
        description: str | None = None,
        tensor_config: dict[str, Any] | None = None,
        model_metrics: list[Any] | None = None,
        model_category: str | None = None,
        dataset_id: str | None = None,
        source_type: str | None = "TOS",
        base_model_version_id: str | None = None,
        source_id: str | None = None,
        model_tags: list[Any] | None = None,
        *,
        allow_patterns: Sequence[str] | None = None,
        ignore_patterns: Sequence[str] | None = None,
        progress: ProgressCallback | None = None,
    ) -> CreateModelResponse:
        """Upload ``local_path`` and register it in the target account (a new model, or a version of
        ``model_id``); ``base_model_version_id`` / ``source_id`` name the version and perf task a
        converted model came from. ``allow_patterns`` / ``ignore_patterns`` pick the files of a folder,
        as for the public ``Model.register``."""
        select = None
        if Path(local_path).is_dir():
            select = file_filter(Path(local_path), allow_patterns, ignore_patterns)
        registration = Registration(
            local_path,
            model_id,
            model_name,
            model_format,
            model_type,
            description,
            tensor_config,
            model_metrics,
            model_category,
            dataset_id,
            source_type,
            model_tags,
            base_model_version_id,
            source_id,
        )
        resp = register_flow(
            registration,
            body_cls=InnerCreateModelRequest,
            upload_target=self._upload_target,
            object_store=self._object_store,
            send=lambda body: self._inner_call(inner_create_model, InnerCreateModelRequest, body),
            progress=progress,
            select=select,
        )
        if not isinstance(resp, CreateModelResponse):
            raise ServerError(f"InnerCreateModel: unexpected answer {type(resp).__name__}")
        return resp

    def download(
        self,
        model_id: str,
        model_version: str,
        local_path: str,
        *,
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
    ) -> list[Path]:
        """Download every file of a version of the target account into ``local_path``; files already
        there are kept when they match and refused when they differ, unless ``overwrite``."""
        path = self.get_model_version(model_id, model_version).result.path
        return download_version(path, self._object_store(), local_path, progress, overwrite=overwrite)

    def get_model_version(self, model_id: str, model_version: str) -> GetModelVersionResponse:
        """GetModelVersion in the target account."""
        return self._typed_call(
            inner_get_model_version,
            ModelVersionIDRequest,
            {"ModelVersionID": version_id(model_id, model_version)},
            GetModelVersionResponse,
        )

    def update_model_version(
        self,
        model_id: str,
        model_version: str,
        description: str | None = None,
        tensor_config: dict[str, Any] | None = None,
        model_metrics: list[Any] | None = None,
    ) -> ModelVersionIDResponse:
        """UpdateModelVersion in the target account: description, tensor config and/or metrics."""
        if tensor_config is not None:
            validation.validate_model_tensor_config(tensor_config)
        if model_metrics is not None:
            validation.validate_metrics(model_metrics)
        body = drop_none(
            {
                "ModelVersionID": version_id(model_id, model_version),
                "Description": description,
                "TensorConfig": tensor_config,
                "MetricsList": model_metrics,
            }
        )
        return self._typed_call(
            inner_update_model_version, UpdateModelVersionRequest, body, ModelVersionIDResponse
        )

    def upload_tos(self, local_path: str, *, progress: ProgressCallback | None = None) -> str:
        """Upload a file or folder to the target account's object storage; returns its ``tos://`` path."""
        validation.validate_local_path(local_path)
        target = self._upload_target()
        return upload_path(
            self._object_store(), Path(local_path), target.bucket, target.key_prefix, progress=progress
        )
