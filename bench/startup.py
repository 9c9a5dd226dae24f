"""Start-up cost, side by side in one run: each command is a fresh process, run in turn (interleaved)
``--runs`` times; the medians are printed with ratios to the baselines measured in the same run.

    python bench/startup.py              # 15 interleaved runs of each command
    python bench/startup.py --runs 5     # quicker, noisier
    python bench/startup.py --compare main   # also the same commands on main's source: before/after
                                             # (both sides imported from fresh copies in one tmp folder)

Measured, each as ``python -c ...`` or the installed ``mlp`` script:

- ``pass``: interpreter start, the baseline every other figure is given "over";
- ``import volcengine_ml_platform.models.model`` (target: <= 150 ms over start, <= 0.5x boto3's);
- ``import boto3; boto3.client("s3")``: what a user of the S3 SDK pays;
- ``mlp --version``;
- ``mlp models list`` on the embedded platform, on a data folder with no model and on one with
  ``--models`` models (default 100); target <= 300 ms wall;
- ``mlp models list`` against ``mlp serve`` on loopback;
- ``Model().list_models()`` in Python (import, first Model and its first request), embedded and against
  ``mlp serve``: what the import no longer loads (httpx, ssl, the generated client) is paid here, so
  a cost moved from the import to the first call shows.

``mlp`` is the installed script; under ``--compare`` each tree runs its own entry point (the console
entry ``volcengine_ml_platform._console.run`` where the tree has it, else ``cli.main``).

Wall time is what a user waits for. CPU time (user + system of the child) is printed beside it: on a
shared, loaded machine wall time includes waiting for a core, CPU time much less so. Byte code is
written by a warm-up run first (``PYTHONDONTWRITEBYTECODE`` is removed from the children's
environment), as it is for an installed package. Talks to 127.0.0.1 only and stops what it starts.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SOURCES = ("ergonomic", "generated_client", "server")
PY = sys.executable
MLP = shutil.which("mlp", path=str(Path(PY).parent)) or "mlp"
MODELS = 3
# Each tree's own `mlp` entry point: the console entry where the tree has one, else `cli.main`.
ENTRY = (
    "try:\n    from volcengine_ml_platform._console import run as main\n"
    "except ImportError:\n    from volcengine_ml_platform.cli import main\n"
)

# A Python user's first request: the import, the first Model (its session) and one ListModels.
FIRST_CALL = "from volcengine_ml_platform.models.model import Model\nModel().list_models()"


@dataclass
class Case:
    label: str
    argv: list[str]
    env: Mapping[str, str]
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def run(self) -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(self.argv, env=dict(self.env), capture_output=True, text=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"{self.label} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        self.wall.append(wall * 1000)
        self.cpu.append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000)

    @property
    def wall_ms(self) -> float:
        return statistics.median(self.wall)

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.cpu)


def child_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VOLC", "ML_PLATFORM", "MLP_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(HOME=str(home), VOLC_CONFIG_FILE=str(home / "no-config"), NO_PROXY="127.0.0.1", **extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(data_dir: Path, env: Mapping[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    for _ in range(3):  # a port found free may be taken by someone else before the server binds it
        port = free_port()
        argv = [MLP, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]
        argv += ["--perf-workers", "0"]
        proc = subprocess.Popen(argv, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                if (data_dir / "credentials.json").exists():
                    return proc, url
            except OSError:
                pass
            time.sleep(0.1)
        proc.kill()
        proc.wait()
    raise SystemExit("mlp serve did not start")


def register_models(env: Mapping[str, str], folder: Path) -> None:
    for n in range(MODELS):
        argv = [MLP, "models", "register", str(folder), "--name", f"startup-{n}", "--format", "ONNX"]
        subprocess.run([*argv, "--type", "ONNX:1.23"], env=dict(env), check=True, capture_output=True)


def populate(data_dir: Path, folder: Path, count: int, env: Mapping[str, str]) -> None:
    """``count`` models registered on the embedded platform of ``data_dir``, in one process."""
    code = (
        "import sys\n"
        "from volcengine_ml_platform.models.model import Model\n"
        "m = Model(data_dir=sys.argv[1])\n"
        "for n in range(int(sys.argv[3])):\n"
        "    m.register(sys.argv[2], model_name=f'many-{n}', model_format='ONNX', model_type='ONNX:1.23')\n"
    )
    subprocess.run([PY, "-c", code, str(data_dir), str(folder), str(count)], env=dict(env), check=True)


def from_tree(tree: Path, code: str, *args: str) -> list[str]:
    """``python -c code args`` with the packages imported from the source tree ``tree``."""
    paths = [str(tree / name) for name in SOURCES]
    return [PY, "-c", f"import sys; sys.path[:0] = {paths!r}\n{code}", *args]


def export_tree(ref: str, dest: Path) -> Path:
    """The packages' sources at git ``ref`` of this repository, in ``dest``."""
    dest.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, *SOURCES], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def copy_tree(dest: Path) -> Path:
    """This working tree's packages (uncommitted changes included) copied to ``dest``, so that both
    sides of ``--compare`` import from fresh copies in the same temporary folder (imported in place,
    `mlp --version` of this tree timed up to ~10 ms slower in medians than a copy of the same files)."""
    dest.mkdir()
    for name in SOURCES:
        ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    return dest


