"""Exit codes and stderr of ``mlp``: 0 on success; 1 with the service's Code and RequestId for a
service error; 2 with a message naming the argument for bad input caught client-side and for argparse
errors (with usage); never a traceback. The invalid perf task transition is in ``test_flow.py``.

Each group's cases run at once (module fixtures) and each case is asserted by its own test."""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from mlp_testing import free_port

from ._support import EXAMPLE, MISSING_MODEL, REQUEST_ID, Peer, Result, clean_env, parallel, run_mlp

REGISTER = ("models", "register", str(EXAMPLE), "--name", "never-registered", "--format", "ONNX")

NOT_FOUND: dict[str, tuple[tuple[str, ...], str]] = {
    "models-show": (("models", "show", MISSING_MODEL), f"Model {MISSING_MODEL} does not exist"),
    "versions-show": (("versions", "show", MISSING_MODEL, "1"), f"{MISSING_MODEL}-1"),
    "versions-list-json": (("-o", "json", "versions", "list", MISSING_MODEL), MISSING_MODEL),
}

# bad input caught before anything is sent: (args, the start of the message, naming the mlp argument)
REGISTER_VALID = (*REGISTER, "--type", "ONNX:1.23")
CLIENT_SIDE: dict[str, tuple[tuple[str, ...], str]] = {
    "nonexistent-path": (
        ("models", "register", "/no/such/model", "--name", "x", "--format", "ONNX", "--type", "ONNX:1.23"),
        "argument path: local_path: '/no/such/model' does not exist",
    ),
    "type-without-colon": (
        (*REGISTER, "--type", "ONNX"),
        "argument --type: model_type: 'ONNX' is not valid; expected `<framework>:<version>`",
    ),
    "bad-json": ((*REGISTER_VALID, "--tensor-config", '{"Inputs": [}'), "--tensor-config: not valid JSON"),
    "missing-json-file": (
        (*REGISTER_VALID, "--tensor-config", "no-such.json"),
        "--tensor-config: 'no-such.json' is neither JSON nor a readable file",
    ),
    "tensor-config-shape": (
        (*REGISTER_VALID, "--tensor-config", '{"Inputs": 1}'),
        "argument --tensor-config: tensor_config.Inputs: expected array",
    ),
    "bad-tag": ((*REGISTER_VALID, "--tag", "novalue"), "--tag: expected KEY=VALUE, got 'novalue'"),
    "bad-env": (("deploy", MISSING_MODEL, "1", "svc", "--env", "=1"), "--env: expected NAME=VALUE, got '=1'"),
    "limit-out-of-range": (("models", "list", "--limit", "0"), "argument --limit: page_size: 0 is less"),
    "perf-without-flavor": (
        ("perf", "create", MISSING_MODEL, "1", "--tensor-config", '{"Inputs": []}'),
        "--flavor: give at least one flavor",
    ),
}

# argparse errors: (args, the message)
USAGE: dict[str, tuple[tuple[str, ...], str]] = {
    "unknown-format": (
        (*REGISTER, "--format", "NotAFormat", "--type", "ONNX:1.23"),
        "argument --format: invalid choice: 'NotAFormat'",
    ),
    "unknown-subcommand": (("models", "frobnicate"), "invalid choice: 'frobnicate'"),
    "unknown-command": (("frobnicate",), "invalid choice: 'frobnicate'"),
    "missing-positional": (("models", "show"), "the following arguments are required: MODEL"),
    "missing-dest": (
        ("versions", "download", MISSING_MODEL, "1"),
        "the following arguments are required: dest",
    ),
    "bad-status": (("perf", "update-task", "pf-x", "Done"), "argument status: invalid choice: 'Done'"),
    "bad-int": (("services", "scale", "s-x", "three"), "argument replicas: invalid int value: 'three'"),
    "bad-output": (("models", "list", "-o", "yaml"), "argument -o/--output: invalid choice: 'yaml'"),
    "no-command": ((), "the following arguments are required: COMMAND"),
}


@dataclass
class Offline:
    """Every case that needs no platform, run at once (the unreachable endpoint mostly sleeps between
    retries, so it overlaps the rest)."""

    client_side: dict[str, Result]
    usage: dict[str, Result]
    unreachable: Result
    unreachable_port: int
    before_connection: Result
    before_connection_connected: bool
    help: Result
    no_keys: Result
    bad_config: Result
    bad_config_path: Path


