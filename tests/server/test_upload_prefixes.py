"""GetTOSUploadPath's fresh prefixes: unique across every process serving one database, and still
judged by the storage sweep in both the old layout (``{ms}/``) and the new one (``{ms}-{8 hex}/``)."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from mlp_server.lifecycle import sweep
from mlp_testing import MlpServe, clean_env, read_default_keys

from .helpers import Api, LiveServer, MovableClock

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


def test_the_sweep_judges_old_and_new_upload_folders(
    server: LiveServer, admin: Api, server_clock: MovableClock
) -> None:
    account = admin.account_id
    fresh = admin.ok("GetTOSUploadPath", {"ServiceName": "modelrepo", "Path": ["from-sdk-repo"]})["KeyPrefix"]
    assert FRESH.fullmatch(fresh)
    orphans = ["modelrepo/from-sdk-repo/1700000000000/", "modelrepo/from-sdk-repo/1700000000001-0123abcd/"]
    kept = ["modelrepo/from-sdk-repo/1700000000002/", "modelrepo/from-sdk-repo/1700000000003-89abcdef/"]
    for prefix in [*orphans, *kept, fresh]:
        server.upload(account, prefix + "m")
    for prefix in kept:
        admin.register(f"tos://{server.platform.bucket_for(account)}/{prefix}m/")
    server_clock.advance(600)  # the fresh prefix is 10 minutes old: within the grace period

    report = sweep(server.platform, grace_seconds=3600)

    bucket = server.platform.bucket_for(account)
    assert sorted(report.prefixes) == [f"tos://{bucket}/{prefix}" for prefix in orphans]
    left = {o.key for o in server.platform.objects.list_objects(bucket, "modelrepo/")}
    for prefix in orphans:
        assert not any(key.startswith(prefix) for key in left), prefix
    for prefix in [*kept, fresh]:
        assert any(key.startswith(prefix + "m/") for key in left), prefix
