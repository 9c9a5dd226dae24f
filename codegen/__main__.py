"""Regenerate ``generated_client/ml_platform_client`` from the OpenAPI document, or check it is current.

    python -m codegen            # regenerate
    python -m codegen --check    # exit 1 and show what differs when generated_client/ is stale

The output is a pure function of the document, ``codegen/config.yaml`` and ``codegen/templates/``:
openapi-python-client renders the package into a temporary folder, ruff formats it with fixed settings,
and the document itself is written beside the code as ``openapi.json`` so that the server and the
ergonomic layer validate against exactly the schemas the client was generated from.
"""

from __future__ import annotations

import argparse
import difflib
import filecmp
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "openapi" / "ml_platform-2021-07-01.yaml"
CONFIG = ROOT / "codegen" / "config.yaml"
TEMPLATES = ROOT / "codegen" / "templates"
PACKAGE = "ml_platform_client"
TARGET = ROOT / "generated_client" / PACKAGE
RUFF_SETTINGS = ["--isolated", "--line-length", "110", "--target-version", "py311"]


def load_document(path: Path = DOCUMENT) -> dict[str, Any]:
    """Load and validate the document (openapi-spec-validator also catches duplicate operationIds,
    which openapi-python-client would accept silently)."""
    from openapi_spec_validator import validate

    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    validate(document)
    return document


def render(document_path: Path, out_dir: Path) -> Path:
    """Render the package into ``out_dir`` and return the package folder."""
    from openapi_python_client import generate
    from openapi_python_client.config import Config, ConfigFile, MetaType

    document = load_document(document_path)
    package_dir = out_dir / PACKAGE
    config = Config.from_sources(
        ConfigFile.load_from_path(CONFIG),
        MetaType.NONE,
        document_source=document_path,
        file_encoding="utf-8",
        overwrite=True,
        output_path=package_dir,
    )
    errors = generate(config=config, custom_template_path=TEMPLATES)
    # Warnings (e.g. a dropped schema) are errors here: a silently missing model is worse than a failed build.
    if errors:
        for error in errors:
            print(f"codegen: {error.level.name}: {error.header}: {error.detail}", file=sys.stderr)
        raise SystemExit(1)
    shutil.rmtree(package_dir / ".ruff_cache", ignore_errors=True)
    ruff = [sys.executable, "-m", "ruff"]
    subprocess.run(
        [*ruff, "check", *RUFF_SETTINGS, "--fix-only", "--select", "I,F401", "-q", str(package_dir)],
        check=True,
    )
    subprocess.run([*ruff, "format", *RUFF_SETTINGS, "-q", str(package_dir)], check=True)
    shutil.rmtree(package_dir / ".ruff_cache", ignore_errors=True)
    (package_dir / "openapi.json").write_text(
        json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (package_dir / "py.typed").write_text("# Marker file for PEP 561\n", encoding="utf-8")
    return package_dir


def _files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def compare(expected: Path, actual: Path) -> list[str]:
    """Human-readable differences between the freshly rendered package and the committed one."""
    report: list[str] = []
    want, have = _files(expected), _files(actual) if actual.exists() else set()
    for name in sorted(want - have):
        report.append(f"missing: generated_client/{PACKAGE}/{name}")
    for name in sorted(have - want):
        report.append(f"not generated (stale or hand-added): generated_client/{PACKAGE}/{name}")
    for name in sorted(want & have):
        if not filecmp.cmp(expected / name, actual / name, shallow=False):
            diff = difflib.unified_diff(
                (actual / name).read_text(encoding="utf-8").splitlines(keepends=True),
                (expected / name).read_text(encoding="utf-8").splitlines(keepends=True),
                fromfile=f"committed/{name}",
                tofile=f"from-document/{name}",
                n=1,
            )
            report.append("".join(list(diff)[:60]))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if generated_client/ is not current")
    parser.add_argument("--document", type=Path, default=DOCUMENT, help="the OpenAPI document")
    parser.add_argument("--target", type=Path, default=TARGET, help="the package folder to write or check")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="codegen-") as tmp:
        fresh = render(args.document.resolve(), Path(tmp))
        if args.check:
            report = compare(fresh, args.target)
            if report:
                print(
                    "generated_client/ is not what the document produces; run `python -m codegen`:",
                    file=sys.stderr,
                )
                print("\n".join(report), file=sys.stderr)
                return 1
            print("generated_client/ is current")
            return 0
        shutil.rmtree(args.target, ignore_errors=True)
        shutil.copytree(fresh, args.target)
    print(f"generated {args.target.relative_to(ROOT) if args.target.is_relative_to(ROOT) else args.target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
