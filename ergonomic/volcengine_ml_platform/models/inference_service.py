"""The object :meth:`Model.deploy` returns: one online inference service, refreshable and controllable;
and :class:`AsyncInferenceService`, what :meth:`AsyncModel.deploy` returns, the same awaited.

Both run the same plans (:mod:`._plan`): waiting for a status, reading the endpoint before a
prediction. A prediction itself is one KServe v2 call to the service's endpoint, a blocking function
that the async twin runs in a worker thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from .. import schema
from ..errors import MLPlatformError, ValidationError
from . import _requests as rq
from . import validation
from ._plan import Plan, arun, blocking, call, pause, run

if TYPE_CHECKING:
    import numpy.typing as npt

    from ml_platform_client.models import GetServiceResponse, ServiceIDResponse

    from ..async_session import AsyncSession
    from ..session import Session

R = TypeVar("R")
Outputs = dict[str, "npt.NDArray[Any]"]


class _Service:
    """What both twins know of a service, and the plans of their methods."""

    def __init__(self, service_id: str, service_name: str | None = None) -> None:
        self.service_id = service_id
        self.service_name = service_name
        self.last: Any = None  # the last GetService response (dict-style and typed access)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(service_id={self.service_id!r}, service_name={self.service_name!r})"

    def _refresh(self) -> Plan[GetServiceResponse]:
        answer = yield from call(rq.get_service_request(self.service_id))
        self.last = answer
        self.service_name = answer.result.service_name
        return answer

    def _predict(self, inputs: Mapping[str, Any], timeout: float) -> Plan[Outputs]:
        deployment = (yield from self._refresh()).result.service_deployment
        url = deployment.endpoint_url
        if not isinstance(url, str) or not url:
            raise MLPlatformError(
                f"service {self.service_id} has no endpoint: it is {deployment.status}{_why(deployment)}"
            )
        name = str(self.service_name)

        def infer(_stop: threading.Event) -> Outputs:
            from .inference import V2Client  # numpy: only for predictions, not at import (start-up time)

            client = V2Client(url, name, timeout=timeout)
            try:
                return client.infer(inputs)
            finally:
                client.close()

        return (yield from blocking(infer))

    def _wait_for(self, statuses: tuple[str, ...], timeout: float, interval: float) -> Plan[str]:
        _check_wait(statuses, timeout, interval)  # before the first GetService
        deadline = time.monotonic() + timeout
        while True:
            deployment = (yield from self._refresh()).result.service_deployment
            status = str(deployment.status)
            if status in statuses:
                return status
            if time.monotonic() >= deadline:
                raise MLPlatformError(
                    f"service {self.service_id} is {status}, not {'/'.join(statuses)}, after "
                    f"{timeout:.0f}s{_why(deployment)}"
                )
            yield from pause(interval)

    def _deployment(self) -> Any:
        if self.last is None:
            raise MLPlatformError(f"service {self.service_id} was never read: call refresh() first")
        return self.last.result.service_deployment

    @property
    def status(self) -> str:
        """The status as of the last refresh."""
        return str(self._deployment().status)

    @property
    def endpoint_url(self) -> str | None:
        url = self._deployment().endpoint_url
        return url if isinstance(url, str) and url else None

    @property
    def replicas(self) -> int:
        return int(self._deployment().replicas)


class InferenceService(_Service):
    """A deployed service. ``refresh()`` re-reads it; ``start``/``stop``/``scale``/``delete`` change it."""

    def __init__(self, session: Session, service_id: str, service_name: str | None = None) -> None:
        super().__init__(service_id, service_name)
        self._session = session

    def _run(self, plan: Plan[R]) -> R:
        return run(
            plan, lambda request: self._session.call(request.operation, request.body_cls, request.body)
        )

    def _deployment(self) -> Any:
        if self.last is None:
            self.refresh()  # the status properties read it once when never read
        return super()._deployment()

    def refresh(self) -> GetServiceResponse:
        """GetService; returns the response and keeps it as ``last``."""
        return self._run(self._refresh())

    def start(self) -> ServiceIDResponse:
        return self._run(call(rq.service_action(rq.START, self.service_id)))

    def stop(self) -> ServiceIDResponse:
        return self._run(call(rq.service_action(rq.STOP, self.service_id)))

    def scale(self, replicas: int) -> ServiceIDResponse:
        return self._run(call(rq.scale(self.service_id, replicas)))

    def delete(self) -> ServiceIDResponse:
        return self._run(call(rq.service_action(rq.DELETE, self.service_id)))

    def predict(self, inputs: Mapping[str, Any], *, timeout: float = 60.0) -> Outputs:
        """Run the model: ``{input name: numpy array or nested list}`` -> ``{output name: array}``.

        Calls the service's endpoint with the KServe v2 / Open Inference Protocol (JSON tensors). Lists
        go uncast with the datatype the model declares; arrays keep their own. A mismatch, or a value
        the datatype cannot hold (1.7 for INT64, 1e5 for FP16), is the service's 400, raised as
        ``InvalidParameterError`` naming the input.
        """
        return self._run(self._predict(inputs, timeout))

    def wait_for(self, *statuses: str, timeout: float = 300.0, interval: float = 2.0) -> str:
        """Refresh until the status is one of ``statuses`` (ServiceStatus values: Pending, Deploying,
        Running, Stopping, Stopped, Failed; any other is a ValidationError, before any request); raise
        after ``timeout`` seconds."""
        return self._run(self._wait_for(statuses, timeout, interval))


class AsyncInferenceService(_Service):
    """:class:`InferenceService` for asyncio code: the same methods, awaited. The status properties
    read the last refresh (``AsyncModel.get_service`` reads it once; after ``deploy``, call
    ``await service.refresh()`` first: a property cannot await)."""

    def __init__(self, session: AsyncSession, service_id: str, service_name: str | None = None) -> None:
        super().__init__(service_id, service_name)
        self._session = session

    async def _run(self, plan: Plan[R]) -> R:
        return await arun(
            plan, lambda request: self._session.call(request.operation, request.body_cls, request.body)
        )

    async def refresh(self) -> GetServiceResponse:
        """GetService; returns the response and keeps it as ``last``."""
        return await self._run(self._refresh())

    async def start(self) -> ServiceIDResponse:
        return await self._run(call(rq.service_action(rq.START, self.service_id)))

    async def stop(self) -> ServiceIDResponse:
        return await self._run(call(rq.service_action(rq.STOP, self.service_id)))

    async def scale(self, replicas: int) -> ServiceIDResponse:
        return await self._run(call(rq.scale(self.service_id, replicas)))

    async def delete(self) -> ServiceIDResponse:
        return await self._run(call(rq.service_action(rq.DELETE, self.service_id)))

    async def predict(self, inputs: Mapping[str, Any], *, timeout: float = 60.0) -> Outputs:
        """As :meth:`InferenceService.predict`; the KServe v2 call runs in a worker thread."""
        return await self._run(self._predict(inputs, timeout))

    async def wait_for(self, *statuses: str, timeout: float = 300.0, interval: float = 2.0) -> str:
        """Refresh until the status is one of ``statuses`` (sleeping on the event loop)."""
        return await self._run(self._wait_for(statuses, timeout, interval))


def _check_wait(statuses: tuple[object, ...], timeout: object, interval: object) -> None:
    """What ``wait_for`` can wait for: one or more of the document's ServiceStatus values (a status
    that can never match, "running" or "Ready", waited out the whole timeout), a timeout of at least
    0 and an interval above 0 seconds (0 polled without pause)."""
    allowed = ", ".join(schema.enum_values("ServiceStatus"))
    if not statuses:
        raise ValidationError(f"statuses: name at least one status to wait for: {allowed}", field="statuses")
    for status in statuses:
        validation.validate_argument("ServiceStatus", status, "statuses")
    validation.validate_seconds(timeout, "timeout")
    validation.validate_seconds(interval, "interval", above_zero=True)


def _why(deployment: Any) -> str:
    """The platform's StatusMessage, when it gives one (what serves it, why it failed)."""
    message = deployment.status_message
    return f" ({message})" if isinstance(message, str) and message else ""
