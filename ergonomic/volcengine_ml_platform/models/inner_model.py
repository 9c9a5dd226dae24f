"""``volcengine_ml_platform.models.inner_model.Model``: act for a target account (wire-protocol section 3);
``AsyncModel``, the same for asyncio code.

Platform services call with their own signed keys: ``AdminGetSecureToken`` gives a short-lived token
for the target account and user, every call goes through the inner front door with that token, and
object storage is opened with temporary credentials from ``GetSTSToken``. Tokens and credentials are
renewed before they expire; a token refused as expired is renewed once and the call retried. The logic
is written once, as plans (:mod:`._plan`) that both classes drive.
"""

from __future__ import annotations

import contextlib
import operator
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

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
    AdminGetSecureTokenResponse,
    CreateModelResponse,
    GetModelVersionResponse,
    InnerCreateModelRequest,
    ModelVersionIDResponse,
)

from ..async_session import AsyncSession
from ..config import Credentials, resolve_settings
from ..errors import AuthError, ValidationError
from ..session import Session
from ..storage import object_store_for
from ..transfer import credentials as store_credentials
from ..transfer.base import ObjectStore
from ..transfer.credentials import RenewingKeys, StoreKeys
from ..transfer.manager import upload_path
from ..transfer.selection import file_filter
from . import _names, validation
from . import _requests as rq
from ._common import (
    RENEW_MARGIN,
    STS_DURATION,
    ProgressCallback,
    Registration,
    download_plan,
    register_plan,
)
from ._plan import (
    Plan,
    Request,
    Send,
    arun,
    async_method,
    blocking,
    call,
    run,
    sender,
    stoppable,
    sync_method,
)

R = TypeVar("R")

TOKEN_TTL = 600  # seconds, as the original SDK asks
# The highest id the wire carries: AdminGetSecureToken's AccountId and UserId are int64 (the document's
# maximum). Checked with the others, so that a larger one is refused by the argument's name.
MAX_ID = 2**63 - 1


def _positive_id(value: object, field: str) -> int:
    """An account or user id: an integer (an int, a numpy integer: anything with ``__index__`` but a
    bool) or a string of ASCII digits, from 1 to :data:`MAX_ID`. ``int()`` alone would turn 1.9 or
    True into id 1, "4_2" or full-width digits into 42: another account's id."""
    number: int | None = None
    if isinstance(value, str):
        text = value.strip()
        if text and text.isascii() and text.isdigit():
            number = int(text)
    elif not isinstance(value, bool):
        with contextlib.suppress(TypeError):
            number = operator.index(value)  # type: ignore[arg-type]
    if number is None or number < 1:
        raise ValidationError(f"{field}: {value!r} is not an integer id (a positive integer)", field=field)
    if number > MAX_ID:
        raise ValidationError(
            f"{field}: {value!r} is not an integer id (a positive integer at most {MAX_ID}, 2**63 - 1)",
            field=field,
        )
    return number


def _env_id(name: str) -> int | None:
    value = os.environ.get(name)
    if not value:
        return None
    return _positive_id(value, name)


def _as_id(value: Any, field: str) -> int | None:
    return None if value is None else _positive_id(value, field)


def _inner_version(model_version: object) -> str:
    """A version number, checked as the public API checks it. ``"latest"`` is refused: the inner door
    has no GetModel (wire-protocol section 3) to read a model's highest version from, and the caller's
    own keys read the caller's account, not the target's."""
    number = _names.check_version(model_version)
    if number == _names.LATEST:
        raise ValidationError(
            "model_version: 'latest' is not available to the cross-account (inner) API, which cannot read "
            "the target model's highest version; pass the version number",
            field="model_version",
        )
    return number


