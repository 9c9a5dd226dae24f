"""What a new user of ``mlp`` trips on, pinned: ``--version``, a quiet closed pipe, JSON errors under
``-o json``, "did you mean", enums in any case, help on every command and argument, listing footers
on stderr, ``--all``, models by name and ``latest``, one flavor check for perf and deploy, a fast
failure for a platform that is not running, a hint for an endpoint without a scheme, ``mlp
configure`` with profiles, and a warning for a misspelt config key."""

from __future__ import annotations

import argparse
import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from mlp_testing import free_port
from volcengine_ml_platform import __version__
from volcengine_ml_platform.cli import CLIENT_GROUPS, build_parser, command_group
from volcengine_ml_platform.models import validation

from ._support import EXAMPLE, EXAMPLE_TENSOR_CONFIG, MODULE_CMD, Peer, clean_env, files_of, run_mlp

REGISTER = ("--format", "onnx", "--type", "ONNX:1.23")  # the format in lower case on purpose


def _register(peer: Peer, name: str, *extra: str) -> str:
    return (
        peer.run("models", "register", str(EXAMPLE), "--name", name, *REGISTER, *extra).ok().kv()["ModelID"]
    )


def test_version(embedded_peer: Peer) -> None:
    result = embedded_peer.run("--version").ok()
    assert result.out.strip() == f"mlp {__version__}"


def test_a_closed_pipe_ends_quietly(embedded_peer: Peer) -> None:
    """``mlp models list | head -1``, as a shell runs it: the reader exits after one line."""
    for i in range(4):
        _register(embedded_peer, f"pipe-{uuid.uuid4().hex[:6]}-{i}")
    for _ in range(5):  # the race is timing-dependent: repeat it
        proc = subprocess.Popen(
            [*MODULE_CMD, "models", "list", "--all"],
            env=embedded_peer.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        proc.stdout.readline()
        proc.stdout.close()  # as `head -1` does once it has its line
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert b"BrokenPipe" not in err and b"Traceback" not in err and b"Exception" not in err, err


def test_errors_under_json_output_are_the_error_envelope(embedded_peer: Peer) -> None:
    missing, usage = embedded_peer.run_all(
        ("-o", "json", "models", "show", "m-20200101000000-aaaaa"),
        ("models", "list", "--limit", "0", "-o", "json"),
    )
    error = json.loads(missing.fails(1).err)["ResponseMetadata"]
    assert error["Error"]["Code"] == "NotFound" and error["HTTPStatus"] == 404 and error["RequestId"]
    assert "m-20200101000000-aaaaa" in error["Error"]["Message"]
    error = json.loads(usage.fails(2).err)["ResponseMetadata"]["Error"]
    assert error["Code"] == "InvalidParameter" and error["Field"] == "--limit", usage
    assert error["Message"].startswith("argument --limit: page_size: 0"), usage


def test_did_you_mean(embedded_peer: Peer) -> None:
    command, subcommand, choice = embedded_peer.run_all(
        ("modles", "list"), ("models", "lsit"), ("models", "list", "--sort-by", "CreatTime")
    )
    assert "did you mean 'models'?" in command.fails(2).err, command
    assert "did you mean 'list'?" in subcommand.fails(2).err, subcommand
    assert "did you mean 'CreateTime'?" in choice.fails(2).err, choice


def test_every_command_and_argument_has_help() -> None:
    missing: list[str] = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        if not parser.description:
            missing.append(f"{path}: no description")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}")
            elif not action.help and action.dest != "help":
                missing.append(f"{path}: {action.dest} has no help")

    walk(build_parser(), "mlp")
    assert missing == []


