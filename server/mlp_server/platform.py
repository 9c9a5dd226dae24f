"""Assembling a local platform from its settings: store, object store, tokens, first-start account."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette

from volcengine_ml_platform.transfer.base import ObjectStore
from volcengine_ml_platform.transfer.folder import FolderStore

from .app import create_app
from .context import Platform, WorkStarter
from .handlers import missing_handlers
from .objects_sync import ObjectsSync
from .operations import operations
from .private_files import write_private
from .settings import ServerSettings
from .store import Store
from .store.accounts import AK_PREFIX, random_key
from .store.replica_budget import ReplicaBudget
from .tokens import TokenIssuer

if TYPE_CHECKING:
    from .serving.supervisor import ServingSupervisor

log = logging.getLogger("mlp_server")

DEFAULT_ACCOUNT_ID = 2100000001
DEFAULT_USER_ID = 1
CREDENTIALS_FILE = "credentials.json"


def _object_store(settings: ServerSettings) -> tuple[ObjectStore, str]:
    if settings.s3 is None:
        return FolderStore(settings.objects_dir), settings.objects_dir.resolve().as_uri()
    from volcengine_ml_platform.transfer.s3 import S3Store

    s3 = settings.s3
    store = S3Store(
        endpoint_url=s3.endpoint_url,
        access_key=s3.access_key,
        secret_key=s3.secret_key,
        region=s3.region,
        addressing_style=s3.addressing_style,
    )
    return store, s3.endpoint_url


def _objects_sync(settings: ServerSettings, objects: ObjectStore) -> ObjectsSync | None:
    """The folder store's durability before a registration commits (S3 acknowledges only durable
    writes). File by file by default: one ``syncfs`` for many (``MLP_OBJECTS_SYNCFS=1``) also flushes
    whatever else is waiting on that file system, which on a shared disk took seconds."""
    if not isinstance(objects, FolderStore):
        return None
    shared = os.environ.get("MLP_OBJECTS_SYNCFS", "0").strip().lower() in ("1", "true", "yes", "on")
    return ObjectsSync(settings.objects_dir, syncfs=shared)


def _write_private_json(path: Path, data: dict[str, object]) -> None:
    write_private(path, json.dumps(data, indent=2).encode())


def _keys_in(path: Path) -> tuple[str, str] | None:
    """The administrator keys a credentials.json already holds, or None (no such file, or not one)."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    ak, sk = (data.get("ak"), data.get("sk")) if isinstance(data, dict) else (None, None)
    return (ak, sk) if isinstance(ak, str) and isinstance(sk, str) and ak and sk else None


def bootstrap(settings: ServerSettings, store: Store) -> None:
    """On first start (no account yet), create the default administrator account.

    Its keys come from VOLC_ACCESSKEY / VOLC_SECRETKEY when set, else they are generated and written to
    ``<data dir>/credentials.json`` (0600), which the embedded client also reads.
    """
    if not store.is_empty():
        return
    # The account and its key in one transaction, and a generated key's file written durably before
    # it: a start that fails anywhere (a full disk) leaves no account, and the next start bootstraps
    # again, never an account whose keys nobody was given.
    if settings.bootstrap_access_key and settings.bootstrap_secret_key:
        key = (settings.bootstrap_access_key, settings.bootstrap_secret_key)
        store.create_account(
            DEFAULT_ACCOUNT_ID, DEFAULT_USER_ID, "default", is_admin=True, exist_ok=True, key=key
        )
        log.info("created the default account %s with the keys from VOLC_ACCESSKEY", DEFAULT_ACCOUNT_ID)
        return
    path = settings.data_dir / CREDENTIALS_FILE
    if (kept := _keys_in(path)) is not None:
        # The folder's keys already (its embedded platform's administrator, when this database is
        # another one: `mlp account add --database-url`, `mlp serve` on a new team database): the new
        # administrator gets them too, instead of new ones written over them (which would lock the
        # folder's own platform out: its embedded client signs with this file).
        store.create_account(
            DEFAULT_ACCOUNT_ID, DEFAULT_USER_ID, "default", is_admin=True, exist_ok=True, key=kept
        )
        log.info("created the default account %s with the access keys in %s", DEFAULT_ACCOUNT_ID, path)
        return
    ak, sk = AK_PREFIX + random_key(28), random_key(40)
    _write_private_json(
        path, {"ak": ak, "sk": sk, "region": settings.region, "account_id": DEFAULT_ACCOUNT_ID}
    )
    store.create_account(
        DEFAULT_ACCOUNT_ID, DEFAULT_USER_ID, "default", is_admin=True, exist_ok=True, key=(ak, sk)
    )
    log.info("created the default account %s; its access keys are in %s", DEFAULT_ACCOUNT_ID, path)


