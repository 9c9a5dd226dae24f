"""The object :meth:`Model.deploy` returns: one online inference service, refreshable and controllable."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ml_platform_client.api.services import (
    delete_service,
    get_service,
    start_service,
    stop_service,
    update_service,
)
from ml_platform_client.models import ServiceIDRequest, UpdateServiceRequest

from ..errors import MLPlatformError
from ..session import Session

if TYPE_CHECKING:
    import numpy.typing as npt


class InferenceService:
    """A deployed service. ``refresh()`` re-reads it; ``start``/``stop``/``scale``/``delete`` change it."""

    def __init__(self, session: Session, service_id: str, service_name: str | None = None) -> None:
        self._session = session
        self.service_id = service_id
        self.service_name = service_name
        self.last: Any = None  # the last GetService response (dict-style and typed access)

    def __repr__(self) -> str:
        return f"InferenceService(service_id={self.service_id!r}, service_name={self.service_name!r})"

    def _body(self) -> dict[str, Any]:
        return {"ServiceID": self.service_id}

    def refresh(self) -> Any:
        """GetService; returns the response and keeps it as ``last``."""
        self.last = self._session.call(get_service, ServiceIDRequest, self._body())
        self.service_name = self.last.result.service_name
        return self.last

    def _deployment(self) -> Any:
        return (self.last or self.refresh()).result.service_deployment

    @property
    def status(self) -> str:
        """The status as of the last refresh (refreshing once if never read)."""
        return str(self._deployment().status)

    @property
    def endpoint_url(self) -> str | None:
        url = self._deployment().endpoint_url
        return url if isinstance(url, str) and url else None

    @property
    def replicas(self) -> int:
        return int(self._deployment().replicas)

    def start(self) -> Any:
        return self._session.call(start_service, ServiceIDRequest, self._body())

    def stop(self) -> Any:
        return self._session.call(stop_service, ServiceIDRequest, self._body())

    def scale(self, replicas: int) -> Any:
        body = {**self._body(), "Replicas": replicas, "ChangeType": "ScalingService"}
        return self._session.call(update_service, UpdateServiceRequest, body)

    def delete(self) -> Any:
        return self._session.call(delete_service, ServiceIDRequest, self._body())

    def predict(self, inputs: Mapping[str, Any], *, timeout: float = 60.0) -> dict[str, npt.NDArray[Any]]:
        """Run the model: ``{input name: numpy array or nested list}`` -> ``{output name: array}``.

        Calls the service's endpoint with the KServe v2 / Open Inference Protocol (JSON tensors). Lists
        take the datatype the model declares; arrays keep their own (a mismatch is the service's 400,
        raised as ``InvalidParameterError`` naming the input).
        """
        deployment = self.refresh().result.service_deployment
        url = deployment.endpoint_url
        if not isinstance(url, str) or not url:
            raise MLPlatformError(f"service {self.service_id} has no endpoint: it is {deployment.status}")
        from .inference import V2Client  # numpy: only for predictions, not at import (start-up time)

        client = V2Client(url, str(self.service_name), timeout=timeout)
        try:
            return client.infer(inputs)
        finally:
            client.close()

    def wait_for(self, *statuses: str, timeout: float = 300.0, interval: float = 2.0) -> str:
        """Refresh until the status is one of ``statuses``; raise after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            status = str(self.refresh().result.service_deployment.status)
            if status in statuses:
                return status
            if time.monotonic() >= deadline:
                raise MLPlatformError(
                    f"service {self.service_id} is {status}, not {'/'.join(statuses)}, after {timeout:.0f}s"
                )
            time.sleep(interval)
