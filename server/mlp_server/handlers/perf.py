"""The perf actions that may find work waiting: they wake the platform's perf workers (the embedded
platform starts its worker process on demand), then answer as the store does."""

from __future__ import annotations

from typing import Any

from ..context import Caller, Platform
from ..store import task_states as states

_UNFINISHED = {states.SUBMITTED, states.QUEUED, states.RUNNING, states.STOPPING}


def create_perf_job(platform: Platform, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = platform.store.create_perf_job(caller.account_id, body)
    platform.wake_perf_workers()
    return result


def list_perf_jobs(platform: Platform, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = platform.store.list_perf_jobs(caller.account_id, body)
    if any(job["JobStatus"] in _UNFINISHED for job in result["List"]):
        platform.wake_perf_workers()
    return result


def list_perf_tasks(platform: Platform, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = platform.store.list_perf_tasks(caller.account_id, body)
    if any(task["TaskStatus"] in _UNFINISHED for task in result["List"]):
        platform.wake_perf_workers()
    return result