@pytest.fixture(scope="module")
def offline(embedded_peer: Peer, tmp_path_factory: pytest.TempPathFactory) -> Offline:
    root = tmp_path_factory.mktemp("cli-offline")
    keys = clean_env(root, VOLC_ACCESSKEY="AKLTunreachable", VOLC_SECRETKEY="secret-unreachable")
    bad_config = root / "bad-config.json"
    bad_config.write_text("{not json", encoding="utf-8")
    port = free_port()  # bound and released: nothing listens there
    closed = f"http://127.0.0.1:{port}"
    # Listens, never accepts: a connection the bad-input run made would wait in its backlog.
    listener = socket.create_server(("127.0.0.1", 0))
    listening = f"http://127.0.0.1:{listener.getsockname()[1]}"
    calls: list[Callable[[], Result]] = [
        partial(run_mlp, ["models", "list", "--endpoint", closed], keys, timeout=30),
        partial(run_mlp, [*REGISTER, "--type", "ONNX", "--endpoint", listening], keys),
        partial(run_mlp, ["--help"], clean_env(root)),
        partial(run_mlp, ["--endpoint", "http://127.0.0.1:9", "models", "list"], clean_env(root)),
        partial(run_mlp, ["config", "show"], clean_env(root, VOLC_CONFIG_FILE=str(bad_config))),
    ]
    calls += [partial(embedded_peer.run, *args) for args, _ in CLIENT_SIDE.values()]
    calls += [partial(embedded_peer.run, *args) for args, _ in USAGE.values()]
    unreachable, before, help_, no_keys, config, *rest = parallel(*calls)
    with listener:
        connected = bool(select.select([listener], [], [], 0)[0])  # a connection waits to be accepted
    return Offline(
        client_side=dict(zip(CLIENT_SIDE, rest[: len(CLIENT_SIDE)], strict=True)),
        usage=dict(zip(USAGE, rest[len(CLIENT_SIDE) :], strict=True)),
        unreachable=unreachable,
        unreachable_port=port,
        before_connection=before,
        before_connection_connected=connected,
        help=help_,
        no_keys=no_keys,
        bad_config=config,
        bad_config_path=bad_config,
    )


@pytest.fixture(scope="module")
def not_found(peer: Peer) -> dict[str, Result]:
    return dict(zip(NOT_FOUND, peer.run_all(*(args for args, _ in NOT_FOUND.values())), strict=True))


@pytest.mark.parametrize("case", NOT_FOUND)
def test_not_found_is_exit_1_with_code_and_request_id(not_found: dict[str, Result], case: str) -> None:
    result = not_found[case].fails(1)
    if "json" in NOT_FOUND[case][0]:  # the error envelope, for scripts
        meta = json.loads(result.err)["ResponseMetadata"]
        assert meta["Error"]["Code"] == "NotFound" and meta["HTTPStatus"] == 404, result
        assert REQUEST_ID.match(meta["RequestId"]) and NOT_FOUND[case][1] in meta["Error"]["Message"]
        return
    assert result.err.startswith("mlp: error: [NotFound]"), result
    assert NOT_FOUND[case][1] in result.err, result
    assert "RequestId" in result.err and "HTTP 404" in result.err, result
    assert len(result.err.strip().splitlines()) == 1, result  # one line


@pytest.mark.parametrize("case", CLIENT_SIDE)
def test_bad_input_caught_client_side_is_exit_2(offline: Offline, case: str) -> None:
    result = offline.client_side[case].fails(2)
    assert result.err.startswith(f"mlp: error: {CLIENT_SIDE[case][1]}"), result
    assert len(result.err.strip().splitlines()) == 1, result
    assert "usage:" not in result.err and "RequestId" not in result.err, result  # nothing was sent


@pytest.mark.parametrize("case", USAGE)
def test_argparse_errors_are_exit_2_with_usage(offline: Offline, case: str) -> None:
    result = offline.usage[case].fails(2)
    assert result.err.startswith("usage: mlp"), result
    assert USAGE[case][1] in result.err, result


def test_bad_input_is_caught_before_any_connection(offline: Offline) -> None:
    """A bad ModelType with an unreachable endpoint: exit 2 at once, no connection attempted."""
    result = offline.before_connection.fails(2)
    assert result.err.startswith("mlp: error: argument --type: model_type:"), result
    assert "cannot reach" not in result.err, result
    assert not offline.before_connection_connected, result


