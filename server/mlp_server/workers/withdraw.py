"""What an unfinished conversion leaves: nothing half-done. A CONVERT_PERF task registers its FP16/INT8
version before it measures it; cancelled (or failed, or timed out) in between, the version would stay
with no metrics and nothing pointing to it. Once the runner is dead (no more writes can come from it)
the worker deletes that version as DeleteModelVersion does (objects reclaimed, serving cache copy
evicted), and the task's Message says so. A version the runner had measured already stays (its
results are kept, as for a task cancelled after it finished), and so does one that cannot go (a
service was deployed of it meanwhile): the Message names it and says why."""

from __future__ import annotations

import json
import logging
from typing import Any

from ..context import Caller
from ..errors import ApiError
from ..settings import ServerSettings
from ..store import ClaimedTask, Store
from ..store.perf import BASE, CONVERT_PERF

log = logging.getLogger("mlp_server.workers")


def registers_a_version(task: ClaimedTask) -> bool:
    """A conversion to another precision: its runner registers the converted model as a new version."""
    return task.task_type == CONVERT_PERF and task.convert_precision != BASE


def withdraw_conversion(settings: ServerSettings, store: Store, task: ClaimedTask) -> str:
    """Delete the version ``task`` registered, if it did; what became of it, to append to the
    unfinished task's Message ("" when it registered none)."""
    if not registers_a_version(task):
        return ""
    model_id = task.model_version_id.rsplit("-", 1)[0]
    what = f"the {task.convert_precision} version it had registered"
    try:
        version_id = store.version_from_task(task.account_id, model_id, task.task_id)
        if version_id is None:
            return ""
        what = f"the {task.convert_precision} version {version_id} it had registered"
        version = store.get_model_version(task.account_id, {"ModelVersionID": version_id})
        if any(_measured_by(entry) == task.task_id for entry in version.get("MetricsList") or []):
            return f"; {what} was measured before the task ended and stays, with its metrics"
        _delete_version(settings, task.account_id, version_id)
    except ApiError as exc:
        if exc.code == "NotFound":  # deleted meanwhile, by its owner
            return f"; {what} was deleted meanwhile"
        return f"; {what} stays ({exc.code}: {exc.message})"
    except Exception as exc:  # the store or object store failed: the record says what is known
        log.warning("perf task %s: could not withdraw %s", task.task_id, what, exc_info=True)
        return f"; {what} may stay (it could not be deleted: {type(exc).__name__}: {exc})"
    return f"; {what} was deleted, unmeasured"


def _delete_version(settings: ServerSettings, account_id: int, version_id: str) -> None:
    # The handler, for what a delete does beyond the row (reclaiming, the serving cache); a platform of
    # its own, as the runner opens one per task: cancels are rare.
    from ..handlers.models import delete_model_version
    from ..platform import open_platform

    platform = open_platform(settings)
    try:
        delete_model_version(platform, Caller(account_id, 0, is_admin=False), {"ModelVersionID": version_id})
    finally:
        platform.store.close()


def _measured_by(entry: Any) -> Any:
    """The TaskID in a MetricsList entry's Params (a JSON string; runner.metrics_entries writes it)."""
    try:
        params = json.loads(entry.get("Params") or "{}")
    except (AttributeError, TypeError, ValueError):
        return None
    return params.get("TaskID") if isinstance(params, dict) else None
