"""Errors carry the service's Code, CodeN, HTTP status and RequestId; the library prints nothing."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlp_testing import Keys, clean_env
from volcengine_ml_platform.errors import AuthError, MLPlatformError, NotFoundError

from .helpers import MISSING_MODEL, PERF_TENSOR_CONFIG, REQUEST_ID, Peer, make_tree, read_tree


def test_missing_version_is_not_found_with_request_id(peer: Peer, tmp_path: Path) -> None:
    model = peer.model()
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w").write_bytes(b"w")
    model_id = model.register(
        str(tmp_path / "m"), model_name="errors", model_format="ONNX", model_type="ONNX:1.10"
    ).result.model_id

    with pytest.raises(NotFoundError) as info:
        model.get_model_version(model_id, "99")

    error = info.value
    assert isinstance(error, MLPlatformError)
    assert error.code == "NotFound" and error.code_n == 200002 and error.status_code == 404
    assert error.request_id and REQUEST_ID.match(error.request_id)
    assert f"{model_id}-99" in error.message
    assert str(error) == f"[NotFound] {error.message} (HTTP 404, RequestId {error.request_id})"

    # The same for the other lookups of something missing.
    params = [{"FlavorIDList": ["ml.c1i.large"]}]
    for call in (
        lambda: model.download(model_id, "99", str(tmp_path / "never")),
        lambda: model.get_model_versions(MISSING_MODEL),
        lambda: model.update_model(MISSING_MODEL, "x"),
        lambda: model.unregister(model_id, "99"),
        lambda: model.create_perf_job(model_id, "99", PERF_TENSOR_CONFIG, "PERF_ONLY", params),
        lambda: model.deploy(model_id, "99", "never"),
    ):
        with pytest.raises(NotFoundError) as info:
            call()
        assert info.value.code == "NotFound" and REQUEST_ID.match(info.value.request_id or "")
    assert not (tmp_path / "never").exists()


def test_unknown_access_key_is_an_auth_error(peer: Peer) -> None:
    stranger = peer.model(Keys("AKLTnobodyhasthiskey0000000", "secret", 0))
    with pytest.raises(AuthError) as info:
        stranger.list_models()
    assert info.value.code == "InvalidAccessKey" and info.value.status_code == 401
    assert info.value.request_id


def test_wrong_secret_is_an_auth_error(peer: Peer) -> None:
    forger = peer.model(Keys(peer.keys.ak, peer.keys.sk[::-1], peer.keys.account_id))
    with pytest.raises(AuthError) as info:
        forger.list_models()
    assert info.value.code == "SignatureDoesNotMatch" and info.value.status_code == 401


def test_register_and_download_print_nothing(
    peer: Peer, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "quiet"
    files = make_tree(source, small=50)
    caplog.set_level(logging.DEBUG)

    model = peer.model()
    resp = model.register(str(source), model_name="quiet", model_format="ONNX", model_type="ONNX:1.10")
    model.download(resp.result.model_id, "1", str(tmp_path / "copy"))
    model.list_models(model_name_contains="quiet")
    with pytest.raises(NotFoundError):
        model.get_model_version(resp.result.model_id, "2")

    assert read_tree(tmp_path / "copy") == files
    assert capsys.readouterr() == ("", "")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_program_using_the_library_prints_nothing(tmp_path: Path) -> None:
    """In a fresh interpreter (no logging configured, so Python's last-resort handler would print any
    warning), a full embedded register/download/error round writes nothing to stdout or stderr."""
    source = tmp_path / "model"
    make_tree(source, small=30)
    script = textwrap.dedent(
        f"""
        from volcengine_ml_platform.errors import NotFoundError
        from volcengine_ml_platform.models.model import Model

        model = Model()
        resp = model.register({str(source)!r}, model_name="quiet", model_format="ONNX",
                              model_type="ONNX:1.10")
        model.download(resp["Result"]["ModelID"], "1", {str(tmp_path / "copy")!r})
        model.update_model_version(resp.result.model_id, "1", description="quiet")
        try:
            model.get_model_version(resp.result.model_id, "7")
        except NotFoundError:
            pass
        else:
            raise SystemExit(3)
        """
    )
    env = clean_env(tmp_path / "home", VOLC_ML_PLATFORM_DATA_DIR=str(tmp_path / "platform"))

    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)

    assert done.returncode == 0, done.stderr.decode()
    assert (done.stdout, done.stderr) == (b"", b"")
    assert read_tree(tmp_path / "copy") == read_tree(source)
    assert (tmp_path / "platform" / "credentials.json").exists()  # the embedded platform, in env's folder
    assert not (tmp_path / "home" / ".volc").exists()
