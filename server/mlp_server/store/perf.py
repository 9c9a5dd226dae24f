"""Perf jobs and their tasks: one task per flavor (x precision for CONVERT_PERF)."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Interval, func, literal, select, text
from sqlalchemy.orm import Session

from mlp_server.errors import ApiError, invalid, not_found
from volcengine_ml_platform import file_locks
from volcengine_ml_platform.perf_shapes import shape_range_problems

from . import task_states as states
from .base import Body, Result, StoreBase, insert_with_new_id
from .ids import new_id, wire_time
from .models import owned_version
from .paging import Page, SortKeys, chunked, fetch_page
from .resources import require_flavor
from .schema import PerfJobRow, PerfTaskRow, UTCDateTime, VersionRow

PERF_ONLY = "PERF_ONLY"
CONVERT_PERF = "CONVERT_PERF"
JOB_TYPES = (PERF_ONLY, CONVERT_PERF)
BASE = "base"
WAITING = (states.SUBMITTED, states.QUEUED)
# A worker renews its lease several times per lease; a task whose worker died waits this long.
DEFAULT_LEASE_SECONDS = 30.0
# Class of the conversions' advisory locks (two-key form, so never the serving lock's bigint key).
_CONVERSION_LOCKS = 0x6D6C7001

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
    attempt: int = 1
    # Who holds it (the claiming worker) and ``attempt``: together the holder's token. A runner's
    # writes are made only while the task's row still names both (:meth:`PerfMixin.add_perf_metrics`).
    worker_id: str | None = None


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
        if problems := shape_range_problems(body["TensorConfig"], "TensorConfig"):
            raise ApiError(
                "InvalidParameter", "; ".join(f"{field}: {problem}" for field, problem in problems)
            )
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
            lapsed = self._lapsed(session, tasks)
        return {"Total": total, "List": [_task_item(t, t.id in lapsed) for t in tasks]}

    def _lapsed(self, session: Session, tasks: Sequence[PerfTaskRow]) -> set[str]:
        """The tasks among ``tasks`` held under a lease that has expired: their worker stopped (a
        SIGKILL, a lost machine) and, until another worker claims them, nothing runs them. Judged by
        the leases' clock: on PostgreSQL the database's, asked only when the page shows a leased task."""
        held = [
            t for t in tasks if t.lease_owner is not None and t.status in (states.RUNNING, states.STOPPING)
        ]
        if not held:
            return set()
        lease_now = self._lease_now()
        if isinstance(lease_now, datetime):
            return {t.id for t in held if t.lease_expires is not None and t.lease_expires < lease_now}
        expired = PerfTaskRow.lease_expires < lease_now
        ids = [t.id for t in held]
        return set(session.scalars(select(PerfTaskRow.id).where(PerfTaskRow.id.in_(ids), expired)))

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

    def _lease_now(self) -> datetime | ColumnElement[datetime]:
        """Now, as leases are set and judged. On PostgreSQL the database's own clock, inside the
        statement: the workers of a team run on several machines whose clocks may disagree by more
        than a lease, and one ahead would take a task whose owner has just renewed it. SQLite is a
        file on one machine: its clock (the store's, so that tests can move it)."""
        if self.dialect == "postgresql":
            return func.timezone("UTC", func.clock_timestamp(), type_=UTCDateTime())
        return self._now()

    def claim_next_task(
        self,
        flavor_ids: Collection[str] | None = None,
        *,
        worker_id: str = "anonymous",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        waited_flavor_ids: Collection[str] = (),
        waited_seconds: float = 0.0,
    ) -> ClaimedTask | None:
        """Atomically give the oldest waiting task (of these flavors) to ``worker_id`` for a lease.

        ``waited_flavor_ids``: flavors also claimed, but only once their task has waited
        ``waited_seconds`` in its state (a worker without a GPU takes a GPU task that no GPU worker
        took in that time, to fail it plainly). That wait is minutes, so it is judged by the store's
        clock: the machines' skew of seconds does not matter there, as it does for leases.

        Waiting: Submitted or Queued, or Running under a lease that has expired (its worker died; the
        task stays Running and is run again from the start). A Stopping task whose lease expired had
        its worker die while stopping it: it is ended as Cancelled here, as the worker would have.
        """
        now, lease_now = self._now(), self._lease_now()
        expired = (PerfTaskRow.lease_owner.is_not(None)) & (PerfTaskRow.lease_expires < lease_now)
        waiting = PerfTaskRow.status.in_(WAITING) | ((PerfTaskRow.status == states.RUNNING) & expired)
        stmt = select(PerfTaskRow).where(waiting)
        if flavor_ids is not None:
            runnable: ColumnElement[bool] = PerfTaskRow.flavor_id.in_(list(flavor_ids))
            if waited_flavor_ids:
                # Waiting since it was queued (the store's clock), or since its worker's lease ran out
                # (a GPU worker that died mid-run; the lease's clock): not since the claim, or a run
                # longer than the wait would be taken at once.
                waited = PerfTaskRow.lease_expires.is_(None) & (
                    PerfTaskRow.update_time <= now - timedelta(seconds=waited_seconds)
                )
                waited |= PerfTaskRow.lease_expires <= _lease_end(lease_now, -waited_seconds)
                runnable |= PerfTaskRow.flavor_id.in_(list(waited_flavor_ids)) & waited
            stmt = stmt.where(runnable)
        stmt = stmt.order_by(PerfTaskRow.create_time, PerfTaskRow.id).limit(1)
        with self._write() as session:
            orphans = select(PerfTaskRow).where((PerfTaskRow.status == states.STOPPING) & expired)
            for orphan in session.scalars(orphans.with_for_update(skip_locked=True)):
                _move(orphan, states.CANCELLED, now)
                orphan.message = "cancelled (its worker stopped before it could confirm)"
                _clear_lease(orphan)
            # SKIP LOCKED lets several workers claim side by side on PostgreSQL; SQLite
            # serializes writers (BEGIN IMMEDIATE) and ignores the clause.
            task = session.scalars(stmt.with_for_update(skip_locked=True)).first()
            if task is None:
                return None
            if task.status != states.RUNNING:
                states.check_transition(task.id, task.status, states.RUNNING)
                _move(task, states.RUNNING, now)
            else:
                task.update_time = now
            task.lease_owner = worker_id
            task.lease_expires = _lease_end(lease_now, lease_seconds)
            task.attempts = (task.attempts or 0) + 1
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
                attempt=task.attempts,
                worker_id=worker_id,
            )

    def renew_lease(
        self, task_id: str, worker_id: str, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> str | None:
        """Extend ``worker_id``'s lease on a task it holds; returns the task's status (Stopping: a
        cancel was asked), or None when the worker no longer holds it (it must stop working on it)."""
        lease_now = self._lease_now()
        with self._write() as session:
            task = session.scalars(
                select(PerfTaskRow).where(PerfTaskRow.id == task_id).with_for_update()
            ).first()
            if task is None or task.lease_owner != worker_id or task.status not in states.ACTIVE:
                return None
            task.lease_expires = _lease_end(lease_now, lease_seconds)
            return task.status

    def release_task(self, task_id: str, worker_id: str) -> bool:
        """A worker stopping before its task ended hands it back: Running -> Queued (the next worker
        takes it), Stopping -> Cancelled. False if the worker no longer held it."""
        now = self._now()
        with self._write() as session:
            task = session.scalars(
                select(PerfTaskRow).where(PerfTaskRow.id == task_id).with_for_update()
            ).first()
            if task is None or task.lease_owner != worker_id:
                return False
            if task.status == states.RUNNING:
                _move(task, states.QUEUED, now)
            elif task.status == states.STOPPING:
                _move(task, states.CANCELLED, now)
            _clear_lease(task)
            return True

    def finish_task(
        self,
        task_id: str,
        status: str,
        result: Any = None,
        message: str | None = None,
        *,
        worker_id: str | None = None,
    ) -> bool:
        """End a task (Success/Failed from Running; Cancelled/Failed from Stopping) with its outcome.

        With ``worker_id``, only while that worker holds the task's lease: False (nothing written)
        when another worker has taken it over since.
        """
        if status not in states.TERMINAL:
            raise invalid(
                "Status", f"{status!r} is not a final status ({', '.join(sorted(states.TERMINAL))})"
            )
        with self._write() as session:
            task = _locked_task(session, task_id)
            if worker_id is not None and task.lease_owner != worker_id:
                return False
            if status == states.SUCCESS and task.status == states.STOPPING:
                status = states.CANCELLED  # cancel was asked: the outcome is not reported as a success
                message = message or "cancelled after it had finished; its results were kept"
            states.check_transition(task.id, task.status, status)
            _move(task, status, self._now())
            _clear_lease(task)
            task.result_json = result
            task.message = message
            return True

    def task_status(self, task_id: str) -> str | None:
        """For a worker to notice a cancel request (Stopping); None if the task is gone."""
        with self._read() as session:
            return session.scalar(select(PerfTaskRow.status).where(PerfTaskRow.id == task_id))

    def add_perf_metrics(
        self,
        account_id: int,
        model_version_id: str,
        task_id: str,
        entries: Sequence[Body],
        *,
        holder: ClaimedTask | None = None,
    ) -> bool:
        """Append a task's Perf entries to the version's MetricsList in one transaction (a rerun of the
        same task replaces its own entries instead of adding them twice).

        With ``holder`` (the claim a runner works under), only while that claim still holds the task,
        judged in the same transaction under the task's row lock: False, nothing written, when its
        lease lapsed and another worker has claimed the task since (a stale runner must not replace
        the new holder's entries)."""
        with self._write() as session:
            if holder is not None and not _holds(session, holder):
                return False
            version = session.scalars(
                select(VersionRow).where(VersionRow.id == model_version_id).with_for_update()
            ).first()
            if version is None or version.account_id != account_id:
                raise not_found("ModelVersion", model_version_id)
            kept = [m for m in (version.metrics_list or []) if _metrics_task(m) != task_id]
            version.metrics_list = [*kept, *entries]
            return True

    def holds_task(self, holder: ClaimedTask) -> bool:
        """Whether ``holder``'s claim still holds its task (for a check before a write that cannot be
        made in the task's transaction: a conversion's registration, under the task's conversion lock)."""
        with self._write() as session:
            return _holds(session, holder)

    @contextmanager
    def conversion_lock(self, task_id: str) -> Iterator[None]:
        """Held by a conversion task's runner while it looks up, else uploads and registers, its
        converted version (:meth:`version_from_task` first): two runners of one task (a worker that
        lost its lease while its runner went on, and the next worker's) then register one version
        between them, the second finding the first's. PostgreSQL: a session advisory lock (dropped
        with its connection if the runner dies); SQLite (one machine): ``flock`` of a file beside the
        database."""
        if self.dialect == "postgresql":
            key = {"task": task_id}
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(
                    text("SELECT pg_advisory_lock(:cls, hashtext(:task))"), {"cls": _CONVERSION_LOCKS, **key}
                )
                try:
                    yield
                finally:
                    conn.execute(
                        text("SELECT pg_advisory_unlock(:cls, hashtext(:task))"),
                        {"cls": _CONVERSION_LOCKS, **key},
                    )
            return
        database = self.engine.url.database
        # Windows (no fcntl): SQLite conversions are not serialised across processes there.
        if not file_locks.AVAILABLE or database in (None, "", ":memory:"):
            yield  # no file to lock: one process
            return
        # One file per task (not one for all: a task's slow upload must not hold up the others),
        # removed as it is let go (file_locks).
        folder = f"{database}.conversions.d"
        os.makedirs(folder, mode=0o700, exist_ok=True)
        path = os.path.join(folder, hashlib.sha256(task_id.encode()).hexdigest()[:32] + ".lock")
        fd = file_locks.lock(path)
        try:
            yield
        finally:
            file_locks.unlock(path, fd)

    def version_from_task(self, account_id: int, model_id: str, task_id: str) -> str | None:
        """The version a conversion task already registered (a rerun reuses it), if any."""
        with self._read() as session:
            return session.scalar(
                select(VersionRow.id).where(
                    VersionRow.model_id == model_id,
                    VersionRow.account_id == account_id,
                    VersionRow.source_id == task_id,
                )
            )


def _holds(session: Session, holder: ClaimedTask) -> bool:
    """``holder``'s claim still holds the task: same worker, same attempt (a worker that lost the task
    and claimed it again is a new claim), not ended. The row is locked until the transaction ends, so
    no claim, renewal or finish can come between this check and the caller's write."""
    task = session.scalars(
        select(PerfTaskRow).where(PerfTaskRow.id == holder.task_id).with_for_update()
    ).first()
    return (
        task is not None
        and holder.worker_id is not None
        and task.lease_owner == holder.worker_id
        and task.attempts == holder.attempt
        and task.status in (states.RUNNING, states.STOPPING)
    )


def _metrics_task(entry: Any) -> str | None:
    try:
        params = json.loads(entry.get("Params") or "{}")
    except (AttributeError, TypeError, ValueError):
        return None
    task = params.get("TaskID") if isinstance(params, dict) else None
    return task if isinstance(task, str) else None


def _lease_end(
    lease_now: datetime | ColumnElement[datetime], seconds: float
) -> datetime | ColumnElement[datetime]:
    length = timedelta(seconds=seconds)
    if isinstance(lease_now, datetime):
        return lease_now + length
    return lease_now + literal(length, Interval())  # typed: not bound as the column's datetime


def _clear_lease(task: PerfTaskRow) -> None:
    task.lease_owner = None
    task.lease_expires = None


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


def _task_item(task: PerfTaskRow, lapsed: bool = False) -> Result:
    """The task as ListPerfTasks shows it. A Running task whose worker stopped (``lapsed``: its lease
    expired) reads Queued, as it is: waiting for a worker, which runs it again from the start. The job's
    status is the same either way (a Queued or Running task: the job is Running)."""
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
    if lapsed and task.lease_expires is not None:
        since = wire_time(task.lease_expires)
        if task.status == states.RUNNING:
            item["TaskStatus"] = states.QUEUED
            item["Message"] = (
                f"its worker stopped (lease expired {since}); waiting for a worker to claim it again"
            )
        else:
            item["Message"] = (
                f"its worker stopped before confirming the cancel (lease expired {since}); "
                "the next worker that looks for work ends it Cancelled"
            )
    return item