class InnerCore:
    """The target ids, the token and credential caches, and every method of the inner model as a plan
    (its signature and docstring too): ``Model`` and ``AsyncModel`` below are made of these."""

    def __init__(
        self,
        target_account_id: int | str | None,
        target_user_id: int | str | None,
        region: str,
        clock: Callable[[], float],
    ) -> None:
        self._region = region
        self._clock = clock
        # A token acts for one account and user only: it is kept with the ids it was asked for.
        self._token: tuple[int, int, str, float] | None = None
        # The target's object store, opened with GetSTSToken keys that it renews (mid-transfer too).
        self._store: tuple[tuple[int, int], ObjectStore, RenewingKeys] | None = None
        # An argument given wins over the environment (an invalid one is refused, not replaced by it).
        self._target_account_id = _as_id(target_account_id, "target_account_id")
        if self._target_account_id is None:
            self._target_account_id = _env_id("VOLC_ACCOUNT_ID")
        self._target_user_id = _as_id(target_user_id, "target_user_id")
        if self._target_user_id is None:
            self._target_user_id = _env_id("VOLC_USER_ID")

    def set_target(self, account_id: int | str | None = None, user_id: int | str | None = None) -> None:
        if account_id is not None:
            self._target_account_id = _as_id(account_id, "target_account_id")
        if user_id is not None:
            self._target_user_id = _as_id(user_id, "target_user_id")
        self._store = None  # its credentials open the previous target's bucket

    # ---- tokens and credentials ------------------------------------------------------------------

    def _target(self) -> tuple[int, int]:
        account, user = self._target_account_id, self._target_user_id
        if account is None or user is None:
            raise ValidationError(
                "target_account_id and target_user_id are required (arguments or env VOLC_ACCOUNT_ID / "
                "VOLC_USER_ID)",
                field="target_account_id" if account is None else "target_user_id",
            )
        return account, user

    def _secure_token(self, renew: bool = False, target: tuple[int, int] | None = None) -> Plan[str]:
        account, user = target or self._target()
        cached = self._token
        ours = cached is not None and cached[:2] == (account, user)
        if cached is not None and ours and not renew and self._clock() < cached[3] - RENEW_MARGIN:
            return cached[2]
        body = {"TimeToLive": TOKEN_TTL, "AccountId": account, "UserId": user}
        request = Request(
            admin_get_secure_token, AdminGetSecureTokenRequest, body, AdminGetSecureTokenResponse
        )
        token = (yield from call(request)).result.token
        self._token = (account, user, token, self._clock() + TOKEN_TTL)
        return token

    def _inner(self, request: Request[R], target: tuple[int, int] | None = None) -> Plan[R]:
        """``request`` through the inner door with a secure token (for ``target``, default: the
        current target), renewed once if refused."""
        target = target or self._target()
        try:
            return (yield from call(replace(request, token=(yield from self._secure_token(target=target)))))
        except AuthError as exc:
            if exc.code != "InvalidSecretToken":
                raise
        # The token was refused (expired early, or the platform restarted with a new secret):
        # renew it once; a second refusal is final.
        try:
            token = yield from self._secure_token(renew=True, target=target)
            return (yield from call(replace(request, token=token)))
        except AuthError as exc:
            raise AuthError(
                f"the secure token for account {target[0]} was refused and could not be renewed: "
                f"{exc.message}",
                **exc.service_fields(),
            ) from exc

    def _inner_twin(
        self,
        request: Request[R],
        operation: ModuleType,
        body_cls: type[Any] | None = None,
        target: tuple[int, int] | None = None,
    ) -> Plan[R]:
        """The open door's ``request`` sent as its inner twin ``operation``: the same body (checked
        against ``body_cls`` when the inner one differs) and the same answer."""
        return self._inner(
            replace(request, operation=operation, body_cls=body_cls or request.body_cls), target
        )

    def _object_store(self) -> Plan[ObjectStore]:
        """The target's object store. Its keys (GetSTSToken, inner door) are renewed when fewer than
        5 minutes are left, whenever a request is signed, so a transfer outlasting them goes on (as
        ``Model``'s, see :mod:`..transfer.credentials`); renewals go through the calling driver."""
        # No lock: two callers racing here both ask for keys (idempotent reads); the last wins.
        send = yield from sender()
        target = self._target()
        cached = self._store
        if cached is not None and cached[0] == target:
            cached[2].fetch = self._fetch_keys(send, target)
            return cached[1]
        (credentials, endpoint), keys = yield from self._sts_keys(target)
        renewing = RenewingKeys(keys, self._fetch_keys(send, target))
        store = object_store_for(endpoint, region=self._region, credentials=credentials, renewing=renewing)
        self._store = (target, store, renewing)
        return store

    def _sts_keys(self, target: tuple[int, int]) -> Plan[tuple[tuple[Credentials, str | None], StoreKeys]]:
        """GetSTSToken for ``target`` through the inner door: the credentials, the store's endpoint and
        the same keys with their expiry on the transfer clock."""
        asked = store_credentials.now()
        request = rq.sts_token(STS_DURATION)
        result = (yield from self._inner_twin(request, get_sts_token, target=target)).result
        token = result.session_token or None
        creds = Credentials(result.access_key_id, result.secret_access_key, token)
        endpoint = result.endpoint if isinstance(result.endpoint, str) else None
        keys = StoreKeys(creds.access_key, creds.secret_key, token, asked + STS_DURATION)
        return (creds, endpoint), keys

    def _fetch_keys(self, send: Send, target: tuple[int, int]) -> Callable[[], StoreKeys]:
        """New keys for the store of ``target`` (the target a transfer began with, even if the client's
        target has changed since), asked from a transfer's thread through ``send``."""

        def fetch() -> StoreKeys:
            return run(self._sts_keys(target), send)[1]

        return fetch

    def _upload_target(self) -> Plan[Any]:
        return (yield from self._inner_twin(rq.upload_path(), inner_get_tos_upload_path)).result

    # ---- the documented methods, as plans --------------------------------------------------------

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
    ) -> Plan[CreateModelResponse]:
        """Upload ``local_path`` and register it in the target account (a new model, or a version of
        ``model_id``); ``base_model_version_id`` / ``source_id`` name the version and perf task a
        converted model came from. ``allow_patterns`` / ``ignore_patterns`` pick the files of a folder,
        as for the public ``Model.register``."""
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
        validation.validate_local_path(local_path)  # before Path(): None or 123 is a ValidationError
        local = Path(local_path)
        select = file_filter(local, allow_patterns, ignore_patterns) if local.is_dir() else None
        return (
            yield from register_plan(
                registration,
                body_cls=InnerCreateModelRequest,
                upload_target=self._upload_target,
                object_store=self._object_store,
                create=lambda body: self._inner_twin(
                    rq.create(body), inner_create_model, InnerCreateModelRequest
                ),
                progress=progress,
                select=select,
            )
        )

    def download(
        self,
        model_id: str,
        model_version: str,
        local_path: str,
        *,
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
    ) -> Plan[list[Path]]:
        """Download every file of a version of the target account into ``local_path``; files already
        there are kept when they match and refused when they differ, unless ``overwrite``.
        ``model_version`` is a number (see :func:`_inner_version`)."""
        validation.validate_destination(local_path)
        path = (yield from self.get_model_version(model_id, model_version)).result.path
        store = yield from self._object_store()
        return (yield from download_plan(path, store, local_path, progress, overwrite))

    def get_model_version(self, model_id: str, model_version: str) -> Plan[GetModelVersionResponse]:
        """GetModelVersion in the target account (``model_version``: a number, see
        :func:`_inner_version`)."""
        request = rq.get_version(model_id, _inner_version(model_version))
        return self._inner_twin(request, inner_get_model_version)

    def update_model_version(
        self,
        model_id: str,
        model_version: str,
        description: str | None = None,
        tensor_config: dict[str, Any] | None = None,
        model_metrics: list[Any] | None = None,
    ) -> Plan[ModelVersionIDResponse]:
        """UpdateModelVersion in the target account: description, tensor config and/or metrics
        (``model_version``: a number, see :func:`_inner_version`)."""
        version = _inner_version(model_version)
        request = rq.update_version(model_id, version, description, tensor_config, model_metrics)
        return self._inner_twin(request, inner_update_model_version)

    def upload_tos(self, local_path: str, *, progress: ProgressCallback | None = None) -> Plan[str]:
        """Upload a file or folder to the target account's object storage; returns its ``tos://`` path."""
        validation.validate_local_path(local_path)
        target = yield from self._upload_target()
        store = yield from self._object_store()

        def upload(stop: threading.Event) -> str:
            return upload_path(
                store, Path(local_path), target.bucket, target.key_prefix, progress=stoppable(stop, progress)
            )

        return (yield from blocking(upload))


