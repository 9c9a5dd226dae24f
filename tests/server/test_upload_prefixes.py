"""GetTOSUploadPath's fresh prefixes: unique across every process serving one database, and still
judged by the storage sweep in both the old layout (``{ms}/``) and the new one (``{ms}-{8 hex}/``)."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from pathlib import Path

from mlp_server.lifecycle import sweep
from mlp_testing import MlpServe, clean_env, read_default_keys

from .helpers import Api, LiveServer

FRESH = re.compile(r"modelrepo/from-sdk-repo/\d{13}-[0-9a-f]{8}/")
CALLS = 250


def test_two_servers_on_one_database_never_hand_out_the_same_upload_prefix(tmp_path: Path) -> None:
    """Each process's stamp is unique to it only; two uploads given one prefix would mix their files,
    and CreateModel (idempotent by Path) would give the second job the first job's model."""
    data = tmp_path / "platform"
    env = clean_env(tmp_path)
    first = MlpServe(data, env=env, log_path=tmp_path / "first.log").start()
    try:
        second = MlpServe(data, env=env, log_path=tmp_path / "second.log").start()
    except BaseException:
        first.stop()
        raise
    keys = read_default_keys(data)
    got: dict[str, list[str]] = {first.url: [], second.url: []}
    start = threading.Barrier(2)

    def ask(url: str) -> None:
        with Api(url, keys) as api:
            start.wait()
            for _ in range(CALLS):
                result = api.ok("GetTOSUploadPath", {"ServiceName": "modelrepo", "Path": ["from-sdk-repo"]})
                got[url].append(result["KeyPrefix"])

    try:
        threads = [threading.Thread(target=ask, args=(url,)) for url in got]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        first.stop()
        second.stop()
    handed = [*got[first.url], *got[second.url]]
    assert len(handed) == 2 * CALLS
    assert all(FRESH.fullmatch(prefix) for prefix in handed), handed[:3]
    assert len(set(handed)) == len(handed), "a prefix was handed out twice"


def test_the_sweep_judges_old_and_new_upload_folders(server: LiveServer, admin: Api) -> None:
    """A prefix goes when the stamp in its name and its newest object are both older than the grace.
    The sweep measures at ``now``, 2 hours on: every object written here is 2 hours old then."""
    account = admin.account_id
    body = {"ServiceName": "modelrepo", "Path": ["from-sdk-repo"]}
    handed = admin.ok("GetTOSUploadPath", body)["KeyPrefix"]
    assert FRESH.fullmatch(handed)
    later = server.platform.clock() + timedelta(hours=2)
    orphans = [
        "modelrepo/from-sdk-repo/1700000000000/",
        "modelrepo/from-sdk-repo/1700000000001-0123abcd/",
        handed,
    ]
    kept = ["modelrepo/from-sdk-repo/1700000000002/", "modelrepo/from-sdk-repo/1700000000003-89abcdef/"]
    # Handed out 10 minutes before ``later`` by its name: within the grace period then.
    young = f"modelrepo/from-sdk-repo/{int((later - timedelta(minutes=10)).timestamp() * 1000)}-0badcafe/"
    for prefix in [*orphans, *kept, young]:
        server.upload(account, prefix + "m")
    for prefix in kept:
        admin.register(f"tos://{server.platform.bucket_for(account)}/{prefix}m/")

    report = sweep(server.platform, grace_seconds=3600, now=later)

    bucket = server.platform.bucket_for(account)
    # Team mode's S3 store lives for the session: other tests' unregistered uploads are 2 hours old too.
    judged = {f"tos://{bucket}/{prefix}" for prefix in [*orphans, *kept, young]}
    assert judged.intersection(report.prefixes) == {f"tos://{bucket}/{prefix}" for prefix in orphans}
    left = {o.key for o in server.platform.objects.list_objects(bucket, "modelrepo/")}
    for prefix in orphans:
        assert not any(key.startswith(prefix) for key in left), prefix
    for prefix in [*kept, young]:
        assert any(key.startswith(prefix + "m/") for key in left), prefix


def test_an_old_named_upload_folder_with_a_recent_object_is_kept(server: LiveServer, admin: Api) -> None:
    """The name's stamp says when GetTOSUploadPath handed the folder out, not when its files were
    written: an upload that took longer than the grace (or a folder of an old layout written now)
    is not removed while its newest object is younger than the grace."""
    account = admin.account_id
    bucket = server.platform.bucket_for(account)
    prefix = "modelrepo/from-sdk-repo/1700000000004-0123abcd/"
    server.upload(account, prefix + "m", {"a.bin": b"a"})

    unit = f"tos://{bucket}/{prefix}"  # team mode's S3 store lives for the session: judge this one only
    assert unit not in sweep(server.platform, grace_seconds=3600).prefixes
    assert [o.key for o in server.platform.objects.list_objects(bucket, prefix)] == [prefix + "m/a.bin"]

    later = server.platform.clock() + timedelta(hours=2)
    assert unit in sweep(server.platform, grace_seconds=3600, now=later).prefixes
    assert list(server.platform.objects.list_objects(bucket, prefix)) == []
