"""``mlp serve`` starting on a full disk, and on a damaged ``token.key`` or ``tls/server.key``: exit 1
with a message naming the data folder (or the file) and what to do, never "unexpected error" or a raw
SSL error; nothing left half-written (no temporary file, no account without its keys), so that the same
folder starts once there is room."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlp_server.private_files import write_private
from mlp_testing import CAN_MOUNT, clean_env, fill_disk, mlp_script, small_disk
from volcengine_ml_platform.models.model import Model


def serve(data: Path, home: Path, seconds: float = 5, extra: tuple[str, ...] = ()) -> str:
    """``mlp serve``'s exit and output, or "STARTED" when it still runs after ``seconds``."""
    argv = [mlp_script(), "serve", "--data-dir", str(data), "--port", "0", "--perf-workers", "0",
            "--log-level", "warning", *extra]  # fmt: skip
    try:
        done = subprocess.run(argv, env=clean_env(home), capture_output=True, text=True, timeout=seconds)
    except subprocess.TimeoutExpired:
        return "STARTED"
    return f"rc={done.returncode} {done.stdout}{done.stderr}"


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    if not CAN_MOUNT:
        pytest.skip("mounting a small tmpfs needs root")
    with small_disk(tmp_path / "small") as mount:
        yield mount


def test_starting_on_a_full_disk_names_the_data_folder_and_leaves_it_usable(
    small_fs: Path, tmp_path: Path
) -> None:
    # Each gap stops the start somewhere else: creating the database, its schema, the credentials
    # file, the account, the token key, the object store's folders.
    refused = 0
    for gap in range(56, 72, 2):
        data = small_fs / f"data-{gap}"
        filler = fill_disk(small_fs, gap)
        out = serve(data, tmp_path)
        filler.unlink()
        if out == "STARTED":
            break  # and with more room it starts too
        refused += 1
        assert out.startswith("rc=1 ") and "unexpected error" not in out, out
        assert f"the disk of the data folder {data} is full" in out, out
        assert [p.name for p in data.rglob("*") if p.is_file() and "tmp" in p.name] == []
        Model(data_dir=data).list_models()  # with room again: it opens, and its credentials work
        (small_fs / f"data-{gap}").rename(small_fs / f"done-{gap}")  # keep the tmpfs's usage alike
    assert refused > 0, "no gap was tight enough to stop the start: the test no longer tests anything"


def test_a_short_token_key_names_the_file_and_the_remedy(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert serve(data, tmp_path) == "STARTED"
    (data / "token.key").write_bytes(b"")  # what a power loss could leave of an un-fsynced new file

    out = serve(data, tmp_path)

    assert out.startswith("rc=1 ") and "unexpected error" not in out, out
    assert f"{data / 'token.key'} holds 0 bytes" in out and "Remove it and start again" in out, out
    (data / "token.key").unlink()
    assert serve(data, tmp_path) == "STARTED"


def test_a_private_file_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "token.key"
    assert write_private(path, b"first", keep_existing=True)
    assert not write_private(path, b"second", keep_existing=True)  # the first writer wins
    assert path.read_bytes() == b"first" and path.stat().st_mode & 0o777 == 0o600
    write_private(path, b"replaced")
    assert path.read_bytes() == b"replaced"
    with pytest.raises(FileNotFoundError):
        write_private(tmp_path / "no-folder" / "x", b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["token.key"]  # no temporary file left


def test_a_full_disk_while_the_tls_files_are_made_leaves_no_temporary_file(
    small_fs: Path, tmp_path: Path
) -> None:
    # The self-signed CA and certificate are made first thing: with no page free, writing them fails.
    data = small_fs / "data"
    filler = fill_disk(small_fs, 0)
    out = serve(data, tmp_path, extra=("--tls-self-signed",))
    filler.unlink()
    assert out.startswith("rc=1 ") and "unexpected error" not in out, out
    assert f"the disk of the data folder {data} is full" in out, out
    assert sorted(p.name for p in data.rglob("*") if p.is_file()) == [], out  # no temporary key file
    assert serve(data, tmp_path, extra=("--tls-self-signed",)) == "STARTED"  # with room it starts
    assert (data / "tls" / "server.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("name", "keep", "said"),
    [
        ("server.key", 0, "holds 0 bytes, not a PEM private key"),
        ("server.key", 60, "holds 60 bytes, not a PEM private key"),
        ("server.pem", 100, "holds 100 bytes, not a PEM certificate chain"),
        ("ca.pem", 0, "holds 0 bytes, not a PEM CA certificate"),
    ],
)
def test_a_torn_tls_file_names_the_file_and_the_remedy(
    tmp_path: Path, name: str, keep: int, said: str
) -> None:
    data = tmp_path / "data"
    tls = ("--tls-self-signed",)
    assert serve(data, tmp_path, extra=tls) == "STARTED"
    torn = data / "tls" / name
    torn.write_bytes(torn.read_bytes()[:keep])  # what a power loss could leave of an un-fsynced file

    out = serve(data, tmp_path, extra=tls)

    assert out.startswith("rc=1 ") and "unexpected error" not in out and "Traceback" not in out, out
    assert f"{torn} {said}" in out and f"Remove the folder {data / 'tls'} and start again" in out, out
    shutil.rmtree(data / "tls")
    assert serve(data, tmp_path, extra=tls) == "STARTED"


def test_a_tls_key_that_is_not_the_certificates_names_the_remedy(tmp_path: Path) -> None:
    data, other = tmp_path / "data", tmp_path / "other"
    tls = ("--tls-self-signed",)
    assert serve(data, tmp_path, extra=tls) == "STARTED"
    assert serve(other, tmp_path, extra=tls) == "STARTED"
    shutil.copyfile(other / "tls" / "server.key", data / "tls" / "server.key")

    out = serve(data, tmp_path, extra=tls)

    assert out.startswith("rc=1 ") and "Traceback" not in out, out
    assert f"{data / 'tls' / 'server.key'} is not the key of the certificate in server.pem" in out, out


def test_the_embedded_platform_names_a_short_token_key_too(tmp_path: Path) -> None:
    data = tmp_path / "data"
    argv = [mlp_script(), "models", "list", "--data-dir", str(data)]
    assert subprocess.run(argv, env=clean_env(tmp_path), capture_output=True, timeout=120).returncode == 0
    (data / "token.key").write_bytes(b"")

    done = subprocess.run(argv, env=clean_env(tmp_path), capture_output=True, text=True, timeout=120)

    assert done.returncode == 1, done.stderr
    said = f"mlp: error: the embedded platform cannot open {data}: {data / 'token.key'} holds 0 bytes"
    assert done.stderr.startswith(said) and "Remove it and start again" in done.stderr, done.stderr
