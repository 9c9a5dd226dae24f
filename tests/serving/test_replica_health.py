"""Replicas that hang or die: the readiness probe, the upstream timeout, a restart's own files, and
what a program is told at exit (each test with a platform or supervisor of its own, real replicas)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from server_store.helpers import ACCOUNT, service_body
from server_store.helpers import register as register_version

from mlp_server.serving.proxy import Backend, ServiceProxy
from mlp_server.serving.replica import BLOCK_PREFIX, OFF_LOOP_BYTES, SHM_DIR
from mlp_server.serving.supervisor import ServingSupervisor, Timing
from mlp_server.store import Store
from mlp_testing import clean_env
from volcengine_ml_platform.models.model import Model
from volcengine_ml_platform.transfer.folder import FolderStore

from . import models as built
from .conftest import register
from .helpers import pid_alive, replica_pids, wait_until
from .test_serving import wait_running

BODY = {"inputs": [{"name": n, "datatype": "FP32", "shape": [1, 3], "data": [[1, 2, 3]]} for n in "ab"]}


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[tuple[Model, Path]]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(clean_env(tmp_path / "home"))
    try:
        yield Model(data_dir=tmp_path / "platform"), tmp_path / "platform"
    finally:
        os.environ.clear()
        os.environ.update(saved)


def two_input_service(
    tmp_path: Path, name: str, replicas: int
) -> tuple[Store, ServingSupervisor, Callable[[], dict[str, str]]]:
    """A SQLite store with service ``name`` of the two-input model (``replicas`` replicas), a supervisor
    of it not yet started (probes restart a replica after 3 failures), and its deployment as now read."""
    objects = FolderStore(tmp_path / "objects")
    objects.put_file("bucket", "m/two/model.onnx", built.two_inputs(tmp_path / "two") / "model.onnx")
    store = Store(f"sqlite:///{tmp_path / 'mlp.sqlite3'}")
    model_id, version = register_version(store, Path="tos://bucket/m/two/")
    body = service_body(model_id, version, name=name, FlavorID="ml.c1i.large", Replicas=replicas)
    service_id = store.create_service(ACCOUNT, body)["ServiceID"]
    supervisor = ServingSupervisor(store, objects, tmp_path, timing=Timing(probe_restart_after=3))

    def deployment() -> dict[str, str]:
        found: dict[str, str] = store.get_service(ACCOUNT, {"ServiceID": service_id})["ServiceDeployment"]
        return found

    return store, supervisor, deployment


def test_a_hung_replica_leaves_the_rotation_and_is_restarted(tmp_path: Path) -> None:
    """One of two replicas stops answering (SIGSTOP: alive, silent, as when deadlocked or swapped
    out): its first failed probe takes it out of the rotation, and a few more get it killed and
    replaced. Meanwhile every request is answered by the other."""
    store, supervisor, deployment = two_input_service(tmp_path, "hang-svc", replicas=2)

    hung = 0
    try:
        assert supervisor.ensure_started()
        wait_until(lambda: deployment()["Status"] == "Running", 60, "the service to run")
        infer = f"{deployment()['EndpointURL']}/v2/models/hang-svc/infer"
        pids = replica_pids("hang-svc", tmp_path)
        assert len(pids) == 2
        hung = pids[0]
        os.kill(hung, signal.SIGSTOP)
        wait_until(
            lambda: deployment()["Status"] == "Deploying", 15, "the hung replica to leave the rotation"
        )
        with httpx.Client(timeout=10) as client:
            answers = [client.post(infer, json=BODY).status_code for _ in range(6)]
        assert answers == [200] * 6
        wait_until(lambda: not pid_alive(hung), 30, "the hung replica to be killed")
        wait_until(lambda: len(replica_pids("hang-svc", tmp_path)) == 2, 30, "a new replica")
        wait_until(lambda: deployment()["Status"] == "Running", 60, "the service to run again")
        assert hung not in replica_pids("hang-svc", tmp_path)
        assert httpx.post(infer, json=BODY, timeout=10).status_code == 200
    finally:
        if hung and pid_alive(hung):
            os.kill(hung, signal.SIGCONT)
        supervisor.close()
        store.close()


def test_a_restarted_replica_gets_files_of_its_own(platform: tuple[Model, Path], tmp_path: Path) -> None:
    """Replica 0 dies while replica 1 serves: the new one takes the free index 0, not 1 (whose log
    and hello file the live replica 1 is using)."""
    model, data_dir = platform
    model_id = register(model, built.two_inputs(tmp_path / "two"), "logs")
    service = model.deploy(model_id, "1", "logs-svc", flavor="ml.c1i.large", replica=2)
    wait_running(service)

    def hello_files() -> dict[str, list[int]]:
        found: dict[str, list[int]] = {}
        for pid in replica_pids("logs-svc", data_dir):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            hello = Path(argv[argv.index(b"--hello-file") + 1].decode()).name
            found.setdefault(hello, []).append(pid)
        return found

    before = hello_files()
    assert sorted(before) == sorted(f"{service.service_id}-{n}.json" for n in (0, 1)), before
    (first,) = before[f"{service.service_id}-0.json"]
    (second,) = before[f"{service.service_id}-1.json"]
    second_log = data_dir / "serving" / "logs" / f"{service.service_id}-1.log"
    inode = second_log.stat().st_ino
    try:
        os.kill(first, signal.SIGKILL)
        wait_until(
            lambda: first not in replica_pids("logs-svc", data_dir) and len(hello_files()) == 2,
            30,
            "the replica to be restarted",
        )
        wait_running(service)
        after = hello_files()
        assert set(after) == set(before), after
        assert after[f"{service.service_id}-1.json"] == [second]  # the live one keeps its files
        assert after[f"{service.service_id}-0.json"] != [first]
        assert second_log.stat().st_ino == inode, "the live replica's log was replaced"
    finally:
        service.delete()


def test_a_replica_that_does_not_answer_in_time_gets_a_504_and_is_not_asked_again() -> None:
    """The proxy alone, before a real socket that takes requests and never answers."""
    seen: list[bytes] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        await reader.read()  # never answers; returns once the proxy gives up on the connection
        writer.close()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(30)  # type: ignore[arg-type]

    async def setup() -> tuple[asyncio.Server, ServiceProxy, int]:
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        # No probe during the test: the timeout alone is under test.
        proxy = ServiceProxy("s-silent", upstream_timeout=0.5, probe_every=3600)
        port = await proxy.start(None)
        proxy.add(Backend(server.sockets[0].getsockname()[1]))
        return server, proxy, port

    server, proxy, port = run(setup())  # type: ignore[misc]
    try:
        started = time.monotonic()
        answer = httpx.post(f"http://127.0.0.1:{port}/v2/models/m/infer", json=BODY, timeout=30)
        took = time.monotonic() - started
        assert answer.status_code == 504, answer.text
        assert (
            "did not answer within the upstream timeout of 0.5s (MLP_SERVING_TIMEOUT)"
            in answer.json()["error"]
        )
        assert took < 10, took
        assert len(seen) == 1  # sent once: a request that timed out is not sent again
        # The proxy still answers (the timed-out exchange left nothing behind).
        assert httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=30).status_code == 504
    finally:

        async def teardown() -> None:
            await proxy.close()
            server.close()

        run(teardown())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


EXIT_PROGRAM = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from volcengine_ml_platform.models.model import Model
from volcengine_ml_platform.transfer.folder import FolderStore
from serving.models import two_inputs
work = Path(sys.argv[2])
m = Model(data_dir=work / "platform")
mid = m.register(str(two_inputs(work / "two")), model_name="two", model_format="ONNX",
                 model_type="ONNX:1.23")["Result"]["ModelID"]
kept = m.deploy(mid, "1", "kept-svc", flavor="ml.c1i.large")
gone = m.deploy(mid, "1", "gone-svc", flavor="ml.c1i.large")
for service in (kept, gone):
    assert service.wait_for("Running", "Failed", timeout=60) == "Running"
gone.delete()
print("deleted one of two", flush=True)
"""


