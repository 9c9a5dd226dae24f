"""Leftovers a user would hit, each pinned through the real ``mlp`` entry point in a subprocess:
warnings only about what is uploaded, Ctrl-C while ``mlp`` is still starting, and what the audit as
a new user found (``--log-level`` of ``mlp serve`` and ``mlp worker``, ...)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import uuid
from pathlib import Path

from mlp_testing import MlpServe, mlp_script
from volcengine_ml_platform.models.model import Model

from ._support import Peer, clean_env, run_mlp

REGISTER = ("--format", "ONNX", "--type", "ONNX:1.23")


def _folder_with_dangling_links(root: Path) -> Path:
    folder = root / f"links-{uuid.uuid4().hex[:8]}"
    (folder / ".git").mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"weights")
    (folder / "old.ckpt").symlink_to(root / "deleted-checkpoint")  # a cache whose blob was removed
    (folder / ".git" / "dangling").symlink_to(root / "gone")  # always left out (.git/)
    return folder


def test_dangling_links_the_selection_leaves_out_are_not_warned_about(
    embedded_peer: Peer, tmp_path: Path
) -> None:
    folder = _folder_with_dangling_links(tmp_path)

    chosen = embedded_peer.run(
        "models", "register", str(folder), "--name", folder.name, *REGISTER, "--include", "*.onnx"
    ).ok()
    assert "warning" not in chosen.err, chosen
    excluded = embedded_peer.run(
        "models", "register", str(folder), "--name", folder.name, *REGISTER, "--exclude", "*.ckpt"
    ).ok()
    assert "warning" not in excluded.err, excluded

    # Selected, it is worth a warning: one that says what is wrong with it. The .git/ one still is not.
    everything = embedded_peer.run("models", "register", str(folder), "--name", folder.name, *REGISTER).ok()
    warnings = [line for line in everything.err.splitlines() if "warning" in line]
    assert len(warnings) == 1, everything
    assert "old.ckpt" in warnings[0] and "deleted-checkpoint" in warnings[0], everything
    assert "does not exist" in warnings[0], everything


# Stands in for the standard library's argparse, which only the command line imports: it says it is
# being imported, then waits, so the test interrupts `mlp` exactly while it is importing.
SLOW_ARGPARSE = """\
import os, time
os.write(1, b"importing argparse\\n")
time.sleep(120)
"""


def test_ctrl_c_while_mlp_is_still_importing_exits_130_without_a_traceback(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "argparse.py").write_text(SLOW_ARGPARSE, encoding="utf-8")
    env = clean_env(
        tmp_path, PYTHONPATH=os.pathsep.join(filter(None, [str(shadow), os.environ.get("PYTHONPATH")]))
    )
    proc = subprocess.Popen(
        [mlp_script(), "models", "list"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "mlp never reached its imports"
        assert proc.stdout.readline() == b"importing argparse\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (proc.returncode, out, err) == (130, b"", b""), err.decode()


def test_mlp_serve_log_level_info_shows_where_the_first_administrator_keys_went(tmp_path: Path) -> None:
    """``mlp`` set up logging for client commands (warnings only) before ``serve`` ran, which made its
    ``--log-level`` (default info) a no-op: a new user never saw where the generated keys were."""
    data_dir = tmp_path / "data"
    server = MlpServe(data_dir, env=clean_env(tmp_path), log_path=tmp_path / "serve.log")
    server.extra_args = ("--log-level", "info")  # after the helper's own --log-level warning: this one wins
    with server:
        log = server.log()
    assert f"its access keys are in {data_dir / 'credentials.json'}" in log, log


def test_mlp_worker_log_level_is_honoured(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    argv = [mlp_script(), "worker", "--data-dir", str(tmp_path / "data"), "--log-level", "info"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        ready, _, _ = select.select([proc.stderr], [], [], 60)
        assert ready, "mlp worker said nothing"
        first = proc.stderr.readline().decode()
    finally:
        proc.send_signal(signal.SIGTERM)  # the worker stops at its next poll
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert "INFO mlp_server.workers: perf worker" in first, first


def test_missing_keys_point_at_the_profiles_the_config_file_has(tmp_path: Path) -> None:
    """The README's `mlp configure --profile team ...` puts the keys in a profile; a command that does
    not choose it must say so, not only "run `mlp configure`", which the user just did."""
    env = clean_env(tmp_path)
    env.pop("VOLC_CONFIG_FILE")  # the default, ~/.volc/config in the empty HOME
    endpoint = "http://127.0.0.1:9"  # never reached: the keys are missing before any connection
    keys = ["--access-key", "AK", "--secret-key", "SK"]
    run_mlp(["configure", "--profile", "team", "--endpoint", endpoint, *keys], env).ok()
    config = Path(env["HOME"]) / ".volc" / "config"

    for args in (["--endpoint", endpoint, "models", "list"], ["gc", "--endpoint", endpoint]):
        refused = run_mlp(args, env)
        assert refused.code != 0, refused
        assert (
            f"{config} has profile(s) team: choose one with --profile NAME or VOLC_PROFILE=NAME"
            in refused.err
        )
    chosen = run_mlp(["--profile", "team", "models", "list"], env).fails(1)
    assert "cannot reach http://127.0.0.1:9" in chosen.err and "profile(s)" not in chosen.err, chosen


def test_values_anyone_can_set_cannot_drive_the_terminal(embedded_peer: Peer, tmp_path: Path) -> None:
    """A version's Description (any user of the account can set it) is printed with its control
    characters escaped: no escape sequence reaches the terminal and no newline forges a row. The JSON
    output keeps the value, escaped as JSON."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"weights")
    registered = embedded_peer.run("models", "register", str(folder), "--name", f"esc-{uuid.uuid4().hex[:8]}",
                                   *REGISTER, "-o", "json").ok()  # fmt: skip
    model_id = json.loads(registered.out)["Result"]["ModelID"]
    evil = "x\x1b]0;pwned\x07\x1b[2J\x9b31m\nModelVersion    99\r\t"
    Model(data_dir=embedded_peer.data_dir).update_model_version(model_id, "1", description=evil)

    shown, listed, as_json = embedded_peer.run_all(
        ("versions", "show", model_id, "1"),
        ("versions", "list", model_id),
        ("versions", "show", model_id, "1", "-o", "json"),
    )
    for result in (shown, listed, as_json):
        assert result.code == 0, result
        assert not set(result.out) & {"\x1b", "\x07", "\x9b", "\r"}, result
    described = [line for line in shown.out.splitlines() if line.startswith("Description")]
    assert [line.split(None, 1)[1] for line in described] == [
        "x\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\nModelVersion    99\\r\\t"
    ]
    assert not any(line.startswith("ModelVersion    99") for line in shown.out.splitlines())
    assert json.loads(as_json.out)["Result"]["Description"] == evil


def test_download_to_an_empty_path_is_refused(embedded_peer: Peer, tmp_path: Path) -> None:
    """``mlp versions download MODEL 1 ""`` would have written into the current directory."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"weights")
    registered = embedded_peer.run("models", "register", str(folder), "--name", f"dl-{uuid.uuid4().hex[:8]}",
                                   *REGISTER, "-o", "json").ok()  # fmt: skip
    model_id = json.loads(registered.out)["Result"]["ModelID"]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    refused = embedded_peer.run("versions", "download", model_id, "1", "", cwd=cwd)
    assert refused.code == 2 and "empty path" in refused.err, refused
    assert list(cwd.iterdir()) == []
