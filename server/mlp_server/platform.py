"""Assembling a local platform from its settings: store, object store, tokens, first-start account."""

from __future__ import annotations

import json
import logging
import os
import secrets
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
from .settings import ServerSettings
from .store import Store
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
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
    os.replace(tmp, path)


def bootstrap(settings: ServerSettings, store: Store) -> None:
    """On first start (no account yet), create the default administrator account.

    Its keys come from VOLC_ACCESSKEY / VOLC_SECRETKEY when set, else they are generated and written to
    ``<data dir>/credentials.json`` (0600), which the embedded client also reads.
    """
    if not store.is_empty():
        return
    store.create_account(DEFAULT_ACCOUNT_ID, DEFAULT_USER_ID, "default", is_admin=True, exist_ok=True)
    if settings.bootstrap_access_key and settings.bootstrap_secret_key:
        ak, sk = settings.bootstrap_access_key, settings.bootstrap_secret_key
        store.add_access_key_explicit(ak, sk, DEFAULT_ACCOUNT_ID, DEFAULT_USER_ID, is_admin=True)
        log.info("created the default account %s with the keys from VOLC_ACCESSKEY", DEFAULT_ACCOUNT_ID)
        return
    ak, sk = store.add_access_key(DEFAULT_ACCOUNT_ID, DEFAULT_USER_ID, is_admin=True)
    path = settings.data_dir / CREDENTIALS_FILE
    _write_private_json(
        path, {"ak": ak, "sk": sk, "region": settings.region, "account_id": DEFAULT_ACCOUNT_ID}
    )
    log.info("created the default account %s; its access keys are in %s", DEFAULT_ACCOUNT_ID, path)


def open_platform(
    settings: ServerSettings,
    clock: Callable[[], datetime] | None = None,
    perf_workers: WorkStarter | None = None,
) -> Platform:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.db_url, upgrade=settings.migrate, busy_timeout=settings.sqlite_busy_timeout)
    store.replica_budget = ReplicaBudget(settings.max_replicas_per_account, settings.max_replicas)
    missing = missing_handlers([op.action for op in operations().values()], store)
    if missing:
        raise RuntimeError(f"the document has actions this server cannot serve: {missing}")
    objects, endpoint = _object_store(settings)
    bootstrap(settings, store)

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
        endpoints = Endpoints(settings.serving_bind_host, settings.serving_host, settings.serving_timeout)
        return ServingSupervisor(store, objects, settings.data_dir, endpoints=endpoints)

    return Platform(
        make_serving=make_serving,
        settings=settings,
        store=store,
        objects=objects,
        tokens=TokenIssuer(settings.token_secret()),
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
