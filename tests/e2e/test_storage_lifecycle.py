"""Storage that is reclaimed, and a registry that stays true through crashes.

Each test gets a platform of its own (``mlp serve`` on a fresh data folder; for the S3 store, a moto
server of its own), because ``mlp gc --grace 0`` judges every object of the account's bucket:
deletes give back the bytes and objects, the sweep removes what crashed clients left, and killing the
server with SIGKILL while 8 client processes register leaves every listed version complete."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlp_server.platform import DEFAULT_ACCOUNT_ID
from mlp_testing import Keys, MlpServe, bucket_for, clean_env, free_port, mlp_script, read_default_keys
from volcengine_ml_platform.models.model import Model
from volcengine_ml_platform.transfer.base import MiB
from volcengine_ml_platform.transfer.manifest import SUFFIX, manifest_key

from .conftest import S3_ENV
from .helpers import Peer, make_tree, read_tree, split_tos

WAIT = 60.0


@pytest.fixture(params=["folder", "s3"])
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Peer, MlpServe]]:
    """A served platform of this test alone, on the folder store or on the S3 store."""
    moto = None
    env = clean_env(tmp_path / "server-home")
    if request.param == "s3":
        # A moto of its own in another process: moto's in-process servers share one backend, and
        # `mlp gc --grace 0` must not judge the buckets of the session's S3 platforms.
        moto, endpoint = start_moto(tmp_path)
        env.update(MLP_S3_ENDPOINT=endpoint, **S3_ENV)
    server = MlpServe(tmp_path / "platform", env=env).start()
    peer = Peer(request.param, server.data_dir, server.url, read_default_keys(server.data_dir),
                env.get("MLP_S3_ENDPOINT"))  # fmt: skip
    try:
        yield peer, server
    finally:
        server.stop()
        peer.close()
        if moto is not None:
            moto.terminate()
            moto.wait(timeout=30)


def start_moto(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    for _ in range(3):
        port = free_port()
        log = (tmp_path / f"moto-{port}.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + WAIT
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1.0, trust_env=False)
                return proc, f"http://127.0.0.1:{port}"
            except httpx.TransportError:
                time.sleep(0.1)
        proc.kill()
        proc.wait()
    raise RuntimeError("moto did not start")


def disk_bytes(peer: Peer) -> int:
    return sum(p.stat().st_size for p in peer.objects_dir.rglob("*") if p.is_file())


def leftovers(peer: Peer) -> dict[str, list[str]]:
    """What no version explains: objects outside every version's Path and manifest, temporary files
    of the folder store, unfinished multipart uploads of the S3 store."""
    paths = [split_tos(v)[1] for v in all_version_paths(peer)]
    explained = {manifest_key(p) for p in paths}
    stray = sorted(
        k
        for k in peer.object_keys(DEFAULT_ACCOUNT_ID)
        if k not in explained and not any(k.startswith(p) for p in paths)
    )
    temp: list[str] = []
    if peer.s3_endpoint is None:
        temp = sorted(p.name for p in (peer.objects_dir / ".tmp").iterdir())
    else:
        uploads = peer.s3().list_multipart_uploads(Bucket=bucket_for(DEFAULT_ACCOUNT_ID)).get("Uploads", [])
        temp = sorted(u["Key"] for u in uploads)
    return {"objects": stray, "temp": temp}


def all_version_paths(peer: Peer) -> list[str]:
    """Every version's Path, every page (a model of the kill test can pass 100 versions)."""
    model = peer.model()
    return [v.path for m in model.iter_models() for v in model.iter_model_versions(m.model_id)]


