"""The S3 store hangs (stopped, a network partition) while a version is deleted. The delete is committed
with its pending-reclaim record first; the answer must not wait for the store's timeouts and retries
(past the client's 30 s read timeout, a committed delete would read as an unknown outcome), and the
reclaim must still finish once the store answers again."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from server.helpers import Api

from iam_s3 import IamS3
from mlp_server.lifecycle import RECLAIM_WAIT_SECONDS
from pg_testing import PgCluster

from .conftest import start_team


def test_a_delete_answers_while_the_store_hangs_and_its_reclaim_finishes_after(
    tmp_path: Path, pg_cluster: PgCluster, iam_s3: IamS3
) -> None:
    team = start_team(tmp_path, pg_cluster.database("storehang"), iam_s3, processes=1)
    try:
        api = Api(team.url, team.default_keys())
        upload = api.ok("GetTOSUploadPath", {"ServiceName": "modelrepo"})
        master = iam_s3.client("s3", iam_s3.access_key, iam_s3.secret_key)
        bucket, prefix = upload["Bucket"], upload["KeyPrefix"]
        master.put_object(Bucket=bucket, Key=prefix + "model.onnx", Body=b"onnx")
        model_id = api.register(f"tos://{bucket}/{prefix}", name="storehang")["ModelID"]
        assert iam_s3.proc is not None
        os.kill(iam_s3.proc.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            answer = api.call("DeleteModelVersion", {"ModelVersionID": f"{model_id}-1"})
            took = time.monotonic() - started
        finally:
            os.kill(iam_s3.proc.pid, signal.SIGCONT)
        assert answer.status_code == 200, answer.text
        assert took < RECLAIM_WAIT_SECONDS + 10, took  # not the store's 60 s x 5 attempts
        assert api.call("GetModelVersion", {"ModelVersionID": f"{model_id}-1"}).status_code == 404
        # The reclaim went on in the background: once the store answers, the objects go.
        deadline = time.monotonic() + 90
        while master.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0):
            assert time.monotonic() < deadline, "the reclaim never finished after the store came back"
            time.sleep(0.5)
    finally:
        for server in team.servers:
            server.stop()
