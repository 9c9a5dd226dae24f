"""The main job, end to end, on the embedded local platform (no cloud account needed):
register a model folder, list it, show its versions, download it and compare the bytes.

    python examples/quickstart.py [--data-dir DIR]

With VOLC_ML_PLATFORM_ENDPOINT (and keys) set, the same script runs against that platform instead.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from volcengine_ml_platform.models.model import Model

TENSOR_CONFIG = {
    "Inputs": [{"TensorName": "input", "Shape": [-1, 4], "DType": "FLOAT"}],
    "Outputs": [{"TensorName": "output", "Shape": [-1, 3], "DType": "FLOAT"}],
}


def make_model_folder(root: Path) -> Path:
    """A small model folder: weights, a config and a nested asset."""
    folder = root / "iris-classifier"
    (folder / "assets").mkdir(parents=True)
    (folder / "model.bin").write_bytes(os.urandom(256 * 1024))
    (folder / "config.json").write_text(json.dumps({"classes": ["setosa", "versicolor", "virginica"]}))
    (folder / "assets" / "labels.txt").write_text("setosa\nversicolor\nvirginica\n")
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="the embedded platform's data folder (default: a fresh temp dir)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlp-quickstart-"))
    if not os.environ.get("VOLC_ML_PLATFORM_ENDPOINT"):
        os.environ.setdefault("VOLC_ML_PLATFORM_DATA_DIR", args.data_dir or str(work / "platform"))

    model = Model()
    folder = make_model_folder(work)
    created = model.register(
        str(folder),
        model_name="iris-classifier",
        model_format="Custom",
        model_type="PyTorch:2.1",
        description="quickstart",
        tensor_config=TENSOR_CONFIG,
    )
    model_id = created["Result"]["ModelID"]
    print(f"registered {model_id} version {created['Result']['VersionInfo']['ModelVersion']}")

    listed = model.list_models(model_name_contains="iris")
    for item in listed["Result"]["List"]:
        print(f"model {item['ModelID']}  {item['ModelName']}  versions={item['ModelVersionsCount']}")

    versions = model.get_model_versions(model_id)
    for v in versions["Result"]["List"]:
        print(f"version {v['ModelVersion']}  {v['ModelFormat']}  {v['ModelType']}  {v['Path']}")

    target = work / "downloaded"
    files = model.download(model_id, "1", str(target))
    originals = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    copies = sorted(p.relative_to(target) for p in files)
    identical = originals == copies and all(
        (folder / rel).read_bytes() == (target / rel).read_bytes() for rel in originals
    )
    print(f"downloaded {len(files)} files to {target}; identical to the original: {identical}")
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
