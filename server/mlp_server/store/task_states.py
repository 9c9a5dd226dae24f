"""The perf task state machine and the job status derived from its tasks."""

from __future__ import annotations

from collections.abc import Mapping

from mlp_server.errors import ApiError

SUBMITTED = "Submitted"
QUEUED = "Queued"
RUNNING = "Running"
STOPPING = "Stopping"
SUCCESS = "Success"
FAILED = "Failed"
CANCELLED = "Cancelled"

STATUSES = (SUBMITTED, QUEUED, RUNNING, STOPPING, SUCCESS, FAILED, CANCELLED)
TERMINAL = frozenset({SUCCESS, FAILED, CANCELLED})
ACTIVE = frozenset({QUEUED, RUNNING, STOPPING})

TRANSITIONS: Mapping[str, tuple[str, ...]] = {
    SUBMITTED: (QUEUED, RUNNING, CANCELLED, FAILED),
    QUEUED: (RUNNING, CANCELLED, FAILED),
    RUNNING: (SUCCESS, FAILED, STOPPING),
    STOPPING: (CANCELLED, FAILED),
    SUCCESS: (),
    FAILED: (),
    CANCELLED: (),
}


def check_transition(task_id: str, current: str, target: str) -> None:
    allowed = TRANSITIONS.get(current, ())
    if target not in allowed:
        targets = ", ".join(allowed) if allowed else "none, it is terminal"
        raise ApiError(
            "InvalidStateTransition",
            f"task {task_id} cannot go from {current} to {target}; allowed from {current}: {targets}",
        )


def cancel_target(current: str) -> str | None:
    """Where cancelling leads: waiting tasks end at once, a running one is asked to stop.

    ``None`` for a task already stopping (nothing more to do); a terminal status is returned
    unchanged as ``CANCELLED`` so that :func:`check_transition` rejects it with the usual message.
    """
    if current in (SUBMITTED, QUEUED):
        return CANCELLED
    if current == RUNNING:
        return STOPPING
    if current == STOPPING:
        return None
    return CANCELLED


def job_status(counts: Mapping[str, int]) -> str:
    """A job's status from its tasks' status counts (it is never stored, so it cannot drift).

    All Submitted -> Submitted; anything in flight, or a mix of waiting and ended tasks ->
    Running; all ended -> Failed if any failed, else Cancelled if any was cancelled, else Success.
    """
    present = {status for status, n in counts.items() if n > 0}
    if not present or present == {SUBMITTED}:
        return SUBMITTED
    if present <= TERMINAL:
        if FAILED in present:
            return FAILED
        return CANCELLED if CANCELLED in present else SUCCESS
    return RUNNING


def ended(counts: Mapping[str, int]) -> int:
    return sum(n for status, n in counts.items() if status in TERMINAL)