def tree_cases(
    label: str,
    tree: Path,
    plain: Mapping[str, str],
    embedded: Mapping[str, str],
    many: Mapping[str, str],
    remote: Mapping[str, str],
) -> list[Case]:
    cli = f"{ENTRY}sys.exit(main())"
    where = (
        f"import volcengine_ml_platform as v, mlp_server as s; assert v.__file__.startswith({str(tree)!r})"
    )
    check = f"{where}; assert s.__file__.startswith({str(tree)!r})"
    subprocess.run(from_tree(tree, check), env=dict(plain), check=True)
    return [
        Case(
            f"import model module [{label}]",
            from_tree(tree, "import volcengine_ml_platform.models.model"),
            plain,
        ),
        Case(f"mlp --version [{label}]", from_tree(tree, cli, "--version"), plain),
        Case(f"mlp models list, embedded, empty [{label}]", from_tree(tree, cli, "models", "list"), embedded),
        Case(f"mlp models list, embedded, many [{label}]", from_tree(tree, cli, "models", "list"), many),
        Case(f"mlp models list, mlp serve [{label}]", from_tree(tree, cli, "models", "list"), remote),
        Case(f"Model().list_models(), embedded [{label}]", from_tree(tree, FIRST_CALL), embedded),
        Case(f"Model().list_models(), mlp serve [{label}]", from_tree(tree, FIRST_CALL), remote),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15, help="interleaved runs of each command (default 15)")
    parser.add_argument(
        "--compare",
        metavar="GIT_REF",
        help="also run the client commands on the sources of this commit (e.g. main), interleaved with "
        "the same commands on this working tree, both imported from source folders",
    )
    parser.add_argument(
        "--models", type=int, default=100, help="models in the larger embedded data folder (default 100)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mlp-bench-startup-") as tmp:
        root = Path(tmp)
        home = root / "home"
        home.mkdir()
        folder = root / "model"
        folder.mkdir()
        (folder / "model.onnx").write_bytes(b"not really onnx: listing does not read it")

        embedded = child_env(home, VOLC_ML_PLATFORM_DATA_DIR=str(root / "embedded"))
        subprocess.run([MLP, "models", "list"], env=dict(embedded), check=True, capture_output=True)
        many = child_env(home, VOLC_ML_PLATFORM_DATA_DIR=str(root / "many"))
        populate(root / "many", folder, args.models, many)

        served_dir = root / "served"
        server, url = start_server(served_dir, child_env(home))
        try:
            import json

            keys = json.loads((served_dir / "credentials.json").read_text())
            remote = child_env(
                home, VOLC_ML_PLATFORM_ENDPOINT=url, VOLC_ACCESSKEY=keys["ak"], VOLC_SECRETKEY=keys["sk"]
            )
            register_models(remote, folder)
            plain = child_env(home)
            cases = [
                Case("interpreter start (python -c pass)", [PY, "-c", "pass"], plain),
                Case(
                    "import volcengine_ml_platform.models.model",
                    [PY, "-c", "import volcengine_ml_platform.models.model"],
                    plain,
                ),
                Case(
                    "import boto3; boto3.client('s3')",
                    [PY, "-c", "import boto3; boto3.client('s3', region_name='us-east-1')"],
                    plain,
                ),
                Case("mlp --version", [MLP, "--version"], plain),
                Case("mlp models list (embedded, no model)", [MLP, "models", "list"], embedded),
                Case(f"mlp models list (embedded, {args.models} models)", [MLP, "models", "list"], many),
                Case("mlp models list (mlp serve)", [MLP, "models", "list"], remote),
                Case("Model().list_models() (embedded, no model)", [PY, "-c", FIRST_CALL], embedded),
                Case("Model().list_models() (mlp serve)", [PY, "-c", FIRST_CALL], remote),
            ]
            compared: list[Case] = []
            if args.compare:
                before = export_tree(args.compare, root / "compare")
                this = copy_tree(root / "this")
                for ours, theirs in zip(
                    tree_cases("this tree", this, plain, embedded, many, remote),
                    tree_cases(args.compare, before, plain, embedded, many, remote),
                    strict=True,
                ):
                    compared += [ours, theirs]
            cases += compared
            for case in cases:  # warm-up: byte code written, files in the page cache
                case.run()
                case.wall.clear()
                case.cpu.clear()
            load_before = os.getloadavg()[0]
            for _ in range(args.runs):
                for case in cases:
                    case.run()
        finally:
            server.terminate()
            server.wait(timeout=30)

    start, ours, boto = cases[0], cases[1], cases[2]
    print(
        f"{args.runs} interleaved runs of each; medians in ms; load average {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} cores)"
    )
    print(f"{'command':46} {'wall':>7} {'over start':>10} {'cpu':>7} {'over start':>10}")
    for case in cases:
        print(
            f"{case.label:46} {case.wall_ms:7.1f} {case.wall_ms - start.wall_ms:10.1f} "
            f"{case.cpu_ms:7.1f} {case.cpu_ms - start.cpu_ms:10.1f}"
        )
    for what, a, b in (("wall", ours.wall_ms, boto.wall_ms), ("cpu", ours.cpu_ms, boto.cpu_ms)):
        base = start.wall_ms if what == "wall" else start.cpu_ms
        print(
            f"import of our model module over start / boto3 + S3 client over start ({what}): "
            f"{(a - base) / (b - base):.2f}x (target <= 0.5x)"
        )
    print(
        f"import over start: {ours.wall_ms - start.wall_ms:.0f} ms wall (target <= 150 ms); "
        f"embedded mlp models list: {cases[4].wall_ms:.0f} ms wall with no model, {cases[5].wall_ms:.0f} ms "
        f"with {args.models} (target <= 300 ms)"
    )
    if compared:
        print(f"\nthis tree vs {args.compare} (both imported from source folders), over interpreter start:")
        for mine, theirs in zip(compared[::2], compared[1::2], strict=True):
            what = mine.label.rsplit(" [", 1)[0]
            print(
                f"{what:40} wall {mine.wall_ms - start.wall_ms:7.1f} vs {theirs.wall_ms - start.wall_ms:7.1f}"
                f" ({(mine.wall_ms - start.wall_ms) / (theirs.wall_ms - start.wall_ms):.2f}x);"
                f" cpu {mine.cpu_ms - start.cpu_ms:7.1f} vs {theirs.cpu_ms - start.cpu_ms:7.1f}"
                f" ({(mine.cpu_ms - start.cpu_ms) / (theirs.cpu_ms - start.cpu_ms):.2f}x)"
            )


if __name__ == "__main__":
    main()
