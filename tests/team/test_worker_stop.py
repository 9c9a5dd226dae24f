"""A perf worker asked to stop (SIGTERM) while its database fails stops within seconds, whatever the
database does (stopped, or reachable and never answering), and leaves its task to its lease: the next
worker runs it once the lease has lapsed. These tests stop or cut off their own cluster, never the
session's shared one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server.helpers import Api

from iam_s3 import IamS3
from mlp_testing import mlp_script
from pg_testing import PgCluster
from tcp_proxy import TcpProxy

from .conftest import Team, start_team
from .test_database_outages import EXAMPLE, register_iris, stop_all, upload_iris

# What the tests allow a stop to take; before the fix it took the rest of the task's lease (here up to
# 30 s) with the database stopped, and for ever with a database that never answers.
STOP_BOUND = 10.0


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[PgCluster]:
    with PgCluster() as cluster:
        yield cluster


class Worker:
    """``mlp worker`` on the team's database (``url``: directly, or through a proxy), default lease."""

    def __init__(self, team: Team, url: str, log: Path, measure: str = "30") -> None:
        env = dict(team.env, MLP_PERF_MEASURE_SECONDS=measure, PYTHONUNBUFFERED="1")
        argv = [mlp_script(), "worker", "--data-dir", str(team.data_dir), "--database-url", url]
        with log.open("ab") as out:
            self.proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.log = log

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, words: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while words not in self.text():
            assert self.proc.poll() is None, self.text()[-2000:]
            assert time.monotonic() < deadline, f"no {words!r} in the worker's log:\n{self.text()[-2000:]}"
            time.sleep(0.1)

    def runners(self) -> list[int]:
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def stop_time(self, wait: float = 40.0) -> float:
        """SIGTERM; the seconds until the process has ended (``wait`` at most, then it is killed)."""
        asked = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return time.monotonic() - asked

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def perf_job(team: Team, api: Api, iam_s3: IamS3) -> str:
    model_id = register_iris(api, upload_iris(team, api, iam_s3), "iris")
    config = json.loads((EXAMPLE / "perf_tensor_config.json").read_text())
    body = {
        "ModelVersionID": f"{model_id}-1",
        "TensorConfig": config,
        "JobType": "PERF_ONLY",
        "JobParamsList": [{"FlavorIDList": ["ml.c1i.large"]}],
    }
    return str(api.ok("CreatePerfJob", body)["JobID"])


def the_task(api: Api, job_id: str) -> dict[str, Any]:
    r = api.call("ListPerfTasks", {"JobID": job_id})
    return dict(r.json()["Result"]["List"][0]) if r.status_code == 200 else {}


def wait_task(api: Api, job_id: str, statuses: set[str], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (task := the_task(api, job_id)).get("TaskStatus") not in statuses:
        assert time.monotonic() < deadline, task
        time.sleep(0.5)
    return task


def test_a_worker_stopped_while_postgres_is_down_stops_at_once_and_its_task_runs_after_the_lease(
    tmp_path: Path, own_cluster: PgCluster, iam_s3: IamS3
) -> None:
    url = own_cluster.database("stop_down")
    team = start_team(tmp_path, url, iam_s3, processes=1)
    workers: list[Worker] = []
    try:
        api = Api(team.url, team.default_keys())
        job_id = perf_job(team, api, iam_s3)
        first = Worker(team, url, tmp_path / "worker-0.log")
        workers.append(first)
        first.wait_for("(attempt 1)")  # claimed with the default 30 s lease; its runner measures
        with own_cluster.down():
            # The runner dies (an OOM kill, say) while the database is stopped: the worker would keep
            # the crash's outcome, asking the database again while the lease lasts.
            deadline = time.monotonic() + 10
            while not first.runners():
                assert time.monotonic() < deadline, first.text()[-2000:]
                time.sleep(0.05)
            for pid in first.runners():
                os.kill(pid, signal.SIGKILL)
            first.wait_for("cannot read the task", timeout=10)
            took = first.stop_time()
            assert first.proc.returncode == 0, first.text()[-2000:]
        assert took < STOP_BOUND, (took, first.text()[-2000:])
        # The loop itself stopped (not the last-resort exit after STOP_GRACE_SECONDS).
        assert "the worker stopped while it could not read the task" in first.text(), first.text()[-2000:]
        assert "ending now" not in first.text()
        print(f"stopped {took:.2f}s after SIGTERM, PostgreSQL down")
        # Nothing lost: the task still reads as the stopped worker's (its lease holds), then the next
        # worker runs it from the start once that lease has lapsed.
        assert the_task(api, job_id)["TaskStatus"] in ("Running", "Queued")
        second = Worker(team, url, tmp_path / "worker-1.log", measure="0.2")
        workers.append(second)
        task = wait_task(api, job_id, {"Success", "Failed", "Cancelled"}, timeout=90)
        assert task["TaskStatus"] == "Success", (task.get("Message"), second.text()[-2000:])
        assert task["Result"]["Attempt"] == 2, task["Result"]
    finally:
        for worker in workers:
            worker.kill()
        stop_all(team)


def test_a_worker_whose_database_never_answers_stops_within_seconds(
    tmp_path: Path, own_cluster: PgCluster, iam_s3: IamS3
) -> None:
    """The worker's connections hang (a partition): every store call waits for ever; a stop still
    ends the worker within the bound, its runner with it."""
    url = own_cluster.database("stop_hung")
    team = start_team(tmp_path, url, iam_s3, processes=1)
    proxy = TcpProxy("127.0.0.1", own_cluster.port)
    worker = None
    try:
        api = Api(team.url, team.default_keys())
        job_id = perf_job(team, api, iam_s3)
        worker = Worker(team, url.replace(f":{own_cluster.port}/", f":{proxy.port}/"), tmp_path / "w.log")
        worker.wait_for("(attempt 1)")
        deadline = time.monotonic() + 10
        while not (runners := worker.runners()):
            assert time.monotonic() < deadline, worker.text()[-2000:]
            time.sleep(0.05)
        proxy.freeze()
        time.sleep(1)  # the worker's next look at the task (every 0.25 s) now hangs
        took = worker.stop_time()
        assert took < STOP_BOUND, (took, worker.text()[-2000:])
        print(f"stopped {took:.2f}s after SIGTERM, PostgreSQL not answering")
        assert "the database does not answer: ending now" in worker.text(), worker.text()[-2000:]
        assert not any(Path(f"/proc/{pid}").exists() for pid in runners), "its runner still runs"
        assert the_task(api, job_id)["TaskStatus"] in ("Running", "Queued")  # left to its lease
    finally:
        if worker is not None:
            worker.kill()
        proxy.close()
        stop_all(team)