def test_listings_put_the_footer_on_stderr_and_all_pages_with_all(embedded_peer: Peer) -> None:
    prefix = f"all-{uuid.uuid4().hex[:8]}"
    ids = [_register(embedded_peer, f"{prefix}-{i}") for i in range(5)]
    page, everything, as_json = embedded_peer.run_all(
        ("models", "list", "--name-contains", prefix, "--limit", "2"),
        ("models", "list", "--name-contains", prefix, "--all", "--limit", "2"),
        ("-o", "json", "models", "list", "--name-contains", prefix, "--all"),
    )
    assert "shown of" not in page.ok().out and page.err.strip() == "(2 shown of 5)", page
    assert len(page.out.splitlines()) == 3  # header and two rows: `| wc -l` counts rows only
    table = everything.ok().table()
    assert table.column("MODEL ID") == ids[::-1] and (table.shown, table.total) == (5, 5), everything
    result = as_json.ok().json()["Result"]
    assert result["Total"] == 5 and [m["ModelID"] for m in result["List"]] == ids[::-1], as_json


def test_models_by_name_and_latest_version(peer: Peer, tmp_path: Path) -> None:
    name = f"byname-{uuid.uuid4().hex[:8]}"
    model_id = _register(peer, name)
    added = peer.run(
        "models", "register", str(EXAMPLE), "--name", name, *REGISTER, "--if-exists", "new_version"
    ).ok()  # fmt: skip
    assert added.kv()["ModelID"] == model_id, added
    shown, latest, download = peer.run_all(
        ("models", "show", name),
        ("versions", "show", name, "latest"),
        ("versions", "download", name, "latest", str(tmp_path / "copy")),
    )
    assert shown.ok().kv()["ModelID"] == model_id and shown.kv()["LatestVersion"] == "2", shown
    assert latest.ok().kv()["ModelVersion"] == "2", latest
    assert download.ok().out.startswith(f"downloaded {len(files_of(EXAMPLE))} file(s)"), download
    assert files_of(tmp_path / "copy") == files_of(EXAMPLE)

    twin = _register(peer, name)  # the default still creates another model of that name
    ambiguous = peer.run("models", "show", name).fails(1)
    assert f"2 models are named {name!r}" in ambiguous.err and twin in ambiguous.err, ambiguous
    unknown = peer.run("versions", "list", f"{name}-nothing").fails(1)
    assert f"no model is named '{name}-nothing'" in unknown.err, unknown


def test_download_refuses_to_overwrite_an_edited_file_without_force(
    embedded_peer: Peer, tmp_path: Path
) -> None:
    model_id = _register(embedded_peer, f"force-{uuid.uuid4().hex[:8]}")
    dest = tmp_path / "copy"
    embedded_peer.run("versions", "download", model_id, "1", str(dest)).ok()
    (dest / "model.onnx").write_bytes(b"edited")
    refused = embedded_peer.run("versions", "download", model_id, "1", str(dest)).fails(2)
    assert "model.onnx" in refused.err and "--force" in refused.err, refused
    assert (dest / "model.onnx").read_bytes() == b"edited"
    embedded_peer.run("versions", "download", model_id, "1", str(dest), "--force").ok()
    assert (dest / "model.onnx").read_bytes() == (EXAMPLE / "model.onnx").read_bytes()


def test_an_argument_that_is_not_utf8_is_refused_before_the_upload(embedded_peer: Peer) -> None:
    """A byte that is not UTF-8 in argv (a Latin-1 terminal) reaches Python as a lone surrogate: it is
    refused by its argument (exit 2) before anything is uploaded, not a UnicodeEncodeError after the
    upload that left the uploaded files behind."""
    objects = embedded_peer.data_dir / "objects"

    def uploads() -> set[Path]:
        return {p for p in objects.rglob("*") if p.is_file() and "modelrepo" in p.parts}

    before = uploads()
    name = f"latin1-{uuid.uuid4().hex[:6]}"
    result = embedded_peer.run(
        "models", "register", str(EXAMPLE), "--name", name, *REGISTER, "--description", "caf\udce9"
    ).fails(2)

    assert "--description" in result.err and "lone surrogate" in result.err, result
    assert "unexpected error" not in result.err, result
    assert uploads() == before
    assert name not in embedded_peer.run("models", "list", "--name-contains", name).ok().out