class _Targets:
    """The documented getters and setters of the target ids (both classes)."""

    _core: InnerCore

    def get_target_account_id(self) -> int | None:
        return self._core._target_account_id

    def set_target_account_id(self, target_account_id: int | str) -> None:
        self._core.set_target(account_id=target_account_id)

    def get_target_user_id(self) -> int | None:
        return self._core._target_user_id

    def set_target_user_id(self, target_user_id: int | str) -> None:
        self._core.set_target(user_id=target_user_id)


def _send_with(session: Session | AsyncSession) -> Callable[[Request[Any]], Any]:
    """How both classes send a request: signed (AdminGetSecureToken), or through the inner door with
    its token. For an ``AsyncSession`` the result is a coroutine, awaited by ``arun``."""
    inner = session.inner_client()

    def send(request: Request[Any]) -> Any:
        if request.token is None:  # the caller's own signed request
            return session.call(request.operation, request.body_cls, request.body)
        return session.call(
            request.operation,
            request.body_cls,
            request.body,
            client=inner,
            region=session.region,
            token=request.token,
        )

    return send


class Model(_Targets):
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
        self._core = InnerCore(target_account_id, target_user_id, self._session.region, clock)
        self._send = _send_with(self._session)

    def close(self) -> None:
        """As :meth:`.model.Model.close`: the connections of both doors, or the embedded platform."""
        self._session.close()

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, plan: Plan[R]) -> R:
        return run(plan, self._send)

    register = sync_method(InnerCore.register)
    download = sync_method(InnerCore.download)
    get_model_version = sync_method(InnerCore.get_model_version)
    update_model_version = sync_method(InnerCore.update_model_version)
    upload_tos = sync_method(InnerCore.upload_tos)


class AsyncModel(_Targets):
    """:class:`Model` for asyncio code: the same methods, arguments, checks and errors, awaited; the
    requests go through the generated asyncio operations (``async with`` closes the connections).
    ``register`` cancelled during the upload stops it and removes what was uploaded."""

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
        session: AsyncSession | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session or AsyncSession(
            resolve_settings(
                endpoint=endpoint,
                access_key=access_key,
                secret_key=secret_key,
                region=region,
                data_dir=data_dir,
                profile=profile,
            )
        )
        self._core = InnerCore(target_account_id, target_user_id, self._session.region, clock)
        self._send = _send_with(self._session)

    async def aclose(self) -> None:
        await self._session.aclose()

    async def __aenter__(self) -> AsyncModel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _run(self, plan: Plan[R]) -> R:
        return await arun(plan, self._send)

    register = async_method(InnerCore.register)
    download = async_method(InnerCore.download)
    get_model_version = async_method(InnerCore.get_model_version)
    update_model_version = async_method(InnerCore.update_model_version)
    upload_tos = async_method(InnerCore.upload_tos)
