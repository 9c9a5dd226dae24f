"""Leftovers a user would hit, each pinned through the real ``mlp`` entry point in a subprocess:
warnings only about what is uploaded, and Ctrl-C while ``mlp`` is still starting."""

from __future__ import annotations

import uuid
from pathlib import Path

from ._support import Peer

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
