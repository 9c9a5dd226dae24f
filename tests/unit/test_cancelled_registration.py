"""A register cancelled after its CreateModel was sent, whose event loop then ends (``asyncio.run``
cancels every task left, the shielded request too): the request is torn down in flight, and the
caller is told that its outcome is unknown, never nothing."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Generator
from typing import Any

from volcengine_ml_platform.errors import CancelledRegistrationWarning
from volcengine_ml_platform.models import _requests as rq
from volcengine_ml_platform.models._plan import arun, call


def test_a_create_model_torn_down_by_the_loops_end_is_said_to_be_unknown() -> None:
    torn_down = []

    async def send(request: Any) -> Any:  # CreateModel reached the platform; its answer is slow
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            torn_down.append(request)
            raise

    def plan() -> Generator[Any, Any, Any]:
        return (yield from call(rq.create({"ModelName": "m"})))

    async def main() -> None:
        task = asyncio.create_task(arun(plan(), send))
        await asyncio.sleep(0.05)  # CreateModel is in flight
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)  # main ends at once: asyncio.run tears down

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        asyncio.run(main())
    assert torn_down, "the request was not torn down: this test no longer tests the loop's end"
    cancelled = [w for w in said if issubclass(w.category, CancelledRegistrationWarning)]
    assert len(cancelled) == 1, [str(w.message) for w in said]
    assert "unknown" in str(cancelled[0].message) and "CreateModel" in str(cancelled[0].message)