def mlp_gc(
    peer: Peer,
    *args: str,
    endpoint: bool = False,
    keys: Keys | None = None,
    code: int = 0,
    where: list[str] | None = None,
) -> str:
    """``mlp gc`` on the data folder, or with ``endpoint`` against the running server (admin keys; its
    URL named by ``gc --endpoint``, or by ``where``: mlp's own options ending in "gc")."""
    env = clean_env(peer.data_dir.parent / "gc-home")
    if endpoint:
        keys = keys or peer.keys
        env.update(VOLC_ACCESSKEY=keys.ak, VOLC_SECRETKEY=keys.sk)
        where = ["--endpoint", peer.endpoint or ""] if where is None else where
    else:
        if peer.s3_endpoint is not None:
            env.update(MLP_S3_ENDPOINT=peer.s3_endpoint, **S3_ENV)
        where = ["--data-dir", str(peer.data_dir)]
    command = where if where and where[-1] == "gc" else ["gc", *(where or [])]
    done = subprocess.run([mlp_script(), *command, *args], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == code, done.stderr
    return done.stdout + done.stderr


def register(peer: Peer, source: Path, name: str, model_id: str | None = None) -> tuple[str, int]:
    model = peer.model()
    if model_id is None:
        resp = model.register(str(source), model_name=name, model_format="ONNX", model_type="ONNX:1.10")
    else:
        resp = model.register(str(source), model_id=model_id)
    return resp.result.model_id, resp.result.version_info.model_version


# ---------------------------------------------------------------------------------------------------


def test_deletes_give_back_the_bytes_and_objects(platform: tuple[Peer, MlpServe], tmp_path: Path) -> None:
    peer, _ = platform
    source = tmp_path / "model"
    make_tree(source, small=20, big=6 * MiB)
    keys_before = peer.object_keys()
    bytes_before = disk_bytes(peer) if peer.s3_endpoint is None else 0

    model_id, _ = register(peer, source, "reclaimed")
    register(peer, source, "reclaimed", model_id)
    other_id, _ = register(peer, source, "other")
    version2 = peer.model().get_model_version(model_id, "2").result.path
    assert len(peer.object_keys()) > len(keys_before)

    peer.model().unregister(model_id, "1")
    _, prefix2 = split_tos(version2)
    assert {k for k in peer.object_keys() if k.startswith(prefix2)}, "version 2 keeps its files"
    peer.model().unregister_all_versions(model_id)
    peer.model().unregister_all_versions(other_id)

    assert peer.object_keys() == keys_before
    if peer.s3_endpoint is None:
        assert disk_bytes(peer) == bytes_before
    assert leftovers(peer) == {"objects": [], "temp": []}


CLIENT = textwrap.dedent(
    """
    import os, sys, time
    from volcengine_ml_platform.models.model import Model
    mode, endpoint, ak, sk, source, marker = sys.argv[1:7]
    model = Model(endpoint=endpoint, access_key=ak, secret_key=sk)

    def stall(progress):
        if progress.bytes_done > 0:
            open(marker, "w").close()
            time.sleep(3600)  # killed here, mid-transfer

    if mode == "upload":
        model.register(source, model_name="killed", model_format="ONNX", model_type="ONNX:1.10",
                       progress=stall)
    else:
        model_id, dest = sys.argv[7:9]
        model.download(model_id, "1", dest, progress=stall)
    """
)


def run_killed_client(peer: Peer, tmp_path: Path, *args: str) -> None:
    marker = tmp_path / f"marker-{args[0]}"
    argv = [sys.executable, "-c", CLIENT, args[0], peer.endpoint or "", peer.keys.ak, peer.keys.sk,
            args[1], str(marker), *args[2:]]  # fmt: skip
    proc = subprocess.Popen(argv, env=clean_env(tmp_path / "client-home"), stderr=subprocess.PIPE)
    deadline = time.monotonic() + WAIT
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), (
        proc.stderr.read().decode() if proc.stderr and proc.poll() is not None else "timeout"
    )
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_clients_killed_mid_transfer_leave_nothing_behind(
    platform: tuple[Peer, MlpServe], tmp_path: Path
) -> None:
    peer, _ = platform
    source = tmp_path / "model"
    files = make_tree(source, small=30, big=12 * MiB)
    keep_id, _ = register(peer, source, "kept")

    run_killed_client(peer, tmp_path, "upload", str(source))
    assert leftovers(peer) != {"objects": [], "temp": []}, "the killed upload left something to sweep"
    user = peer.add_account(2100000077)  # not an administrator
    assert "AccessDenied" in mlp_gc(peer, "--grace", "0", endpoint=True, keys=user, code=1)
    report = mlp_gc(peer, "--grace", "0", "--dry-run", endpoint=True)
    assert "would remove" in report
    # mlp's own --endpoint, and a profile naming the endpoint, ask the same server: never a sweep of the
    # local default data folder (which would report nothing to remove, and make that folder)
    home = peer.data_dir.parent / "gc-home"
    home.mkdir(exist_ok=True)
    (home / "no-such-config").write_text(json.dumps({"profiles": {"team": {"endpoint": peer.endpoint}}}))
    for where in (["--endpoint", peer.endpoint or ""], ["--profile", "team"]):
        assert mlp_gc(peer, "--grace", "0", "--dry-run", endpoint=True, where=[*where, "gc"]) == report
    (home / "no-such-config").unlink()
    assert not (home / ".volc").exists()
    both = mlp_gc(peer, "--grace", "0", "--data-dir", str(peer.data_dir), endpoint=True, code=2)
    assert "give one of them" in both
    assert leftovers(peer) != {"objects": [], "temp": []}, "a dry run removes nothing"
    report = mlp_gc(peer, "--grace", "0")
    assert "removed" in report and " bytes" in report
    assert leftovers(peer) == {"objects": [], "temp": []}
    assert mlp_gc(peer).endswith("removed 0 objects (0 bytes) under 0 unreferenced upload prefixes, "
                                 "and 0 temporary files (0 bytes)\n")  # fmt: skip

    dest = tmp_path / "copy"
    run_killed_client(peer, tmp_path, "download", str(source), keep_id, str(dest))
    assert list(dest.rglob("*.incomplete")), "the killed download left a partial file"
    peer.model().download(keep_id, "1", str(dest))
    assert not list(dest.rglob("*.incomplete"))
    assert read_tree(dest) == files