def test_success_is_exit_0_and_help_lists_every_command(offline: Offline) -> None:
    result = offline.help.ok()
    commands = ("models", "versions", "perf", "deploy", "services", "resources", "config", "serve", "account")
    for command in commands:
        assert command in result.out, result
    assert result.err == ""


def test_unreachable_endpoint_is_a_clear_error(offline: Offline) -> None:
    result = offline.unreachable.fails(1)
    url = f"http://127.0.0.1:{offline.unreachable_port}"
    assert result.err.startswith(f"mlp: error: ListModels: cannot reach {url}"), result
    assert "Connection refused" in result.err and len(result.err.splitlines()) == 1, result
    # Connection failures are retried with backoff (5 attempts, ~7 s in all): slow, but bounded.
    assert result.seconds < 25, f"an unreachable endpoint took {result.seconds:.1f}s to report\n{result}"


def test_endpoint_without_keys_names_the_settings(offline: Offline) -> None:
    result = offline.no_keys.fails(1)
    assert "VOLC_ACCESSKEY" in result.err and "VOLC_SECRETKEY" in result.err, result


def test_bad_config_file_is_exit_2_naming_the_file(offline: Offline) -> None:
    result = offline.bad_config.fails(2)
    assert f"config file {offline.bad_config_path}: not valid JSON" in result.err, result


# bad input files: (what the message starts with after "mlp: error: ", what it must hold)
BAD_FILES: dict[str, tuple[str, str]] = {
    "selection-keeps-nothing": ("argument path: local_path: ", "no file to register"),
    "mlpignore-not-utf8": ("argument --exclude: ", ".mlpignore: not UTF-8 text"),
    "mlpignore-invalid-pattern": ("argument --exclude: ", ".mlpignore, line 1: '!' is not a valid pattern"),
    "config-not-utf8": ("config file ", "config: not UTF-8 text"),
    "tensor-config-not-utf8": ("--tensor-config: ", "tensor.json' is not UTF-8 text (byte 2)"),
    "predict-input-not-utf8": ("--input: ", "input.json' is not UTF-8 text (byte 2)"),
}


@pytest.fixture(scope="module")
def bad_files(embedded_peer: Peer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    root = tmp_path_factory.mktemp("cli-bad-files")
    folders = {}
    for case, ignore in [("selection-keeps-nothing", None), ("mlpignore-not-utf8", b"# caf\xe9\n"),
                         ("mlpignore-invalid-pattern", b"!\n")]:  # fmt: skip
        folder = folders[case] = root / case
        folder.mkdir()
        (folder / "w.ckpt").write_bytes(b"w")
        if ignore is not None:
            (folder / ".mlpignore").write_bytes(ignore)
    config = root / "config"
    config.write_bytes(b'{"region": "caf\xe9"}')
    (root / "tensor.json").write_bytes(b'{"\xff": []}')
    (root / "input.json").write_bytes(b'{"\xfe": [1]}')

    def register(case: str, *extra: str) -> Callable[[], Result]:
        new = ("--name", "x", "--format", "ONNX", "--type", "ONNX:1.23")
        return partial(embedded_peer.run, "models", "register", str(folders[case]), *new, *extra)

    results = parallel(
        register("selection-keeps-nothing", "--exclude", "*.ckpt"),
        register("mlpignore-not-utf8"),
        register("mlpignore-invalid-pattern"),
        partial(run_mlp, ["models", "list"], clean_env(root, VOLC_CONFIG_FILE=str(config))),
        register("selection-keeps-nothing", "--tensor-config", str(root / "tensor.json")),
        partial(embedded_peer.run, "services", "predict", "s-none", "--input", str(root / "input.json")),
    )
    return dict(zip(BAD_FILES, results, strict=True))


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_input_files_are_exit_2_naming_the_file(bad_files: dict[str, Result], case: str) -> None:
    result = bad_files[case].fails(2)
    start, fragment = BAD_FILES[case]
    assert result.err.startswith(f"mlp: error: {start}"), result
    assert fragment in result.err, result
    assert len(result.err.strip().splitlines()) == 1, result
    assert "RequestId" not in result.err and "NotFound" not in result.err, result  # nothing was sent
