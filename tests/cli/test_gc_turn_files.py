"""``mlp gc`` over a data folder whose reclaim turns' folder or lock file (store.reclaim_turns) is a
link or cannot be used: the CLI's plain ``mlp: error: ...`` naming the file (exit 1), not an
"unexpected error" with an OSError's repr."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mlp_server.platform import DEFAULT_ACCOUNT_ID

from ._support import clean_env, run_mlp


def _platform_with_old_upload(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A data folder made by its first command, with an upload left unregistered two days ago (gc
    takes the account's turn for it)."""
    data_dir = tmp_path / "platform"
    env = clean_env(tmp_path, VOLC_ML_PLATFORM_DATA_DIR=str(data_dir), MLP_PERF_WORKERS="0")
    made = run_mlp(["models", "list"], env)
    assert made.code == 0, made
    stamp = int((time.time() - 2 * 86400) * 1000)
    bucket = data_dir / "objects" / f"ml-platform-auto-created-required-{DEFAULT_ACCOUNT_ID}-cn-beijing"
    (bucket / f"{stamp}-0123abcd" / "model").mkdir(parents=True)
    (bucket / f"{stamp}-0123abcd" / "model" / "weights.bin").write_bytes(b"w" * 10)
    return data_dir, env


@pytest.mark.parametrize("where", ["folder-link", "folder-link-to-nothing", "lock-link-to-nothing"])
def test_gc_names_a_turn_file_it_cannot_use_as_a_plain_error(tmp_path: Path, where: str) -> None:
    data_dir, env = _platform_with_old_upload(tmp_path)
    turns = data_dir / "mlp.sqlite3.reclaim-turns"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if where == "folder-link":
        turns.symlink_to(elsewhere)
        named = turns
    elif where == "folder-link-to-nothing":
        turns.symlink_to(tmp_path / "nothing-here")
        named = turns
    else:
        turns.mkdir()
        named = turns / f"{DEFAULT_ACCOUNT_ID}.gate"
        named.symlink_to(tmp_path / "nothing-here")

    gc = run_mlp(["gc", "--data-dir", str(data_dir), "--grace", "0"], env)

    assert gc.code == 1, gc
    lines = gc.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlp: error: "), gc
    assert str(named) in lines[0] and "remove it" in lines[0], gc
    assert "unexpected" not in gc.err and "Errno" not in gc.err and "OSError" not in gc.err, gc
    assert list(elsewhere.iterdir()) == [] and not (tmp_path / "nothing-here").exists()