REGISTRAR = textwrap.dedent(
    """
    import json, os, sys, time
    from volcengine_ml_platform.config import resolve_settings
    from volcengine_ml_platform.models.model import Model
    from volcengine_ml_platform.session import Session
    from volcengine_ml_platform.transfer.retry import RetryPolicy
    endpoint, ak, sk, source, stop, name = sys.argv[1:7]
    settings = resolve_settings(endpoint=endpoint, access_key=ak, secret_key=sk)
    session = Session(settings, retry=RetryPolicy(max_attempts=30, base_delay=0.05, max_delay=0.5))
    model = Model(session=session)
    model_id = None
    while not os.path.exists(stop):
        try:
            if model_id is None:
                r = model.register(source, model_name=name, model_format="ONNX", model_type="ONNX:1.10")
                model_id = r.result.model_id
            else:
                r = model.register(source, model_id=model_id)
            print(json.dumps(["ok", r.result.model_id, r.result.version_info.model_version]), flush=True)
        except Exception as exc:
            print(json.dumps(["error", type(exc).__name__, str(exc)[:200]]), flush=True)
            time.sleep(0.2)
    """
)


def _described(model: Model, model_id: str) -> object:
    """What the platform says of a model now (for a failure's message)."""
    try:
        return model.get_model(model_id)["Result"]
    except Exception as exc:
        return repr(exc)


def test_server_killed_while_8_clients_register(platform: tuple[Peer, MlpServe], tmp_path: Path) -> None:
    peer, server = platform
    source = tmp_path / "model"
    files = make_tree(source, small=6)
    stop = tmp_path / "stop"
    env = clean_env(tmp_path / "client-home")
    argv = [sys.executable, "-c", REGISTRAR, server.url, peer.keys.ak, peer.keys.sk, str(source), str(stop)]
    clients = [
        subprocess.Popen([*argv, f"c{i}"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(8)
    ]
    try:
        for _ in range(3):
            time.sleep(2.0)
            assert server.proc is not None
            os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.wait()
            time.sleep(0.3)
            assert server._try_start(), server.log()  # the same port: the clients keep their endpoint
        time.sleep(2.0)
    finally:
        stop.touch()
        outputs = [c.communicate(timeout=120) for c in clients]
    told = [json.loads(line) for out, _ in outputs for line in out.splitlines() if line.startswith("[")]
    successes = [(m, v) for kind, m, v in (t for t in told if t[0] == "ok")]
    assert successes, [err for _, err in outputs]
    assert len(set(successes)) == len(successes), "no two registrations were told the same version"

    model = peer.model()
    paths = all_version_paths(peer)
    assert len(paths) == len(set(paths)), "no two versions share a Path"
    # Every page: with fast registrations a client's model passes 100 versions in these seconds.
    listed = {
        (m.model_id, v.model_version)
        for m in model.iter_models()
        for v in model.iter_model_versions(m.model_id)
    }
    missing = set(successes) - listed
    assert not missing, (
        "every registration a client was told about is listed",
        sorted(missing),
        {m: _described(model, m) for m, _ in missing},
        [err[-2000:] for _, err in outputs],
        server.log()[-3000:],
    )
    for model_id, number in sorted(listed):
        dest = tmp_path / "check" / f"{model_id}-{number}"
        model.download(model_id, str(number), str(dest))
        assert read_tree(dest) == files

    mlp_gc(peer, "--grace", "0")
    assert leftovers(peer) == {"objects": [], "temp": []}
    manifests = {k for k in peer.object_keys() if k.endswith(SUFFIX)}
    assert manifests == {manifest_key(split_tos(p)[1]) for p in paths}, "one manifest per version"