def test_perf_and_deploy_check_an_unknown_flavor_the_same_way(embedded_peer: Peer) -> None:
    model_id = _register(embedded_peer, f"flavor-{uuid.uuid4().hex[:8]}")
    perf, deploy = embedded_peer.run_all(
        (
            "perf",
            "create",
            model_id,
            "1",
            "--tensor-config",
            str(EXAMPLE.parent / "iris-onnx" / "perf_tensor_config.json"),
            "--flavor",
            "ml.nope",
        ),
        ("deploy", model_id, "1", "svc", "--flavor", "ml.nope"),
    )
    for result in (perf.fails(2), deploy.fails(2)):
        assert "'ml.nope' is not offered here; available: ml.c1i.2xlarge" in result.err, result
        assert "RequestId" not in result.err, result  # refused before anything was sent


def test_enums_in_any_case(embedded_peer: Peer) -> None:
    """``--format onnx`` registered above; the sort options and the output format too."""
    result = embedded_peer.run(
        "-o", "JSON", "models", "list", "--sort-by", "modelname", "--sort-order", "ascend"
    )
    assert result.ok().json()["ResponseMetadata"]["Action"] == "ListModels", result
    assert EXAMPLE_TENSOR_CONFIG.is_file()


def test_a_platform_that_is_not_running_fails_fast(tmp_path: Path) -> None:
    env = clean_env(tmp_path, VOLC_ACCESSKEY="AKLTx", VOLC_SECRETKEY="secret")
    port = free_port()
    start = time.monotonic()
    result = run_mlp(["--endpoint", f"http://127.0.0.1:{port}", "models", "list"], env).fails(1)
    assert time.monotonic() - start < 4.0, result  # was 6.4 s of retries
    assert "Connection refused" in result.err and "is `mlp serve` running there?" in result.err, result


def test_an_endpoint_without_a_scheme_gets_a_hint(served_peer: Peer) -> None:
    assert served_peer.url is not None
    bare = served_peer.url.removeprefix("http://")
    result = served_peer.run("models", "list", env={"VOLC_ML_PLATFORM_ENDPOINT": bare}).fails(1)
    assert "an endpoint without a scheme means https" in result.err, result
    assert "http://HOST:PORT" in result.err, result


def test_endpoint_without_keys_names_credentials_json(tmp_path: Path) -> None:
    result = run_mlp(["--endpoint", "http://127.0.0.1:9", "models", "list"], clean_env(tmp_path)).fails(1)
    assert "credentials.json" in result.err and "mlp configure" in result.err, result


def test_configure_writes_profiles_that_settings_use(tmp_path: Path, served_peer: Peer) -> None:
    config = tmp_path / "volc-config"
    env = clean_env(tmp_path, VOLC_CONFIG_FILE=str(config))
    ak, sk = served_peer.env["VOLC_ACCESSKEY"], served_peer.env["VOLC_SECRETKEY"]
    assert served_peer.url is not None
    saved = run_mlp(
        [
            "configure",
            "--profile",
            "team",
            "--endpoint",
            served_peer.url,
            "--access-key",
            ak,
            "--secret-key",
            sk,
        ],
        env,
    ).ok()
    assert sk not in saved.out and ak not in saved.out, saved
    run_mlp(["configure", "--region", "cn-shanghai"], env).ok()
    data = json.loads(config.read_text(encoding="utf-8"))
    assert data == {
        "profiles": {"team": {"ak": ak, "sk": sk, "endpoint": served_peer.url}},
        "region": "cn-shanghai",
    }
    assert config.stat().st_mode & 0o777 == 0o600

    default, team, by_env = (
        run_mlp(["-o", "json", "config", "show"], env),
        run_mlp(["-o", "json", "--profile", "team", "models", "list"], env),
        run_mlp(["-o", "json", "config", "show"], {**env, "VOLC_PROFILE": "team"}),
    )
    assert default.ok().json()["mode"]["value"] == "embedded", default
    assert team.ok().json()["ResponseMetadata"]["Action"] == "ListModels", team  # reached the server
    shown = by_env.ok().json()
    assert shown["profile"] == {"value": "team", "source": "env:VOLC_PROFILE"}, by_env
    assert shown["endpoint"] == {"value": served_peer.url, "source": f"file:{config}"}, by_env
    missing = run_mlp(["--profile", "nope", "config", "show"], env).fails(2)
    assert "no profile 'nope' (profiles: team)" in missing.err, missing


