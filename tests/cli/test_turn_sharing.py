"""The turns' folder beside a SQLite database (``<database>.reclaim-turns``, store.reclaim_turns) is
shared as the data folder is: ``mlp gc`` run first as another user (root, by cron) leaves the platform's
own user able to register. Before, the folder was made 0700 and the user that ran gc first owned it:
every CreateModel of the platform's user failed on its lock files.

Real users: the test runs as root and runs the platform as ``nobody`` (``setpriv``)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlp_server.platform import DEFAULT_ACCOUNT_ID
from mlp_testing import mlp_script

from ._support import EXAMPLE, clean_env

NOBODY = 65534
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="runs commands as another user: root only"
)


@pytest.fixture
def root() -> Iterator[Path]:
    """A folder ``nobody`` may enter (pytest's tmp folders are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="mlp-turn-sharing-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


REGISTER_TYPE = ("--format", "ONNX", "--type", "ONNX:1.23")


def run(env: dict[str, str], *args: str, user: int | None = None) -> subprocess.CompletedProcess[str]:
    """``mlp args`` as root, or as ``user``. That user may read (not write) what only root may: the
    interpreter of the tests' virtualenv lives in root's home."""
    argv = [mlp_script(), *args]
    if user is not None:
        caps = "+dac_read_search"
        argv = [
            *("setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"),
            *(f"--inh-caps={caps}", f"--ambient-caps={caps}", *argv),
        ]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def chown_tree(folder: Path, uid: int) -> None:
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, uid, uid, follow_symlinks=False)