def test_the_exit_warning_counts_only_the_services_still_served(tmp_path: Path) -> None:
    tests_dir = str(Path(__file__).resolve().parents[1])
    done = subprocess.run(
        [sys.executable, "-c", EXIT_PROGRAM, tests_dir, str(tmp_path)],
        env=clean_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0 and "deleted one of two" in done.stdout, done.stderr
    assert "ServingStoppedWarning: stopped serving 1 service(s)" in done.stderr, done.stderr


def semaphore_inodes(pid: int) -> set[int]:
    """The inodes of the POSIX semaphores process ``pid`` has open (glibc maps each from /dev/shm)."""
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {int(line.split()[4]) for line in maps if f" {SHM_DIR}/sem." in line}


def named(inodes: set[int]) -> list[str]:
    """The names in /dev/shm that ``inodes`` still have."""
    found = []
    for path in SHM_DIR.glob("sem.*"):
        try:
            if path.stat().st_ino in inodes:
                found.append(path.name)
        except FileNotFoundError:
            continue
    return found


def test_a_killed_replica_leaves_no_shared_memory_block(tmp_path: Path) -> None:
    """A replica keeps the shared memory block of its last large request (and its helper's blocks are
    named for it too). The supervisor kills a hung replica with SIGKILL to its process group, which
    takes multiprocessing's resource tracker with it: what is left in /dev/shm (memory, up to 64 MB a
    block) is unlinked by the supervisor, by the replica's name, once the replica is gone. The helper
    pool's named semaphores (``sem.mp-...``, no pid in their names) are unlinked by the replica as soon
    as its helper has opened them: none is left."""
    store, supervisor, deployment = two_input_service(tmp_path, "shm-svc", replicas=1)

    def blocks(pid: int) -> list[str]:
        return sorted(p.name for p in SHM_DIR.glob(f"{BLOCK_PREFIX}{pid}-*"))

    rows = 100_000
    large = {
        "inputs": [
            {"name": n, "datatype": "FP32", "shape": [rows, 3], "data": [0.5] * (rows * 3)} for n in "ab"
        ]
    }
    hung = 0
    try:
        assert supervisor.ensure_started()
        wait_until(lambda: deployment()["Status"] == "Running", 60, "the service to run")
        infer = f"{deployment()['EndpointURL']}/v2/models/shm-svc/infer"
        (hung,) = replica_pids("shm-svc", tmp_path)
        content = json.dumps(large).encode()
        assert len(content) > OFF_LOOP_BYTES
        answer = httpx.post(infer, content=content, headers={"content-type": "application/json"}, timeout=60)
        assert answer.status_code == 200, answer.text[:300]
        assert blocks(hung) != []  # kept for the next large request
        # The helper pool's locks and semaphores (mapped by the replica): their names are unlinked
        # once the helper has opened them, so that none is left when the replica is killed.
        semaphores = semaphore_inodes(hung)
        assert semaphores, Path(f"/proc/{hung}/maps").read_text()
        assert named(semaphores) == []
        os.kill(hung, signal.SIGSTOP)
        wait_until(lambda: not pid_alive(hung), 30, "the hung replica to be killed")
        wait_until(lambda: len(replica_pids("shm-svc", tmp_path)) == 1, 30, "a new replica")
        wait_until(lambda: blocks(hung) == [], 10, "the killed replica's blocks to be unlinked")
        assert named(semaphores) == []
    finally:
        if hung and pid_alive(hung):
            os.kill(hung, signal.SIGCONT)
        supervisor.close()
        store.close()
        for name in blocks(hung) if hung else []:
            (SHM_DIR / name).unlink(missing_ok=True)
