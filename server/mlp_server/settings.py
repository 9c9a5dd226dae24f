"""How a local platform is configured: where its data lives and which object store it uses."""

from __future__ import annotations

import math
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

DEFAULT_STS_ROLE_ARN = "arn:aws:iam::000000000000:role/mlp-object-access"
_TRUE = ("1", "true", "yes", "on")
# Replica processes of live services one machine runs by default: per account, and in all.
DEFAULT_MAX_REPLICAS_PER_ACCOUNT = 16
DEFAULT_MAX_REPLICAS = 32


TOKEN_SECRET_BYTES = 32


class DataFolderError(Exception):
    """A file of the data folder is unusable; the message names it and what to do."""


@dataclass(frozen=True)
class S3Settings:
    """An S3-compatible object store (MinIO, moto, TOS's S3 endpoint ...) instead of the folder store."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    addressing_style: Literal["virtual", "path"] = "path"
    # GetSTSToken asks this STS (AssumeRole) for credentials scoped to one account's bucket. MinIO and
    # moto answer STS on the S3 endpoint itself, AWS at sts.<region>.amazonaws.com.
    sts_endpoint_url: str | None = None
    # The role assumed: AWS needs a real one that may reach every account's bucket (the session policy
    # narrows it to one); MinIO ignores it (the store keys' own policy is the ceiling).
    sts_role_arn: str = DEFAULT_STS_ROLE_ARN
    # Operator's opt-in for a store without STS: GetSTSToken then hands out the store's own keys, which
    # reach every account's bucket. Unsafe for more than one tenant; off unless set.
    unsafe_share_store_keys: bool = False

    @property
    def sts_endpoint(self) -> str:
        return self.sts_endpoint_url or self.endpoint_url


@dataclass(frozen=True)
class ServerSettings:
    data_dir: Path
    database_url: str | None = None
    region: str = "cn-beijing"
    s3: S3Settings | None = None
    # Keys for the default account created on first start (else generated and written to the data folder)
    bootstrap_access_key: str | None = None
    bootstrap_secret_key: str | None = None
    max_clock_skew_seconds: int = 15 * 60
    # Request bodies: the most a request may send, and how long the platform waits for it (seconds)
    max_body_bytes: int = 8 * 1024 * 1024
    body_read_timeout: float = 10.0
    body_total_timeout: float = 120.0
    # Perf work: worker processes (mlp serve's pool; the embedded platform's on-demand worker), how
    # long each batch size is measured, and how long a claimed task is held between lease renewals.
    perf_workers: int = 1
    perf_measure_seconds: float = 2.0
    perf_lease_seconds: float = 30.0
    # How long a GPU task waits for a worker with a GPU before a worker without one fails it
    # (MLP_PERF_GPU_WAIT_SECONDS). None: at once on SQLite (one machine), 600 s on PostgreSQL (a team).
    perf_gpu_wait_seconds: float | None = None
    # Apply pending schema migrations at start instead of refusing (`mlp serve --migrate`, embedded).
    migrate: bool = False
    # How long a running server trusts an access-key record it read (MLP_KEY_CACHE_SECONDS): a key
    # revoked by another process (`mlp account revoke-key`, another `mlp serve` of a team) stops
    # working within this; changes made in the same process take effect at once. 0: read every time.
    key_cache_seconds: float = 2.0
    # Deployed services: the address their endpoints listen on (`mlp serve --host`), the host their
    # EndpointURL names (MLP_SERVING_HOST; default: that address, or this machine's hostname when
    # it is a wildcard), how long a replica has to answer one request (MLP_SERVING_TIMEOUT), and how
    # long an endpoint waits for a client: idle, within a request's head, between bytes of its body
    # (MLP_SERVING_READ_TIMEOUT; see mlp_server.serving.proxy).
    serving_bind_host: str = "127.0.0.1"
    serving_host: str | None = None
    serving_timeout: float = 60.0
    serving_read_timeout: float = 10.0
    # The most replicas live services may hold: of one account (MLP_MAX_REPLICAS_PER_ACCOUNT) and of
    # all accounts (MLP_MAX_REPLICAS). Each is a local onnxruntime process on the serving machine.
    max_replicas_per_account: int = DEFAULT_MAX_REPLICAS_PER_ACCOUNT
    max_replicas: int = DEFAULT_MAX_REPLICAS
    # SQLite: how long a write waits for another process's lock before it is answered 503
    # ServiceUnavailableTemp (MLP_SQLITE_BUSY_TIMEOUT, seconds): well below the client's 30 s read
    # timeout, so the client gets the documented, retried error and not a timeout.
    sqlite_busy_timeout: float = 10.0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'mlp.sqlite3'}"

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    def token_secret(self) -> bytes:
        """The platform's token secret, created on first use (0600, durable before it is used)."""
        from .private_files import write_private

        path = self.data_dir / "token.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            write_private(path, secrets.token_bytes(32), keep_existing=True)
        secret = path.read_bytes()
        if len(secret) < TOKEN_SECRET_BYTES:
            raise DataFolderError(
                f"{path} holds {len(secret)} bytes, not a token secret (at least {TOKEN_SECRET_BYTES}): a "
                "crash while an earlier release first wrote it can leave it empty. Remove it and start "
                "again; the secure and STS tokens it signed are then refused, and clients ask for new ones"
            )
        return secret

    def to_env(self) -> dict[str, str]:
        """The ``MLP_*`` variables that make :meth:`from_env` in a child process (a perf worker) give
        these settings again, whatever the parent's environment says by then."""
        env = {
            "MLP_REGION": self.region,
            "MLP_PERF_WORKERS": str(self.perf_workers),
            "MLP_PERF_MEASURE_SECONDS": repr(self.perf_measure_seconds),
            "MLP_PERF_LEASE_SECONDS": repr(self.perf_lease_seconds),
            "MLP_PERF_GPU_WAIT_SECONDS": ""
            if self.perf_gpu_wait_seconds is None
            else repr(self.perf_gpu_wait_seconds),
            "MLP_DATABASE_URL": self.database_url or "",
            "MLP_S3_ENDPOINT": "",
            "MLP_SQLITE_BUSY_TIMEOUT": repr(self.sqlite_busy_timeout),
        }
        if self.s3 is not None:
            env.update(
                MLP_S3_ENDPOINT=self.s3.endpoint_url,
                MLP_S3_ACCESS_KEY=self.s3.access_key,
                MLP_S3_SECRET_KEY=self.s3.secret_key,
                MLP_S3_REGION=self.s3.region,
                MLP_S3_ADDRESSING=self.s3.addressing_style,
            )
        return env

    @classmethod
    def from_env(cls, data_dir: Path, **overrides: object) -> ServerSettings:
        """Settings from ``MLP_*`` env vars (database, S3 store) and ``VOLC_ACCESSKEY``/``VOLC_SECRETKEY``."""
        env = os.environ
        s3 = None
        if env.get("MLP_S3_ENDPOINT"):
            s3 = S3Settings(
                endpoint_url=env["MLP_S3_ENDPOINT"],
                access_key=env.get("MLP_S3_ACCESS_KEY", ""),
                secret_key=env.get("MLP_S3_SECRET_KEY", ""),
                region=env.get("MLP_S3_REGION", "us-east-1"),
                addressing_style="virtual" if env.get("MLP_S3_ADDRESSING") == "virtual" else "path",
                sts_endpoint_url=env.get("MLP_S3_STS_ENDPOINT") or None,
                sts_role_arn=env.get("MLP_S3_STS_ROLE_ARN") or DEFAULT_STS_ROLE_ARN,
                unsafe_share_store_keys=env.get("MLP_S3_UNSAFE_SHARE_STORE_KEYS", "").lower() in _TRUE,
            )
        values: dict[str, object] = {
            "data_dir": data_dir,
            "database_url": env.get("MLP_DATABASE_URL") or None,
            "region": env.get("MLP_REGION") or env.get("VOLC_REGION") or "cn-beijing",
            "s3": s3,
            "bootstrap_access_key": env.get("VOLC_ACCESSKEY") or None,
            "bootstrap_secret_key": env.get("VOLC_SECRETKEY") or None,
            "serving_host": env.get("MLP_SERVING_HOST") or None,
        }
        if env.get("MLP_BODY_READ_TIMEOUT"):
            values["body_read_timeout"] = float(env["MLP_BODY_READ_TIMEOUT"])
        if env.get("MLP_BODY_TOTAL_TIMEOUT"):
            values["body_total_timeout"] = float(env["MLP_BODY_TOTAL_TIMEOUT"])
        if env.get("MLP_SQLITE_BUSY_TIMEOUT"):
            values["sqlite_busy_timeout"] = _busy_timeout(env["MLP_SQLITE_BUSY_TIMEOUT"])
        for name, key, kind in (
            ("perf_workers", "MLP_PERF_WORKERS", int),
            ("perf_measure_seconds", "MLP_PERF_MEASURE_SECONDS", float),
            ("perf_lease_seconds", "MLP_PERF_LEASE_SECONDS", float),
            ("perf_gpu_wait_seconds", "MLP_PERF_GPU_WAIT_SECONDS", float),
            ("key_cache_seconds", "MLP_KEY_CACHE_SECONDS", float),
            ("serving_timeout", "MLP_SERVING_TIMEOUT", float),
            ("serving_read_timeout", "MLP_SERVING_READ_TIMEOUT", float),
        ):
            if env.get(key):
                try:
                    values[name] = kind(env[key])
                except ValueError:
                    raise ValueError(f"{key}={env[key]!r} is not a number") from None
        for name, key in (
            ("serving_timeout", "MLP_SERVING_TIMEOUT"),
            ("serving_read_timeout", "MLP_SERVING_READ_TIMEOUT"),
        ):
            timeout = values.get(name)
            if isinstance(timeout, float) and not (0 < timeout < math.inf):
                raise ValueError(f"{key}={env[key]!r} must be a number of seconds above 0")
        for name, key in (
            ("max_replicas_per_account", "MLP_MAX_REPLICAS_PER_ACCOUNT"),
            ("max_replicas", "MLP_MAX_REPLICAS"),
        ):
            if env.get(key):
                values[name] = _replica_budget(key, env[key])
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def _busy_timeout(text: str) -> float:
    """``MLP_SQLITE_BUSY_TIMEOUT``: seconds above 0 (a day at most)."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 86400:
        raise ValueError(f"MLP_SQLITE_BUSY_TIMEOUT={text!r} is not a number of seconds above 0 (default 10)")
    return seconds


def _replica_budget(key: str, text: str) -> int:
    """``MLP_MAX_REPLICAS``/``MLP_MAX_REPLICAS_PER_ACCOUNT``: a whole number >= 0 (0: no replicas)."""
    try:
        budget = int(text)
    except ValueError:
        budget = -1
    if budget < 0:
        raise ValueError(f"{key}={text!r} is not a whole number of replicas >= 0")
    return budget
