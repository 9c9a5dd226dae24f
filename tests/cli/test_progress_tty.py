"""The progress bar as a user sees it: ``mlp`` in a pseudo-terminal of 80 columns, its stderr read
raw. Every redraw replaces the line in place (no stacked lines), no frame is wider than the terminal,
and the time left reads ``-:--:--`` until a rate is known."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import uuid
from pathlib import Path

from ._support import MODULE_CMD, Peer

COLUMNS = 80
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_in_terminal(args: list[str], env: dict[str, str], columns: int = COLUMNS) -> tuple[int, str, str]:
    """Run ``mlp`` with stderr on a pseudo-terminal ``columns`` wide; (exit code, stdout, raw stderr)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen(
        [*MODULE_CMD, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=env
    )
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the terminal's other side closed (Linux reports EIO)
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    proc.stdout.close()
    return proc.wait(timeout=60), out, b"".join(chunks).decode("utf-8", "replace")


def frames(raw: str) -> list[str]:
    """What each redraw shows: the text between carriage returns and newlines, escapes removed."""
    return [f for f in (ANSI.sub("", part) for part in re.split(r"[\r\n]", raw)) if f.strip()]


def check_bar(raw: str, label: str) -> None:
    shown = frames(raw)
    assert shown and all(f.startswith(label) for f in shown), raw
    assert max(len(f) for f in shown) <= COLUMNS, shown
    assert raw.count("\n") == 1, raw  # redraws replace the line; only the final one ends it
    first = shown[0]
    assert "0%" in first and "-:--:--" in first and "0:00:00" not in first, first  # no ETA before a rate
    assert "100%" in shown[-1] and "1/1 files" in shown[-1], shown


def test_upload_and_download_bars_fit_80_columns(embedded_peer: Peer, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(os.urandom(24 * 1024 * 1024))
    code, out, raw = run_in_terminal(
        [
            "models",
            "register",
            str(folder),
            "--name",
            f"tty-{uuid.uuid4().hex[:8]}",
            "--format",
            "ONNX",
            "--type",
            "ONNX:1.23",
        ],
        embedded_peer.env,
    )
    assert code == 0, raw
    check_bar(raw, "uploading")
    model_id = out.split()[1]

    code, out, raw = run_in_terminal(
        ["versions", "download", model_id, "1", str(tmp_path / "copy")], embedded_peer.env
    )
    assert code == 0 and out.startswith("downloaded 1 file(s)"), raw
    check_bar(raw, "downloading")


def test_no_bar_when_stderr_is_not_a_terminal(embedded_peer: Peer, tmp_path: Path) -> None:
    model_id = embedded_peer.run(
        "models", "register", str(Path(__file__).parents[2] / "examples" / "iris-onnx"), "--name",
        f"quiet-{uuid.uuid4().hex[:8]}", "--format", "ONNX", "--type", "ONNX:1.23",
    ).ok().kv()["ModelID"]  # fmt: skip
    result = embedded_peer.run("versions", "download", model_id, "1", str(tmp_path / "copy")).ok()
    assert result.err == "" and result.out.startswith("downloaded"), result
