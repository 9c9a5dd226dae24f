"""Action handlers. Most actions map one to one onto a store method of the same name; the few that
need more than the store (object storage, tokens) have their own module here."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..context import Caller, Platform
from . import models, perf, services, storage, tokens

Handler = Callable[[Platform, Caller, dict[str, Any]], dict[str, Any]]

SPECIAL: dict[str, Handler] = {
    "CreateModel": models.create_model,
    "InnerCreateModel": models.create_model,
    "DeleteModel": models.delete_model,
    "DeleteModelVersion": models.delete_model_version,
    "GetTOSUploadPath": storage.get_tos_upload_path,
    "InnerGetTOSUploadPath": storage.get_tos_upload_path,
    "AdminGetSecureToken": tokens.admin_get_secure_token,
    "GetSTSToken": tokens.get_sts_token,
    "CreatePerfJob": perf.create_perf_job,
    "ListPerfJobs": perf.list_perf_jobs,
    "ListPerfTasks": perf.list_perf_tasks,
    **services.HANDLERS,
}


def _store_method(action: str) -> str:
    name = action.removeprefix("Inner")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def handler_for(action: str) -> Handler:
    """The handler of ``action``; the inner twins share their public action's store method."""
    if action in SPECIAL:
        return SPECIAL[action]
    method = _store_method(action)

    def call_store(platform: Platform, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = getattr(platform.store, method)(caller.account_id, body)
        return result

    return call_store


def missing_handlers(actions: list[str], store: object) -> list[str]:
    """Actions of the document that nothing here can serve (checked at start-up and in tests)."""
    return [a for a in actions if a not in SPECIAL and not callable(getattr(store, _store_method(a), None))]


def call_action(platform: Platform, caller: Caller, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """Run an inner action in-process, as the inner door would after authentication: the body is
    checked against the action's schema first (the platform's own workers use this)."""
    from volcengine_ml_platform import schema

    from ..errors import ApiError
    from ..operations import lookup

    operation = lookup("inner", action)
    if operation is None:
        raise ApiError("InvalidActionOrVersion", f"unknown inner Action {action!r}")
    errors = list(schema.errors(operation.request_schema, body))
    if errors:
        raise ApiError("InvalidParameter", "; ".join(schema.describe(e) for e in errors[:10]))
    return handler_for(action)(platform, caller, body)
