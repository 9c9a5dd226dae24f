"""A version's files on this machine: downloaded once per version, verified, and found."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

from volcengine_ml_platform.transfer.base import ObjectStore
from volcengine_ml_platform.transfer.manager import download_prefix

from ..scratch import make_locked


class ModelLoadError(Exception):
    """The version cannot be served; the message is the service's Failed reason."""


def find_onnx(model_dir: Path) -> Path:
    """The version's one ``.onnx`` file (at any depth); none or several is a load error."""
    found = sorted(p for p in model_dir.rglob("*.onnx") if p.is_file())
    if len(found) != 1:
        what = (
            "no .onnx file" if not found else f"{len(found)} .onnx files ({', '.join(p.name for p in found)})"
        )
        raise ModelLoadError(f"the version has {what}; the local platform serves one ONNX model per version")
    return found[0]


class VersionCache:
    """``<root>/<ModelVersionID>/``: a folder exists only once every file in it was verified."""

    def __init__(self, root: Path, objects: ObjectStore) -> None:
        self.root = root
        self.objects = objects
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def folder(self, version_id: str, tos_url: str) -> Path:
        with self._guard:
            lock = self._locks.setdefault(version_id, threading.Lock())
        with lock:
            final = self.root / version_id
            if final.is_dir():
                return final
            self.root.mkdir(parents=True, exist_ok=True)
            # Locked while it fills: one that a killed process left is removed by the next download of
            # the version, here or in another platform process (see ``scratch``).
            tmp, held = make_locked(f".partial-{version_id}.", self.root)
            try:
                # The store verifies every file's size and checksum before it is moved into place.
                download_prefix(self.objects, tos_url, tmp, concurrency=4)
                os.replace(tmp, final)
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
                if final.is_dir():  # another platform process on this data folder was first
                    return final
                raise
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            finally:
                os.close(held)
            return final
