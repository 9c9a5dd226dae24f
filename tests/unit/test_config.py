"""Configuration: arguments > environment > ~/.volc/config > defaults, and where each value came from."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from volcengine_ml_platform.config import Credentials, masked, resolve_settings
from volcengine_ml_platform.errors import ValidationError

ENV_NAMES = (
    "VOLC_ACCESSKEY",
    "VOLC_SECRETKEY",
    "VOLC_REGION",
    "VOLCENGINE_ACCESS_KEY",
    "VOLCENGINE_SECRET_KEY",
    "VOLCENGINE_SESSION_TOKEN",
    "VOLCENGINE_REGION",
    "VOLC_ML_PLATFORM_ENDPOINT",
    "ML_PLATFORM_HOST",
    "VOLC_ML_PLATFORM_DATA_DIR",
    "VOLC_CONFIG_FILE",
)


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean environment with HOME in tmp_path, so the real ~/.volc is never read."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def write_config(home: Path, content: Any) -> Path:
    path = home / ".volc" / "config"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_defaults(home: Path) -> None:
    settings = resolve_settings()
    assert (settings.region.value, settings.region.source) == ("cn-beijing", "default")
    assert settings.endpoint.value is None
    assert settings.mode == "embedded"
    assert settings.credentials is None
    assert settings.data_dir.value == home / ".volc" / "ml_platform"
    assert settings.config_file == home / ".volc" / "config"
    assert settings.inner_endpoint is None


def test_config_file(home: Path) -> None:
    path = write_config(
        home, {"ak": "AKfile", "sk": "SKfile", "region": "cn-shanghai", "endpoint": "http://127.0.0.1:8765/"}
    )
    settings = resolve_settings()
    source = f"file:{path}"
    assert settings.credentials == Credentials("AKfile", "SKfile")
    assert settings.access_key.source == settings.secret_key.source == source
    assert (settings.region.value, settings.region.source) == ("cn-shanghai", source)
    assert (settings.endpoint.value, settings.endpoint.source) == ("http://127.0.0.1:8765", source)
    assert settings.mode == "remote"


def test_config_file_path_from_env(home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.json"
    path.write_text(json.dumps({"region": "cn-guangzhou"}))
    monkeypatch.setenv("VOLC_CONFIG_FILE", str(path))
    settings = resolve_settings()
    assert settings.config_file == path
    assert settings.region.source == f"file:{path}"


@pytest.mark.parametrize(
    ("ak_name", "sk_name", "region_name"),
    [
        ("VOLC_ACCESSKEY", "VOLC_SECRETKEY", "VOLC_REGION"),
        ("VOLCENGINE_ACCESS_KEY", "VOLCENGINE_SECRET_KEY", "VOLCENGINE_REGION"),
    ],
)
def test_env_beats_file(
    home: Path, monkeypatch: pytest.MonkeyPatch, ak_name: str, sk_name: str, region_name: str
) -> None:
    write_config(home, {"ak": "AKfile", "sk": "SKfile", "region": "cn-shanghai", "endpoint": "file.example"})
    monkeypatch.setenv(ak_name, "AKenv")
    monkeypatch.setenv(sk_name, "SKenv")
    monkeypatch.setenv(region_name, "cn-guangzhou")
    monkeypatch.setenv("VOLC_ML_PLATFORM_ENDPOINT", "https://open.volcengineapi.com")
    settings = resolve_settings()
    assert settings.credentials == Credentials("AKenv", "SKenv")
    assert (settings.access_key.source, settings.secret_key.source) == (f"env:{ak_name}", f"env:{sk_name}")
    assert (settings.region.value, settings.region.source) == ("cn-guangzhou", f"env:{region_name}")
    assert settings.endpoint.value == "https://open.volcengineapi.com"
    assert settings.endpoint.source == "env:VOLC_ML_PLATFORM_ENDPOINT"


def test_argument_beats_env(home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VOLC_ACCESSKEY", "AKenv")
    monkeypatch.setenv("VOLC_SECRETKEY", "SKenv")
    monkeypatch.setenv("VOLC_REGION", "cn-guangzhou")
    monkeypatch.setenv("VOLC_ML_PLATFORM_ENDPOINT", "http://env.example:1")
    monkeypatch.setenv("ML_PLATFORM_HOST", "inner.env.example")
    monkeypatch.setenv("VOLC_ML_PLATFORM_DATA_DIR", str(tmp_path / "env-data"))
    settings = resolve_settings(
        access_key="AKarg",
        secret_key="SKarg",
        session_token="TOKarg",
        region="cn-shanghai",
        endpoint="http://arg.example:2",
        inner_host="http://inner.arg.example",
        data_dir=tmp_path / "arg-data",
    )
    assert settings.credentials == Credentials("AKarg", "SKarg", "TOKarg")
    assert settings.region.value == "cn-shanghai"
    assert settings.endpoint.value == "http://arg.example:2"
    assert settings.inner_endpoint == "http://inner.arg.example"
    assert settings.data_dir.value == tmp_path / "arg-data"
    sources = {
        settings.access_key.source,
        settings.secret_key.source,
        settings.session_token.source,
        settings.region.source,
        settings.endpoint.source,
        settings.inner_host.source,
        settings.data_dir.source,
    }
    assert sources == {"argument"}


def test_original_sdk_names_beat_the_newer_ones(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOLC_ACCESSKEY", "AKold")
    monkeypatch.setenv("VOLC_SECRETKEY", "SKold")
    monkeypatch.setenv("VOLCENGINE_ACCESS_KEY", "AKnew")
    monkeypatch.setenv("VOLCENGINE_SECRET_KEY", "SKnew")
    assert resolve_settings().credentials == Credentials("AKold", "SKold")


def test_session_token_from_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOLCENGINE_ACCESS_KEY", "AKsts")
    monkeypatch.setenv("VOLCENGINE_SECRET_KEY", "SKsts")
    monkeypatch.setenv("VOLCENGINE_SESSION_TOKEN", "TOKsts")
    settings = resolve_settings()
    assert settings.credentials == Credentials("AKsts", "SKsts", "TOKsts")
    assert settings.session_token.source == "env:VOLCENGINE_SESSION_TOKEN"


def test_keys_are_taken_as_a_pair(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A session token in the env must not be attached to the long-lived keys of the file.
    write_config(home, {"ak": "AKfile", "sk": "SKfile"})
    monkeypatch.setenv("VOLCENGINE_SESSION_TOKEN", "TOKsts")
    settings = resolve_settings()
    assert settings.credentials == Credentials("AKfile", "SKfile", None)


@pytest.mark.parametrize(
    ("kwargs", "env", "message"),
    [
        ({"access_key": "AK"}, {}, "given together"),
        ({}, {"VOLC_ACCESSKEY": "AK"}, "VOLC_ACCESSKEY is set but VOLC_SECRETKEY is not"),
        ({}, {"VOLCENGINE_SECRET_KEY": "SK"}, "VOLCENGINE_SECRET_KEY is set but VOLCENGINE_ACCESS_KEY"),
    ],
)
def test_half_a_key_pair_is_an_error(
    home: Path, monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, Any], env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        resolve_settings(**kwargs)


def test_empty_env_values_count_as_unset(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOLC_REGION", "")
    monkeypatch.setenv("VOLC_ACCESSKEY", "")
    monkeypatch.setenv("VOLC_ML_PLATFORM_ENDPOINT", "")
    settings = resolve_settings()
    assert settings.region.source == "default"
    assert settings.credentials is None
    assert settings.mode == "embedded"


def test_injected_environ_is_used_instead_of_the_process_env(home: Path, tmp_path: Path) -> None:
    settings = resolve_settings(
        environ={"HOME": str(tmp_path / "other"), "VOLC_ACCESSKEY": "AK", "VOLC_SECRETKEY": "SK"}
    )
    assert settings.credentials == Credentials("AK", "SK")
    assert settings.config_file == tmp_path / "other" / ".volc" / "config"


# --- endpoint --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected", "mode"),
    [
        ("open.volcengineapi.com", "https://open.volcengineapi.com", "remote"),
        ("https://open.volcengineapi.com/", "https://open.volcengineapi.com", "remote"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765", "remote"),
        ("embedded", None, "embedded"),
    ],
)
def test_endpoint_forms(home: Path, value: str, expected: str | None, mode: str) -> None:
    settings = resolve_settings(endpoint=value)
    assert settings.endpoint.value == expected
    assert settings.mode == mode


def test_embedded_overrides_a_file_endpoint(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(home, {"endpoint": "https://open.volcengineapi.com"})
    monkeypatch.setenv("VOLC_ML_PLATFORM_ENDPOINT", "embedded")
    settings = resolve_settings()
    assert settings.mode == "embedded"
    assert settings.endpoint.source == "env:VOLC_ML_PLATFORM_ENDPOINT"


@pytest.mark.parametrize("value", ["ftp://host", "http://", "http://host:notaport", "https://host/?a=1"])
def test_malformed_endpoint(home: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("VOLC_ML_PLATFORM_ENDPOINT", value)
    with pytest.raises(ValidationError, match="env:VOLC_ML_PLATFORM_ENDPOINT") as caught:
        resolve_settings()
    assert caught.value.field == "endpoint"


def test_inner_host_and_data_dir_from_env(
    home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ML_PLATFORM_HOST", "inner.example.com")
    monkeypatch.setenv("VOLC_ML_PLATFORM_DATA_DIR", "~/mlp-data")
    settings = resolve_settings()
    assert settings.inner_endpoint == "https://inner.example.com"
    assert settings.inner_host.source == "env:ML_PLATFORM_HOST"
    assert settings.data_dir.value == home / "mlp-data"
    assert settings.data_dir.source == "env:VOLC_ML_PLATFORM_DATA_DIR"


# --- showing it ------------------------------------------------------------------------------------


def test_masked() -> None:
    assert masked("TmpTZWNyZXRLZXlFeGFtcGxl") == "****cGxl"
    assert masked("abcd") == "****"
    assert masked("") == "****"


def test_describe_masks_secrets_and_names_sources(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOLCENGINE_ACCESS_KEY", "AKLTaccesskey1234")
    monkeypatch.setenv("VOLCENGINE_SECRET_KEY", "very-secret-value-9876")
    monkeypatch.setenv("VOLCENGINE_SESSION_TOKEN", "session-token-5555")
    rows = {name: (shown, source) for name, shown, source in resolve_settings().describe()}
    assert rows["access_key"] == ("****1234", "env:VOLCENGINE_ACCESS_KEY")
    assert rows["secret_key"] == ("****9876", "env:VOLCENGINE_SECRET_KEY")
    assert rows["session_token"] == ("****5555", "env:VOLCENGINE_SESSION_TOKEN")
    assert rows["region"] == ("cn-beijing", "default")
    assert rows["endpoint"] == ("(embedded)", "default")
    assert rows["mode"] == ("embedded", "derived")
    shown = repr(resolve_settings().credentials)
    assert "very-secret-value" not in shown
    assert "session-token" not in shown


# --- a broken config file --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"ak": "AK", ', "not valid JSON"),
        (b'{"region": "caf\xe9"}', r"not UTF-8 text \(byte 15\)"),
        ('["ak", "sk"]', "must be a JSON object"),
        ({"ak": "AK", "sk": 123}, "'sk' must be a string"),
        ({"region": ["cn-beijing"]}, "'region' must be a string"),
        ({"ak": "AK"}, "only one of 'ak' and 'sk'"),
        ({"endpoint": "ftp://x"}, "scheme must be http or https"),
    ],
)
def test_malformed_config_file(home: Path, content: Any, problem: str) -> None:
    path = write_config(home, content)
    with pytest.raises(ValidationError, match=problem) as caught:
        resolve_settings()
    assert str(path) in str(caught.value)


def test_unknown_file_keys_are_ignored(home: Path) -> None:
    # The file is shared with other Volcengine tools, which keep their own keys in it.
    write_config(home, {"ak": "AK", "sk": "SK", "other_tool": {"x": 1}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not a misspelling: logged, not a warning a program sees
        assert resolve_settings().credentials == Credentials("AK", "SK")
