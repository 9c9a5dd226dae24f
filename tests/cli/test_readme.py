"""The README's examples, so that it cannot drift from the product:

- "Two commands": the tests line is what ``.ci/run`` runs, and the main-job line works on a fresh clone
  in a clean virtual environment (``git clone`` of HEAD, ``python3 -m venv``, ``pip install -e .`` from
  the package index or pip's cache, then the quickstart);
- every ``mlp`` command line it shows parses with the real parser (a renamed flag or command fails);
- the command lines of "The `mlp` command" run, in order, on an embedded platform, and print what the
  README says they print;
- its Python examples (Quickstart, asyncio, cross-account, perf jobs, deployed services) run as written,
  in one process on an embedded platform, with only the README's placeholders (``m-...``) filled in."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from volcengine_ml_platform import __version__
from volcengine_ml_platform.cli import build_parser

from ._support import EXAMPLE, MISSING_MODEL, REPO, Result, clean_env, run_mlp

INSTALL_TIMEOUT = 15 * 60  # pip may download every dependency


def two_commands() -> tuple[str, str]:
    """The two indented command lines under "## Two commands": (main job, tests)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("## Two commands")
    end = text.index("\n## ", start + 1)
    commands = [line.strip() for line in text[start:end].splitlines() if line.startswith("    ")]
    assert len(commands) == 2, f"expected two commands under 'Two commands', found {commands}"
    main_job, tests = commands
    return main_job, tests


def ci_command() -> str:
    lines = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    commands = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return commands[-1]


def test_readme_tests_line_is_what_ci_runs() -> None:
    _, tests = two_commands()
    assert tests == ci_command()
    assert tests.startswith("python3 -m venv .venv && ")


def test_readme_main_job_line_runs_the_quickstart() -> None:
    main_job, _ = two_commands()
    assert shlex.split(main_job) == [
        *("python3", "-m", "venv", ".venv", "&&"),
        *(".venv/bin/pip", "install", "-e", ".", "&&"),
        *(".venv/bin/python", "examples/quickstart.py"),
    ]


def _uncommitted(paths: list[str]) -> str:
    """What a fresh clone would miss (read-only git queries)."""
    untracked = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard", "--", *paths],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    modified = subprocess.run(
        ["git", "diff", "--name-only", "HEAD", "--", *paths],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return f"untracked:\n{untracked or '(none)'}\nmodified since HEAD:\n{modified or '(none)'}"


@pytest.mark.slow
def test_readme_main_job_on_a_fresh_clone(tmp_path: Path) -> None:
    main_job, _ = two_commands()
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)

    # "python3" is the interpreter running these tests (its base, not this virtualenv).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    base_python = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    (bin_dir / "python3").symlink_to(base_python)
    env = clean_env(tmp_path)
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = os.pathsep.join([str(bin_dir), *(p for p in env.get("PATH", "").split(os.pathsep) if p)])

    proc = subprocess.run(
        ["bash", "-c", main_job],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )
    report = (
        f"$ {main_job}\n-> exit {proc.returncode}\n--- stdout (tail) ---\n{proc.stdout[-4000:]}\n"
        f"--- stderr (tail) ---\n{proc.stderr[-4000:]}\n"
        f"--- what the clone lacks from the working tree ---\n"
        f"{_uncommitted(['ergonomic', 'server', 'generated_client', 'examples', 'pyproject.toml'])}"
    )
    assert proc.returncode == 0, report
    assert (clone / ".venv" / "bin" / "python").exists(), report
    assert "identical to the original: True" in proc.stdout, report
    assert "registered m-" in proc.stdout and "version  1  ONNX  ONNX:1.23" in proc.stdout, report
    assert "Traceback" not in proc.stderr, report


# ---- every mlp command line the README shows ------------------------------------------------------------

# What the README writes for an ID or a value the reader fills in, and a well-formed stand-in.
PLACEHOLDERS = {"m-...": MISSING_MODEL, "s-...": "s-20200101000000-aaaaa", "pj-...": "pj-x", "...": "x"}