def test_a_misspelt_config_key_is_a_warning(tmp_path: Path) -> None:
    config = tmp_path / "volc-config"
    config.write_text(json.dumps({"regoin": "cn-shanghai"}), encoding="utf-8")
    result = run_mlp(["config", "show"], clean_env(tmp_path, VOLC_CONFIG_FILE=str(config))).ok()
    assert "unknown key 'regoin' ignored (did you mean 'region'?)" in result.err, result


@pytest.mark.parametrize("command", [("account", "add", "--help"), ("deploy", "--help"), ("serve", "--help")])
def test_commands_describe_themselves(embedded_peer: Peer, command: tuple[str, ...]) -> None:
    result = embedded_peer.run(*command).ok()
    description = result.out.split("\n\n")[1]
    assert len(description.split()) >= 4, result


def test_the_readme_perf_example_is_shipped_and_fits_the_example_model() -> None:
    readme = (EXAMPLE.parents[1] / "README.md").read_text(encoding="utf-8")
    perf = EXAMPLE / "perf_tensor_config.json"
    assert f"--tensor-config examples/iris-onnx/{perf.name}" in readme
    config = json.loads(perf.read_text(encoding="utf-8"))
    validation.validate_perf_job_tensor_config(config)
    model_inputs = json.loads(EXAMPLE_TENSOR_CONFIG.read_text(encoding="utf-8"))["Inputs"]
    assert [i["TensorName"] for i in config["Inputs"]] == [i["TensorName"] for i in model_inputs]


def _shape(parser: argparse.ArgumentParser) -> object:
    """Everything parsing depends on: each argument's options, dest, nargs, default, choices, and each
    subcommand's own shape."""
    shape: list[object] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            shape.append({name: _shape(sub) for name, sub in action.choices.items()})
        else:
            choices = None if action.choices is None else list(action.choices)
            shape.append((action.option_strings, action.dest, action.nargs, action.default, choices))
    return shape


@pytest.mark.parametrize("group", CLIENT_GROUPS)
def test_a_group_built_alone_parses_as_in_the_whole_parser(group: str) -> None:
    whole = _shape(build_parser())
    alone = _shape(build_parser(only=group))

    def group_of(shape: object) -> object:
        assert isinstance(shape, list)
        subcommands = next(item for item in shape if isinstance(item, dict))
        return subcommands[group]

    assert group_of(alone) == group_of(whole)


@pytest.mark.parametrize(
    ("argv", "group"),
    [
        (["models", "list"], "models"),
        (["-o", "json", "versions", "list", "m"], "versions"),
        (["-ojson", "perf", "tasks"], "perf"),
        (["--region", "perf", "models", "list"], "models"),  # an option's value is not a command
        (["--reg", "perf", "models", "list"], "models"),  # nor an abbreviated option's
        (["--endpoint=http://h", "deploy", "m", "1", "svc"], "deploy"),
        (["--debug", "services", "list"], "services"),
        (["serve"], None),  # the local platform's commands: the whole parser
        (["ver"], None),  # a mistyped command: the whole parser says what was meant
        (["--help"], None),
        ([], None),
    ],
)
def test_the_command_group_is_found_before_parsing(argv: list[str], group: str | None) -> None:
    assert command_group(argv) == group