def register_example(
    env: dict[str, str], name: str, user: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``mlp models register`` of the example model as a new model ``name``, as root or ``user``."""
    return run(env, "models", "register", str(EXAMPLE), "--name", name, *REGISTER_TYPE, user=user)


def nobodys_platform(root: Path) -> tuple[Path, dict[str, str]]:
    """A data folder of the platform's user (nobody), set up by its first command; and the environment
    that names it."""
    data_dir = root / "platform"
    env = clean_env(root, VOLC_ML_PLATFORM_DATA_DIR=str(data_dir), MLP_PERF_WORKERS="0")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    data_dir.mkdir()
    chown_tree(root / "home", NOBODY)
    chown_tree(data_dir, NOBODY)
    made = run(env, "models", "list", user=NOBODY)
    assert made.returncode == 0, made.stderr
    return data_dir, env


def test_gc_as_root_first_leaves_the_platforms_user_able_to_register(root: Path) -> None:
    data_dir, env = nobodys_platform(root)
    assert not list(data_dir.glob("*.reclaim-turns")), "no turn was taken yet"
    # An upload the platform's user left unregistered two days ago: what gc removes, in a turn.
    stamp = int((time.time() - 2 * 86400) * 1000)
    bucket = data_dir / "objects" / f"ml-platform-auto-created-required-{DEFAULT_ACCOUNT_ID}-cn-beijing"
    (bucket / f"{stamp}-0123abcd" / "model").mkdir(parents=True)
    (bucket / f"{stamp}-0123abcd" / "model" / "weights.bin").write_bytes(b"w" * 100)
    chown_tree(data_dir, NOBODY)

    gc = run(env, "gc", "--data-dir", str(data_dir), "--grace", "0")  # as root
    assert gc.returncode == 0, gc.stderr
    assert "removed 1 objects" in gc.stdout, gc.stdout
    (turns,) = data_dir.glob("*.reclaim-turns")
    database = turns.with_name(turns.name.removesuffix(".reclaim-turns"))
    # Shared as the data folder is; its lock files as the database is.
    for path, like in [(turns, data_dir), *((lock, database) for lock in turns.iterdir())]:
        have, want = path.stat(), like.stat()
        assert (have.st_uid, have.st_gid) == (NOBODY, NOBODY), path
        assert stat.S_IMODE(have.st_mode) == stat.S_IMODE(want.st_mode), path
    assert sorted(p.name for p in turns.iterdir()) == [
        f"{DEFAULT_ACCOUNT_ID}.gate",
        f"{DEFAULT_ACCOUNT_ID}.lock",
    ]

    registered = register_example(env, "after-gc", user=NOBODY)
    assert registered.returncode == 0, registered.stderr
    listed = run(env, "models", "list", user=NOBODY)
    assert "after-gc" in listed.stdout, listed


def test_a_turn_folder_an_earlier_release_made_private_is_shared_again(root: Path) -> None:
    """Made 0700 (with 0600 lock files) by root before this release: root's next run shares it."""
    data_dir, env = nobodys_platform(root)
    database = data_dir / "mlp.sqlite3"
    assert database.is_file()
    turns = Path(f"{database}.reclaim-turns")
    turns.mkdir(mode=0o700)
    for kind in ("gate", "lock"):
        (turns / f"{DEFAULT_ACCOUNT_ID}.{kind}").touch(mode=0o600)
    # A link the platform's user put there: root follows none of them (it would give that file away).
    secret = root / "root-only"
    secret.touch(mode=0o600)
    (turns / "7.lock").symlink_to(secret)

    # Root registers (a model of its own: any turn taken as root repairs the folder first).
    registered = register_example(env, "by-root")
    assert registered.returncode == 0, registered.stderr
    chown_tree(data_dir / "objects", NOBODY)  # its upload, as if the platform's user had made it
    for path in [turns, *(p for p in turns.iterdir() if not p.is_symlink())]:
        assert (path.stat().st_uid, path.stat().st_gid) == (NOBODY, NOBODY), path
    assert (secret.stat().st_uid, stat.S_IMODE(secret.stat().st_mode)) == (0, 0o600)
    by_nobody = register_example(env, "by-nobody", user=NOBODY)
    assert by_nobody.returncode == 0, by_nobody.stderr


def test_root_follows_no_link_the_platforms_user_put_as_the_turn_folder_or_a_lock_file(root: Path) -> None:
    """The platform's user owns the data folder, so it may put a link where the turn folder or a lock
    file goes. Root's mlp gc then made its lock files in the folder the link named (any folder of
    the machine, root's own included) and gave them to that user; a lock file linked to nothing made
    every turn spin for ever (open said missing, create said present)."""
    data_dir, env = nobodys_platform(root)
    stamp = int((time.time() - 2 * 86400) * 1000)  # an old unregistered upload: gc takes a turn for it
    bucket = data_dir / "objects" / f"ml-platform-auto-created-required-{DEFAULT_ACCOUNT_ID}-cn-beijing"
    (bucket / f"{stamp}-0123abcd" / "model").mkdir(parents=True)
    (bucket / f"{stamp}-0123abcd" / "model" / "weights.bin").write_bytes(b"w" * 100)
    chown_tree(data_dir, NOBODY)
    turns = data_dir / "mlp.sqlite3.reclaim-turns"
    root_only = root / "root-only"
    root_only.mkdir(mode=0o700)
    turns.symlink_to(root_only)
    os.chown(turns, NOBODY, NOBODY, follow_symlinks=False)

    gc = run(env, "gc", "--data-dir", str(data_dir), "--grace", "0")  # as root
    assert list(root_only.iterdir()) == [], "root made files where the link led"
    assert gc.returncode != 0 and str(turns) in gc.stderr, (gc.stdout, gc.stderr)
    assert (bucket / f"{stamp}-0123abcd" / "model" / "weights.bin").exists()  # nothing removed outside a turn

    turns.unlink()
    turns.mkdir()
    (turns / f"{DEFAULT_ACCOUNT_ID}.gate").symlink_to(root / "nothing-here")
    chown_tree(turns, NOBODY)
    gc = run(env, "gc", "--data-dir", str(data_dir), "--grace", "0")
    assert gc.returncode != 0 and f"{DEFAULT_ACCOUNT_ID}.gate" in gc.stderr, (gc.stdout, gc.stderr)
    assert not (root / "nothing-here").exists()


@pytest.mark.parametrize("name", ["mlp.sqlite3-wal", "mlp.sqlite3-shm"])
def test_root_narrows_no_file_a_link_in_the_data_folder_leads_to(root: Path, name: str) -> None:
    """The database's files are made private as a connection opens them (store.engine.keep_private):
    a link the platform's user put in place of one made root's mlp gc take the mode of the file it
    led to (/etc/passwd, a shell: then no other user could read or run it)."""
    data_dir, env = nobodys_platform(root)
    victim = root / "everyones"
    victim.write_text("a file of root's that every user may read\n")
    victim.chmod(0o644)
    link = data_dir / name
    link.unlink(missing_ok=True)
    link.symlink_to(victim)
    os.chown(link, NOBODY, NOBODY, follow_symlinks=False)

    run(env, "gc", "--data-dir", str(data_dir), "--grace", "0")  # as root

    assert stat.S_IMODE(victim.stat().st_mode) == 0o644
