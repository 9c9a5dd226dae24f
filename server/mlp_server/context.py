"""What a handler knows about the request it serves, and the platform it runs in."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from volcengine_ml_platform.transfer.base import ObjectStore

from .settings import ServerSettings
from .store import Store
from .tokens import TokenIssuer

if TYPE_CHECKING:
    from .objects_sync import ObjectsSync
    from .serving.supervisor import ServingSupervisor


@dataclass
class Platform:
    """The long-lived parts shared by every request."""

    settings: ServerSettings
    store: Store
    objects: ObjectStore
    tokens: TokenIssuer
    clock: Callable[[], datetime]
    # How clients reach the object store: file:///... (folder store) or the S3 endpoint URL
    objects_endpoint: str
    # Builds what runs the replica processes and endpoints of deployed services (``serving``)
    make_serving: Callable[[], ServingSupervisor]
    # Buckets known to exist in an S3 store, so GetTOSUploadPath asks the store once per account
    known_buckets: set[str] = field(default_factory=set)
    # Started when perf work appears (the embedded platform); None where workers run on their own
    perf_workers: WorkStarter | None = None
    # Makes a registration's files in the folder store durable before its row commits; None for S3,
    # which acknowledges only durable writes
    objects_sync: ObjectsSync | None = None

    # Whether service actions make this process serve the services (start the supervisor). False for
    # an `mlp` command on the embedded platform, which ends within the second: it only records them.
    serves_services: bool = True

    _serving: ServingSupervisor | None = field(default=None, init=False, repr=False)
    _serving_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def serving_if_built(self) -> ServingSupervisor | None:
        """The supervisor if something built it (closing a platform must not build one)."""
        with self._serving_lock:
            return self._serving

    @property
    def serving(self) -> ServingSupervisor:
        """Replica processes and endpoints of deployed services (started by `mlp serve`, or lazily),
        built on first use: a platform that is only asked about models never loads the machinery."""
        with self._serving_lock:
            if self._serving is None:
                self._serving = self.make_serving()
            return self._serving

    def services_served(self) -> bool:
        """Whether a live supervisor (this process's, or another's) serves the services now."""
        with self._serving_lock:
            own = self._serving
        if own is not None and own.serving:
            return True
        from .serving.lease import services_served

        return services_served(self.store, self.settings.data_dir)

    def wake_perf_workers(self) -> None:
        if self.perf_workers is not None:
            self.perf_workers.ensure_started()

    def bucket_for(self, account_id: int) -> str:
        """One bucket per account and region, as on the real service."""
        return f"ml-platform-auto-created-required-{account_id}-{self.settings.region}"


@dataclass(frozen=True)
class Caller:
    """Who the request acts for (after signature or token checks)."""

    account_id: int
    user_id: int
    is_admin: bool
    access_key: str | None = None


class WorkStarter(Protocol):
    """Whatever runs perf work for this platform (a pool of worker processes)."""

    def ensure_started(self) -> None: ...
