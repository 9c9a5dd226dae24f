"""What several test suites need of a local platform: its keys, a free port, a clean environment and
``mlp serve`` in a subprocess. (Importable as ``mlp_testing``: pytest puts ``tests/`` on sys.path.)"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import httpx

from mlp_server.platform import CREDENTIALS_FILE

REGION = "cn-beijing"
STARTUP_TIMEOUT = 30.0
_PLATFORM_ENV = ("VOLC_", "VOLCENGINE_", "MLP_")


@dataclass(frozen=True)
class Keys:
    ak: str
    sk: str
    account_id: int
    user_id: int = 1


def read_default_keys(data_dir: Path) -> Keys:
    """The keys a platform generated for its default account on first start."""
    creds = json.loads((data_dir / CREDENTIALS_FILE).read_text(encoding="utf-8"))
    return Keys(creds["ak"], creds["sk"], int(creds["account_id"]))


def bucket_for(account_id: int) -> str:
    return f"ml-platform-auto-created-required-{account_id}-{REGION}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mlp_script() -> str:
    """The ``mlp`` console script of the virtualenv running the tests, as a user runs it."""
    found = shutil.which("mlp", path=str(Path(sys.executable).parent))
    assert found, f"no mlp console script next to {sys.executable}"
    return found


def clean_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """This process's environment without any Volcengine or platform setting; with ``home``, HOME and
    the config file point into that tmp folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PLATFORM_ENV) and k != "ML_PLATFORM_HOST"}
    if home is not None:
        env["HOME"] = str(home)
        env["VOLC_CONFIG_FILE"] = str(home / "no-such-config")
    env.update(extra)
    return env


class MlpServe:
    """``mlp serve --host H --port P --data-dir D`` in a subprocess (H: 127.0.0.1 unless given); a
    restart is a new one."""

    ATTEMPTS = 3  # a port found free by binding may be taken by someone else before the server binds it

    def __init__(
        self,
        data_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        perf_workers: int = 0,
        extra_args: tuple[str, ...] = (),
        host: str = "127.0.0.1",
    ) -> None:
        # No perf worker by default: most suites drive perf tasks by hand (UpdatePerfTask) and a worker
        # would race them; the suites of real perf work ask for one.
        self.perf_workers = perf_workers
        self.data_dir = data_dir
        self.extra_args = extra_args
        self.host = host  # a loopback address: 127.0.0.1, or another of 127/8
        self.env = dict(env) if env is not None else clean_env()
        self.port = 0
        self.url = ""
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def _log(self) -> Path:
        return self.log_path or self.data_dir.parent / f"mlp-serve-{self.port}.log"

    def log(self) -> str:
        path = self._log()
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def start(self) -> Self:
        for _ in range(self.ATTEMPTS):
            self.port = free_port()
            self.url = f"http://{self.host}:{self.port}"
            if self._try_start():
                return self
        raise RuntimeError(f"mlp serve did not start:\n{self.log()}")

    def _try_start(self) -> bool:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [mlp_script(), "serve", "--host", self.host, "--port", str(self.port),
                "--data-dir", str(self.data_dir), "--log-level", "warning",
                "--perf-workers", str(self.perf_workers), *self.extra_args]  # fmt: skip
        with self._log().open("wb") as log:
            proc = self.proc = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                # GET / is answered 405 with the envelope: the server is up, and it is ours.
                response = httpx.get(self.url + "/", timeout=1.0, trust_env=False)
                if response.status_code == 405 and "ResponseMetadata" in response.json():
                    return True
            except (httpx.TransportError, ValueError):
                pass
            time.sleep(0.05)
        self.stop()
        return False

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_process(self.proc, 10)
        self.proc = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def default_keys(self) -> Keys:
        return read_default_keys(self.data_dir)


def stop_process(proc: subprocess.Popen[Any], wait: float) -> None:
    """SIGTERM ``proc`` and wait up to ``wait`` seconds for it, then SIGKILL it (and reap it)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def small_disk(mount: Path, size: str = "4m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on the new folder ``mount`` (root only: the caller skips otherwise),
    unmounted afterwards: a disk that tests can fill."""
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill_disk(mount: Path, leave_pages: int) -> Path:
    """Fill the file system of ``mount`` but ``leave_pages`` pages of 4 KiB, with the file it returns."""
    filler = mount / "filler"
    filler.unlink(missing_ok=True)
    st = os.statvfs(mount)
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave_pages * 4096))
    return filler


CAN_MOUNT = hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount") is not None
"""Whether the tests may mount a tmpfs (``small_disk``): as root only."""
