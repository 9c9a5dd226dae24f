"""No secret reaches a log record: the inner door's requests carry their Token in the query string,
and httpx logs each request's URL at INFO (httpcore more at DEBUG). A user who turns logging on, as
``mlp --debug`` does for every logger, must not find a live token (or a key's secret) in the log."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlp_testing import clean_env, mlp_script
from volcengine_ml_platform.errors import NotFoundError

from .conftest import S3_ENV
from .helpers import EXAMPLE, Peer

TARGET_ACCOUNT, TARGET_USER = 42, 7
_TOKEN = re.compile(r"Token=([^&\s\"'>]*)")


@pytest.fixture
def everything_logged() -> Iterator[io.StringIO]:
    """A real handler on the root logger at DEBUG, as a user's logging.basicConfig would add."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_the_inner_doors_token_is_never_logged(peer: Peer, everything_logged: io.StringIO) -> None:
    peer.add_account(TARGET_ACCOUNT, TARGET_USER)
    inner = peer.inner(TARGET_ACCOUNT, TARGET_USER)
    try:
        with pytest.raises(NotFoundError):
            inner.get_model_version("m-20210812150750-w54j6", "1")
    finally:
        inner.aclose() if peer.api == "async" else inner.close()
    log = everything_logged.getvalue()
    # The inner request was logged (with its URL): the check below looks at a real record.
    inner_lines = [line for line in log.splitlines() if "HTTP Request:" in line and "Token=" in line]
    assert inner_lines, log
    tokens = _TOKEN.findall(log)
    assert tokens and all(token == "***" for token in tokens), log
    assert peer.keys.sk not in log


def test_other_requests_records_are_left_as_they_were(
    http_peer: Peer, everything_logged: io.StringIO
) -> None:
    """The filter rewrites only the records of the library's own requests: the user's own httpx
    request (a made-up Token, once the library's filter is in place) is logged as httpx logs it."""
    peer = http_peer.using("sync")
    peer.add_account(TARGET_ACCOUNT, TARGET_USER)
    inner = peer.inner(TARGET_ACCOUNT, TARGET_USER)
    try:
        with pytest.raises(NotFoundError):
            inner.get_model_version("m-20210812150750-w54j6", "1")
    finally:
        inner.close()
    assert peer.endpoint is not None
    with httpx.Client() as own:
        own.post(f"{peer.endpoint}/ml-platform/cn-beijing/api/InnerGetModelVersion?Token=users-own")
    log = everything_logged.getvalue()
    assert "Token=users-own" in log, log
    assert all(token in ("***", "users-own") for token in _TOKEN.findall(log)), log


def test_mlp_debug_prints_no_secret(tmp_path: Path, moto_endpoint: str) -> None:
    """``mlp --debug`` logs every library at DEBUG: over an S3 store, botocore's records carry the
    Authorization header of each request and the temporary credentials of STS's answer (the
    embedded platform's GetSTSToken); the command prints them as ``***``."""
    data_dir = tmp_path / "platform"
    env = clean_env(
        tmp_path / "home",
        VOLC_ML_PLATFORM_DATA_DIR=str(data_dir),
        MLP_PERF_WORKERS="0",
        MLP_S3_ENDPOINT=moto_endpoint,
        VOLC_TOS_REGION="us-east-1",
        **S3_ENV,
    )
    argv = [mlp_script(), "--debug", "models", "register", str(EXAMPLE), "--name", "debugged"]
    argv += ["--format", "ONNX", "--type", "ONNX:1.23"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    log = done.stderr
    keys = json.loads((data_dir / "credentials.json").read_text())
    assert keys["sk"] not in log
    # The records are there (botocore's, at DEBUG), their secrets not.
    assert "Authorization" in log and "SecretAccessKey>" in log and "SessionToken>" in log, log
    assert re.findall(r"<SecretAccessKey>([^<]*)<", log) == ["***"] * log.count("<SecretAccessKey>"), log
    assert set(re.findall(r"<SessionToken>([^<]*)<", log)) == {"***"}, log
    assert set(re.findall(r"'Authorization': b'([^']*)'", log)) == {"***"}, log
    assert "Signature=" not in log, log
