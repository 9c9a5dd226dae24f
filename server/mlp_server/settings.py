"""How a local platform is configured: where its data lives and which object store it uses."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class S3Settings:
    """An S3-compatible object store (MinIO, moto, TOS's S3 endpoint ...) instead of the folder store."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    addressing_style: Literal["virtual", "path"] = "path"


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
    # Apply pending schema migrations at start instead of refusing (`mlp serve --migrate`, embedded).
    migrate: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'mlp.sqlite3'}"

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    def token_secret(self) -> bytes:
        """The platform's token secret, created on first use (0600)."""
        path = self.data_dir / "token.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
            try:
                os.link(tmp, path)  # first writer wins when several processes start at once
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_bytes()

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
            )
        values: dict[str, object] = {
            "data_dir": data_dir,
            "database_url": env.get("MLP_DATABASE_URL") or None,
            "region": env.get("MLP_REGION") or env.get("VOLC_REGION") or "cn-beijing",
            "s3": s3,
            "bootstrap_access_key": env.get("VOLC_ACCESSKEY") or None,
            "bootstrap_secret_key": env.get("VOLC_SECRETKEY") or None,
        }
        if env.get("MLP_BODY_READ_TIMEOUT"):
            values["body_read_timeout"] = float(env["MLP_BODY_READ_TIMEOUT"])
        if env.get("MLP_BODY_TOTAL_TIMEOUT"):
            values["body_total_timeout"] = float(env["MLP_BODY_TOTAL_TIMEOUT"])
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