def readme_text() -> str:
    return (REPO / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text under the heading ``title`` (any level), up to the next heading of that level or above
    (a ``#`` line inside fenced code is a comment, not a heading)."""
    lines = readme_text().splitlines(keepends=True)
    fenced = False
    start = level = None
    for i, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        heading = None if fenced else re.match(r"(#+) (.*)", line)
        if heading is None:
            continue
        if start is None and heading.group(2).strip() == title:
            start, level = i + 1, len(heading.group(1))
        elif start is not None and level is not None and len(heading.group(1)) <= level:
            return "".join(lines[start:i])
    assert start is not None, f"no heading {title!r} in README.md"
    return "".join(lines[start:])


def command_lines(text: str) -> list[str]:
    """The indented (4+ spaces) lines outside fenced code, joined where a line ends with a backslash."""
    lines: list[str] = []
    fenced = False
    pending = ""
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced or not line.startswith("    "):
            continue
        line = pending + line.strip()
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        pending = ""
        lines.append(line)
    return lines


def mlp_argv(line: str) -> list[str]:
    """``mlp ARGS`` of a README line, its comment and any ``| ...`` pipe dropped, placeholders filled."""
    words = shlex.split(line, comments=True)
    if "|" in words:
        words = words[: words.index("|")]
    assert words[0] == "mlp", line
    return [PLACEHOLDERS.get(word, word) for word in words[1:]]


def test_every_mlp_command_line_of_the_readme_parses() -> None:
    lines = [line for line in command_lines(readme_text()) if line.startswith("mlp ")]
    assert len(lines) >= 25, lines  # the extraction still finds the README's commands
    parser = build_parser()
    refused = []
    for line in lines:
        argv = mlp_argv(line)
        try:
            parser.parse_args(argv)
        except SystemExit as exc:  # argparse's error (exit 2), or --version/--help (exit 0)
            if exc.code != 0:
                refused.append(line)
    assert refused == [], f"README command lines the mlp parser refuses (see stderr): {refused}"


def test_every_mlp_command_the_readme_names_in_its_text_exists(capsys: pytest.CaptureFixture[str]) -> None:
    """The inline mentions (`` `mlp db upgrade --data-dir DIR` ``) are often fragments: an argument left
    out is fine, a command or flag the parser does not know is not."""
    spans = {
        span
        for span in re.findall(r"`(mlp [^`]+)`", readme_text())
        if "..." not in span and not span.startswith("mlp serving lock")  # a session's name, not a command
    }
    assert len(spans) >= 25, spans
    unknown = []
    for span in sorted(spans):
        try:
            build_parser().parse_args(shlex.split(span)[1:])
        except SystemExit as exc:
            said = capsys.readouterr().err
            if exc.code != 0 and ("invalid choice" in said or "unrecognized arguments" in said):
                unknown.append((span, said.strip().splitlines()[-1]))
    assert unknown == []


def test_the_readme_mlp_command_parser_check_catches_a_renamed_flag() -> None:
    """The check above would see a flag the README names and the command lacks."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(mlp_argv("mlp models list --name-containing iris  # a typo"))


# ---- the mlp command section, run ------------------------------------------------------------------


@pytest.fixture
def readme_cwd(tmp_path: Path) -> Path:
    """A folder where the README's relative paths resolve as at the repository root (``examples/``)
    while what the commands write (``./iris-copy``) stays in tmp."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "examples").symlink_to(REPO / "examples", target_is_directory=True)
    return cwd


def test_the_mlp_command_section_runs_as_written(tmp_path: Path, readme_cwd: Path) -> None:
    lines = [line for line in command_lines(section("The `mlp` command")) if line.startswith("mlp ")]
    assert len(lines) == 12, lines
    env = clean_env(tmp_path, MLP_PERF_MEASURE_SECONDS="0.2")
    results: dict[str, Result] = {}
    model_id = ""
    for line in lines:
        argv = mlp_argv(line)
        if "pj-x" in argv:  # the job the perf line made
            jobs = run_mlp(["-o", "json", "perf", "list"], env, cwd=readme_cwd).ok().json()
            argv[argv.index("pj-x")] = jobs["Result"]["List"][0]["JobID"]
        result = run_mlp(argv, env, cwd=readme_cwd, timeout=180).ok()
        results[line] = result
        if "| jq '.Result.List[].ModelID'" in line:  # what the pipe shows: one model, by its ID
            assert [m["ModelID"] for m in result.json()["Result"]["List"]] == [model_id], result
        elif line.startswith("mlp models register"):
            model_id = result.kv()["ModelID"]

    by_start = {line.split("#")[0].strip(): result for line, result in results.items()}

    def result_of(start: str) -> Result:
        (found,) = [r for line, r in by_start.items() if line.startswith(start)]
        return found

    versions = result_of("mlp versions list iris").table()
    assert versions.column("VERSION") == ["2", "1"], versions  # --if-exists new_version added one
    listed = result_of("mlp models list --name-contains iris --all").table()
    assert (listed.column("NAME"), listed.shown, listed.total) == (["iris"], 1, 1), listed
    downloaded = result_of("mlp versions download iris latest ./iris-copy")
    assert re.fullmatch(r"downloaded 3 file\(s\), \d+ bytes, to \./iris-copy\n", downloaded.out)
    assert sorted(p.name for p in (readme_cwd / "iris-copy").iterdir()) == sorted(
        p.name for p in EXAMPLE.iterdir()
    )
    (task,) = result_of("mlp perf create iris latest").table().rows
    assert task["STATUS"] == "Success", task
    assert result_of("mlp perf tasks --job-id").table().column("STATUS") == ["Success"]
    deployed = result_of("mlp deploy iris latest iris-svc")
    assert json.loads(deployed.kv()["ServiceDeployment"])["Envs"] == [{"Name": "LOG_LEVEL", "Value": "info"}]
    assert "run `mlp serve --data-dir" in deployed.err, deployed  # an mlp command serves nothing
    services = run_mlp(["services", "list"], env, cwd=readme_cwd).ok().table()
    assert services.rows[0]["REPLICAS"] == "3" and services.rows[0]["STATUS"] == "Pending", services
    assert "MESSAGE" in services.headers and "mlp serve --data-dir" in services.rows[0]["MESSAGE"]
    assert "data_dir" in result_of("mlp config show").out
    assert result_of("mlp --version").out == f"mlp {__version__}\n"


# ---- the Python examples, run ----------------------------------------------------------------------

TENANT = "2100000050"  # the cross-account example's target account


def python_blocks(title: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", section(title), re.MULTILINE | re.DOTALL)


def _readme_program(tenant_keys: dict[str, str]) -> str:
    """The README's Python examples in order, as one program, with checks between them. The only
    changes: the asyncio block runs in ``asyncio.run``, the cross-account block's ``m-...``/``pf-...``
    placeholders name a model, version and perf task made in the target account beforehand, and the
    perf block runs before the cross-account one (which needs a perf task)."""
    quickstart, beyond, awaited, cross_account = python_blocks("Quickstart")
    (perf,) = python_blocks("Perf and conversion jobs")
    (deployed,) = python_blocks("Deployed services")
    assert '"m-...-1"' in cross_account and '"m-..."' in cross_account and '"pf-..."' in cross_account
    cross_account = (
        cross_account.replace('"m-...-1"', "f'{TENANT_MODEL}-1'")
        .replace('"m-..."', "TENANT_MODEL")
        .replace('"pf-..."', "TENANT_TASK")
    )
    checks = {
        "quickstart": "assert service.refresh().result.service_deployment.replicas == 2",
        "beyond": "assert model.get_model_version(resnet.model_id, 'latest').result.model_version == 2\n"
        "assert sorted(p.name for p in Path('copy').iterdir()) == sorted(os.listdir('resnet-v2'))",
        "awaited": "",
        "perf": "assert sorted(t.task_status for t in tasks.result.list_) == ['Success', 'Success'], tasks",
        "tenant": f"""
from volcengine_ml_platform.models.model import Model as TenantModel
tenant = TenantModel(access_key={tenant_keys["ak"]!r}, secret_key={tenant_keys["sk"]!r})
TENANT_MODEL = tenant.register("./converted", model_name="tenant", model_format="ONNX",
                               model_type="ONNX:1.23").result.model_id
tenant_job = tenant.create_perf_job(TENANT_MODEL, "1", {{"Inputs": [{{"TensorName": "features",
    "DType": "FLOAT", "Shape": {{"MinShape": [1, 4], "MaxShape": [2, 4]}}}}]}}, "PERF_ONLY",
    [{{"FlavorIDList": ["ml.c1i.large"]}}])
TENANT_TASK = tenant.wait_perf_job(tenant_job.result.job_id, timeout=120).result.list_[0].task_id
""",
        "cross_account": "versions = tenant.get_model_versions(TENANT_MODEL).result.list_\n"
        "assert [v.model_version for v in versions] == [2, 1], versions",
        "deployed": "assert service.status == 'Running'\n"
        "out = service.predict({'features': [[5.1, 3.5, 1.4, 0.2]]})\n"
        "assert list(out) == ['probabilities'] and out['probabilities'].shape == (1, 3), out",
    }
    parts = [
        "import asyncio\nimport os\nfrom pathlib import Path\n",
        quickstart,
        checks["quickstart"],
        beyond,
        checks["beyond"],
        "async def readme_async():\n" + textwrap.indent(awaited, "    ") + "\nasyncio.run(readme_async())\n",
        perf,
        checks["perf"],
        checks["tenant"],
        cross_account,
        checks["cross_account"],
        deployed,
        checks["deployed"],
        "print('README EXAMPLES RAN')",
    ]
    return "\n".join(parts)


def test_the_readme_python_examples_run_as_written(tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    for name in ("resnet", "resnet-v2", "repo", "converted"):  # the model folders the examples name
        shutil.copytree(EXAMPLE, cwd / name)
    (cwd / "repo" / "tokenizer").mkdir()
    (cwd / "repo" / "tokenizer" / "vocab.txt").write_text("a\n", encoding="utf-8")
    (cwd / "repo" / "weights.ckpt").write_bytes(b"left out")
    env = clean_env(tmp_path, MLP_PERF_MEASURE_SECONDS="0.1", MLP_PERF_WORKERS="2")
    del env["VOLC_ML_PLATFORM_DATA_DIR"]  # "the embedded local platform in ~/.volc/ml_platform"
    data_dir = Path(env["HOME"]) / ".volc" / "ml_platform"
    add = ["-o", "json", "account", "add", "--account-id", TENANT, "--data-dir", str(data_dir)]
    tenant_file = Path(run_mlp(add, env).ok().json()["CredentialsFile"])
    tenant_keys = json.loads(tenant_file.read_text(encoding="utf-8"))
    program = _readme_program(tenant_keys)
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    report = f"--- stdout ---\n{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-6000:]}"
    assert done.returncode == 0, report
    assert done.stdout.rstrip().endswith("README EXAMPLES RAN"), report
    assert sorted(os.listdir(cwd / "resnet-copy")) == sorted(os.listdir(EXAMPLE))
    # The selection example: only *.onnx and tokenizer/ of ./repo were registered.
    x = run_mlp(["-o", "json", "versions", "list", "x"], env, cwd=cwd).ok().json()["Result"]["List"]
    assert len(x) == 1, x
    copy = tmp_path / "x-copy"
    run_mlp(["versions", "download", "x", "1", str(copy)], env, cwd=cwd).ok()
    assert sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()) == [
        "model.onnx",
        "tokenizer/vocab.txt",
    ]


def test_the_https_client_trusts_the_ca_of_the_folder_the_readme_serves() -> None:
    """``--tls-self-signed`` writes its CA to ``<data dir>/tls/ca.pem``: the README's client line names
    the CA file of the data folder its serve line uses."""
    lines = command_lines(section("HTTPS"))
    (serve,) = [line for line in lines if line.startswith("mlp serve --tls-self-signed")]
    args = build_parser().parse_args(mlp_argv(serve))
    (export,) = [line for line in lines if line.startswith("export REQUESTS_CA_BUNDLE=")]
    bundle = shlex.split(export)[1].removeprefix("REQUESTS_CA_BUNDLE=")
    assert args.data_dir is not None, f"{serve!r} serves the default folder, not the one {export!r} names"
    assert Path(bundle) == Path(args.data_dir) / "tls" / "ca.pem", (serve, export)


def test_every_setting_the_readme_names_is_read_by_the_code() -> None:
    """Each ``MLP_*``/``VOLC_*``/``VOLCENGINE_*`` variable the README tells a user to set is one the
    client or the platform reads (a renamed variable would otherwise be silently ignored)."""
    named = set(re.findall(r"\b((?:MLP|VOLC|VOLCENGINE)_[A-Z0-9_]*[A-Z0-9])\b", readme_text()))
    assert {"MLP_DATABASE_URL", "VOLC_ML_PLATFORM_ENDPOINT", "VOLC_TOS_ADDRESSING"} <= named
    source = "\n".join(
        path.read_text(encoding="utf-8")
        for root in ("ergonomic/volcengine_ml_platform", "server/mlp_server")
        for path in (REPO / root).rglob("*.py")
    )
    assert sorted(name for name in named if f'"{name}"' not in source) == []
