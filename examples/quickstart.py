"""The main job, end to end, on the embedded local platform (no cloud account needed): register the
example ONNX model, list it, show its versions, download it and compare the bytes.

    python examples/quickstart.py [--data-dir DIR]

Without --data-dir the platform lives in a fresh temporary folder. With VOLC_ML_PLATFORM_ENDPOINT (and
keys) set, the same script runs against that platform instead.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from volcengine_ml_platform.models.model import Model

EXAMPLE = Path(__file__).resolve().parent / "iris-onnx"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="the embedded platform's data folder (default: a fresh temp dir)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlp-quickstart-"))
    if not os.environ.get("VOLC_ML_PLATFORM_ENDPOINT"):
        os.environ["VOLC_ML_PLATFORM_DATA_DIR"] = args.data_dir or str(work / "platform")

    model = Model()
    tensor_config = json.loads((EXAMPLE / "tensor_config.json").read_text(encoding="utf-8"))
    created = model.register(
        str(EXAMPLE),
        model_name="iris-classifier",
        model_format="ONNX",
        model_type="ONNX:1.23",
        description="a linear iris classifier (examples/make_example_model.py)",
        tensor_config=tensor_config,
        model_category="TabularClassification",
    )
    model_id = created["Result"]["ModelID"]
    print(f"registered {model_id} version {created['Result']['VersionInfo']['ModelVersion']}")

    listed = model.list_models(model_name_contains="iris")
    for item in listed["Result"]["List"]:
        print(f"model    {item['ModelID']}  {item['ModelName']}  versions={item['ModelVersionsCount']}")

    versions = model.get_model_versions(model_id)
    for v in versions["Result"]["List"]:
        print(f"version  {v['ModelVersion']}  {v['ModelFormat']}  {v['ModelType']}  {v['Path']}")

    target = work / "downloaded"
    files = model.download(model_id, "1", str(target))
    originals = sorted(p.relative_to(EXAMPLE) for p in EXAMPLE.rglob("*") if p.is_file())
    copies = sorted(p.relative_to(target) for p in files)
    identical = originals == copies and all(
        (EXAMPLE / rel).read_bytes() == (target / rel).read_bytes() for rel in originals
    )
    print(f"downloaded {len(files)} files to {target}; identical to the original: {identical}")
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
