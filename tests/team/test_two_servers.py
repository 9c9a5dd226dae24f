"""Several ``mlp serve`` processes on one PostgreSQL database agree: version numbers come from a row
lock on the model's counter in the database, not from a lock of one process."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from server.helpers import Api, version_info

from iam_s3 import IamS3
from mlp_testing import bucket_for

from .conftest import Team

REGISTRATIONS = 32


def test_concurrent_registrations_through_two_servers_get_distinct_consecutive_versions(
    team: Team, iam_s3: IamS3
) -> None:
    keys = team.default_keys()
    clients = [Api(server.url, keys) for server in team.servers]
    try:
        upload = clients[0].ok("GetTOSUploadPath", {"ServiceName": "modelrepo"})
        assert upload["Bucket"] == bucket_for(keys.account_id)
        master = iam_s3.client("s3", iam_s3.access_key, iam_s3.secret_key)
        master.put_object(Bucket=upload["Bucket"], Key=upload["KeyPrefix"] + "model.onnx", Body=b"onnx")
        path = f"tos://{upload['Bucket']}/{upload['KeyPrefix']}"
        model_id = clients[0].register(path, name="shared")["ModelID"]

        # CreateModel is idempotent by Path: each registration has files of its own.
        paths = []
        for n in range(REGISTRATIONS):
            key = f"{upload['KeyPrefix']}v{n}/model.onnx"
            master.put_object(Bucket=upload["Bucket"], Key=key, Body=b"onnx")
            paths.append(f"{path}v{n}/")
        start = Barrier(REGISTRATIONS)

        def register(n: int) -> tuple[int, int]:
            # Each thread its own keep-alive client of one of the two servers, all released at once.
            with Api(team.servers[n % 2].url, keys) as api:
                start.wait()
                info = version_info(paths[n])
                result = api.ok("CreateModel", {"ModelID": model_id, "VersionInfo": info})
                return n % 2, int(result["VersionInfo"]["ModelVersion"])

        with ThreadPoolExecutor(REGISTRATIONS) as pool:
            answers = list(pool.map(register, range(REGISTRATIONS)))
        numbers = sorted(number for _, number in answers)
        assert numbers == list(range(2, 2 + REGISTRATIONS))  # distinct, consecutive, none lost
        assert {server for server, _ in answers} == {0, 1}
        for api in clients:  # both servers see the same versions and the same next number
            listed = api.ok("ListModelVersions", {"ModelID": model_id, "Limit": 100})
            assert sorted(v["ModelVersion"] for v in listed["List"]) == list(range(1, 2 + REGISTRATIONS))
            next_number = api.ok("GetModelNextVersion", {"ModelID": model_id})["ModelVersion"]
            assert next_number == 2 + REGISTRATIONS
    finally:
        for api in clients:
            api.close()
