"""Perf jobs and their tasks: one task per flavor (x precision for CONVERT_PERF)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from mlp_server.errors import ApiError, invalid, not_found

from . import task_states as states
from .base import Body, Result, StoreBase, insert_with_new_id
from .ids import new_id, wire_time
from .models import owned_version
from .paging import Page, SortKeys, chunked, fetch_page
from .resources import require_flavor
from .schema import PerfJobRow, PerfTaskRow

PERF_ONLY = "PERF_ONLY"
CONVERT_PERF = "CONVERT_PERF"
JOB_TYPES = (PERF_ONLY, CONVERT_PERF)
BASE = "base"

JOB_SORTS: SortKeys = {"CreateTime": (PerfJobRow.create_time, PerfJobRow.id)}
TASK_SORTS: SortKeys = {"CreateTime": (PerfTaskRow.create_time, PerfTaskRow.id)}


@dataclass(frozen=True)
class ClaimedTask:
    """What a perf worker needs to run a task it has claimed."""

    task_id: str
    job_id: str
    account_id: int
    model_version_id: str
    task_type: str
    flavor_id: str
    convert_type: str
    convert_precision: str
    tensor_config: Any


def fan_out(job_type: str, params_list: Iterable[Body]) -> Iterator[tuple[str, str, str]]:
    """``(FlavorID, ConvertType, ConvertPrecision)`` per task, in request order.

    PERF_ONLY converts nothing: one task per flavor, ConvertType and ConvertPrecision "base".
    CONVERT_PERF: one task per flavor and precision of ConvertPrecisionList (none: "base").
    """
    for index, params in enumerate(params_list):
        converting = job_type == CONVERT_PERF
        convert_type = (params.get("ConvertType") if converting else None) or BASE
        precisions = (params.get("ConvertPrecisionList") if converting else None) or [BASE]
        for flavor_id in params.get("FlavorIDList") or []:
            require_flavor(f"JobParamsList[{index}].FlavorIDList", flavor_id)
            for precision in precisions:
                yield flavor_id, convert_type, precision


class PerfMixin(StoreBase):
    def create_perf_job(self, account_id: int, body: Body) -> Result:
        """The job in status Submitted, with a fresh TensorConfigID and its tasks created."""
        job_type = body.get("JobType")
        if job_type not in JOB_TYPES:
            raise invalid("JobType", f"{job_type!r} is not one of {', '.join(JOB_TYPES)}")
        if body.get("TensorConfig") is None:
            raise invalid("TensorConfig", "is required")
        params_list = body.get("JobParamsList") or []
        tasks = list(fan_out(job_type, params_list))
        if not tasks:
            raise invalid("JobParamsList", "names no flavor: give at least one FlavorIDList entry")
        now = self._now()
        with self._write() as session:
            version = owned_version(session, account_id, body["ModelVersionID"])
            job = insert_with_new_id(
                session,
                "pj",
                now,
                lambda new: PerfJobRow(
                    id=new,
                    account_id=account_id,
                    model_version_id=version.id,
                    job_type=job_type,
                    tensor_config=body.get("TensorConfig"),
                    tensor_config_id=new_id("t", now),
                    job_params=params_list,
                    create_time=now,
                ),
            )
            for flavor_id, convert_type, precision in tasks:
                insert_with_new_id(
                    session, "pf", now, partial(_task_row, job, flavor_id, convert_type, precision)
                )
        return _job_item(job, {states.SUBMITTED: len(tasks)}, with_counts=False)

    def list_perf_jobs(self, account_id: int, body: Body) -> Result:
        """Filters ModelVersionID, JobID; items carry JobStatus, TaskCount and EndedTaskCount."""
        page = Page.from_body(body, JOB_SORTS)
        where: list[ColumnElement[bool]] = [PerfJobRow.account_id == account_id]
        if (version_id := body.get("ModelVersionID")) is not None:
            where.append(PerfJobRow.model_version_id == version_id)
        if (job_id := body.get("JobID")) is not None:
            where.append(PerfJobRow.id == job_id)
        with self._read() as session:
            total, jobs = fetch_page(session, PerfJobRow, where, page, JOB_SORTS)
            counts = _task_counts(session, [j.id for j in jobs])
        return {"Total": total, "List": [_job_item(j, counts[j.id], with_counts=True) for j in jobs]}

    def cancel_perf_job(self, account_id: int, body: Body) -> Result:
        """Cancels every unfinished task as CancelPerfTask would; a job already ended is refused."""
        now = self._now()
        with self._write() as session:
            job = session.get(PerfJobRow, body["JobID"])
            if job is None or job.account_id != account_id:
                raise not_found("PerfJob", body["JobID"])
            tasks = session.scalars(
                select(PerfTaskRow).where(PerfTaskRow.job_id == job.id).with_for_update()
            ).all()
            if all(task.status in states.TERMINAL for task in tasks):
                status = states.job_status(Counter(t.status for t in tasks))
                raise ApiError(
                    "InvalidStateTransition", f"job {job.id} has ended ({status}): nothing to cancel"
                )
            for task in tasks:
                target = states.cancel_target(task.status)
                if target is not None and task.status not in states.TERMINAL:
                    _move(task, target, now)
        return {"JobID": job.id}

    def list_perf_tasks(self, account_id: int, body: Body) -> Result:
        """Filters TaskID, JobID."""
        page = Page.from_body(body, TASK_SORTS)
        where: list[ColumnElement[bool]] = [PerfTaskRow.account_id == account_id]
        if (task_id := body.get("TaskID")) is not None:
            where.append(PerfTaskRow.id == task_id)
        if (job_id := body.get("JobID")) is not None:
            where.append(PerfTaskRow.job_id == job_id)
        with self._read() as session:
            total, tasks = fetch_page(session, PerfTaskRow, where, page, TASK_SORTS)
        return {"Total": total, "List": [_task_item(t) for t in tasks]}

    def update_perf_task(self, account_id: int, body: Body) -> Result:
        """Moves the task to ``Status`` along the state machine; without Status, changes nothing."""
        target = body.get("Status")
        if target is not None and target not in states.STATUSES:
            raise invalid("Status", f"{target!r} is not one of {', '.join(states.STATUSES)}")
        with self._write() as session:
            task = _locked_task(session, body["TaskID"], account_id)
            if target is not None:
                states.check_transition(task.id, task.status, target)
                _move(task, target, self._now())
        return {"TaskID": task.id}

    def cancel_perf_task(self, account_id: int, body: Body) -> Result:
        """Submitted/Queued -> Cancelled, Running -> Stopping (the worker then ends it as
        Cancelled), Stopping -> unchanged; a terminal task -> InvalidStateTransition."""
        with self._write() as session:
            task = _locked_task(session, body["TaskID"], account_id)
            target = states.cancel_target(task.status)
            if target is not None:
                states.check_transition(task.id, task.status, target)
                _move(task, target, self._now())
        return {"TaskID": task.id}

    # --- for the perf worker (not tenant-scoped: the worker serves every account) ---

    def claim_next_task(self, flavor_ids: Collection[str] | None = None) -> ClaimedTask | None:
        """Atomically move the oldest Submitted task (of these flavors) to Running and return it."""
        stmt = select(PerfTaskRow).where(PerfTaskRow.status == states.SUBMITTED)
        if flavor_ids is not None:
            stmt = stmt.where(PerfTaskRow.flavor_id.in_(list(flavor_ids)))
        stmt = stmt.order_by(PerfTaskRow.create_time, PerfTaskRow.id).limit(1)
        with self._write() as session:
            # SKIP LOCKED lets several workers claim side by side on PostgreSQL; SQLite
            # serializes writers (BEGIN IMMEDIATE) and ignores the clause.
            task = session.scalars(stmt.with_for_update(skip_locked=True)).first()
            if task is None:
                return None
            states.check_transition(task.id, task.status, states.RUNNING)
            _move(task, states.RUNNING, self._now())
            job = session.get_one(PerfJobRow, task.job_id)
            return ClaimedTask(
                task_id=task.id,
                job_id=task.job_id,
                account_id=task.account_id,
                model_version_id=task.model_version_id,
                task_type=task.task_type,
                flavor_id=task.flavor_id,
                convert_type=task.convert_type,
                convert_precision=task.convert_precision,
                tensor_config=job.tensor_config,
            )

    def finish_task(self, task_id: str, status: str, result: Any = None, message: str | None = None) -> None:
        """End a task (Success/Failed from Running; Cancelled/Failed from Stopping) with its outcome."""
        if status not in states.TERMINAL:
            raise invalid(
                "Status", f"{status!r} is not a final status ({', '.join(sorted(states.TERMINAL))})"
            )
        with self._write() as session:
            task = _locked_task(session, task_id)
            states.check_transition(task.id, task.status, status)
            _move(task, status, self._now())
            task.result_json = result
            task.message = message

    def task_status(self, task_id: str) -> str | None:
        """For a worker to notice a cancel request (Stopping); None if the task is gone."""
        with self._read() as session:
            return session.scalar(select(PerfTaskRow.status).where(PerfTaskRow.id == task_id))


def _task_row(
    job: PerfJobRow, flavor_id: str, convert_type: str, precision: str, task_id: str
) -> PerfTaskRow:
    return PerfTaskRow(
        id=task_id,
        job_id=job.id,
        account_id=job.account_id,
        model_version_id=job.model_version_id,
        task_type=job.job_type,
        flavor_id=flavor_id,
        convert_type=convert_type,
        convert_precision=precision,
        status=states.SUBMITTED,
        create_time=job.create_time,
        update_time=job.create_time,
    )


def _locked_task(session: Session, task_id: str, account_id: int | None = None) -> PerfTaskRow:
    stmt = select(PerfTaskRow).where(PerfTaskRow.id == task_id)
    if account_id is not None:
        stmt = stmt.where(PerfTaskRow.account_id == account_id)
    task = session.scalars(stmt.with_for_update()).first()
    if task is None:
        raise not_found("PerfTask", task_id)
    return task


def _move(task: PerfTaskRow, status: str, now: datetime) -> None:
    task.status = status
    task.update_time = now


def _task_counts(session: Session, job_ids: list[str]) -> dict[str, dict[str, int]]:
    """job id -> {task status: number of tasks}."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for batch in chunked(job_ids):
        rows = session.execute(
            select(PerfTaskRow.job_id, PerfTaskRow.status, func.count())
            .where(PerfTaskRow.job_id.in_(batch))
            .group_by(PerfTaskRow.job_id, PerfTaskRow.status)
        )
        for job_id, status, n in rows:
            counts[job_id][status] = n
    return counts


def _job_item(job: PerfJobRow, counts: dict[str, int], *, with_counts: bool) -> Result:
    item: Result = {
        "JobID": job.id,
        "ModelVersionID": job.model_version_id,
        "TensorConfig": job.tensor_config,
        "TensorConfigID": job.tensor_config_id,
        "JobParamsList": job.job_params,
        "JobType": job.job_type,
        "JobStatus": states.job_status(counts),
        "CreateTime": wire_time(job.create_time),
    }
    if with_counts:
        item["TaskCount"] = sum(counts.values())
        item["EndedTaskCount"] = states.ended(counts)
    return item


def _task_item(task: PerfTaskRow) -> Result:
    item: Result = {
        "TaskID": task.id,
        "JobID": task.job_id,
        "ModelVersionID": task.model_version_id,
        "TaskArgs": {
            "TaskType": task.task_type,
            "FlavorID": task.flavor_id,
            "ConvertType": task.convert_type,
            "ConvertPrecision": task.convert_precision,
        },
        "TaskStatus": task.status,
        "CreateTime": wire_time(task.create_time),
    }
    if task.result_json is not None:
        item["Result"] = task.result_json
    if task.message is not None:
        item["Message"] = task.message
    return item