def open_platform(
    settings: ServerSettings,
    clock: Callable[[], datetime] | None = None,
    perf_workers: WorkStarter | None = None,
) -> Platform:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.db_url, upgrade=settings.migrate, busy_timeout=settings.sqlite_busy_timeout)
    try:
        store.replica_budget = ReplicaBudget(settings.max_replicas_per_account, settings.max_replicas)
        missing = missing_handlers([op.action for op in operations().values()], store)
        if missing:
            raise RuntimeError(f"the document has actions this server cannot serve: {missing}")
        objects, endpoint = _object_store(settings)
        bootstrap(settings, store)
        tokens = TokenIssuer(settings.token_secret())
    except BaseException:
        # Not opened (a full disk, a damaged token.key): an embedded caller's process goes on, so the
        # store's writer thread and database files are not left behind.
        store.close()
        raise

    def make_serving() -> ServingSupervisor:
        from .serving.endpoints import Endpoints
        from .serving.files import cache_root, evict_unneeded
        from .serving.supervisor import ServingSupervisor

        # What deletes could not evict (made while this process was not running, or through another
        # machine's server) goes as serving starts here; `mlp serve`'s periodic sweep does it again.
        try:
            evict_unneeded(cache_root(settings.data_dir), store.versions_needed)
        except Exception:
            log.warning("could not evict deleted versions from the serving cache", exc_info=True)
        endpoints = Endpoints(
            settings.serving_bind_host,
            settings.serving_host,
            settings.serving_timeout,
            settings.serving_read_timeout,
        )
        return ServingSupervisor(store, objects, settings.data_dir, endpoints=endpoints)

    return Platform(
        make_serving=make_serving,
        settings=settings,
        store=store,
        objects=objects,
        tokens=tokens,
        clock=clock or (lambda: datetime.now(UTC)),
        objects_endpoint=endpoint,
        perf_workers=perf_workers,
        objects_sync=_objects_sync(settings, objects),
    )


def build_app(
    settings: ServerSettings,
    clock: Callable[[], datetime] | None = None,
    perf_workers: WorkStarter | None = None,
) -> Starlette:
    return create_app(open_platform(settings, clock, perf_workers))


def embedded_runs_work(app: Starlette) -> bool:
    """Whether the embedded platform ``app`` runs work of its own beyond answering requests: deployed
    services it serves, or perf workers it started. Those live as long as the process (as
    documented), so such a platform stays open when its last session closes."""
    from .workers.pool import PerfWorkerPool

    platform: Platform = app.state.platform
    serving = platform.serving_if_built()
    if serving is not None and serving.serving:
        return True
    pool = platform.perf_workers
    return isinstance(pool, PerfWorkerPool) and pool.started


def close_embedded_app(app: Starlette) -> None:
    """Release what the embedded platform ``app`` holds: its supervisor, perf workers, the objects'
    sync threads and descriptor, the store's writer thread and database files."""
    from .workers.pool import PerfWorkerPool

    platform: Platform = app.state.platform
    serving = platform.serving_if_built()
    if serving is not None:
        serving.close()
    pool = platform.perf_workers
    if isinstance(pool, PerfWorkerPool):
        pool.close()
    if platform.objects_sync is not None:
        platform.objects_sync.close(wait=True)
    platform.store.close()


def build_embedded_app(settings: ServerSettings, serve_services: bool = True) -> Starlette:
    """The in-process platform: its perf worker process starts on the first perf work and lives as long
    as this Python process (settings.perf_workers of them; 0 for none). With ``serve_services``, its
    first service action makes this process serve the folder's services until it exits (when no other
    process does); without, service actions are only recorded."""
    from .workers.pool import PerfWorkerPool

    pool = PerfWorkerPool(settings, settings.perf_workers, log_dir=settings.data_dir / "logs")
    platform = open_platform(settings, perf_workers=pool)
    platform.serves_services = serve_services
    return create_app(platform)
