"""Which object store a platform's Endpoint leads to, and with which settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from volcengine_ml_platform.config import Credentials
from volcengine_ml_platform.errors import TransferError
from volcengine_ml_platform.storage import object_store_for
from volcengine_ml_platform.transfer import FolderStore, S3Store

CREDS = Credentials("AKLTexample", "secret")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "VOLC_TOS_ENDPOINT",
        "VOLC_TOS_REGION",
        "VOLC_TOS_ACCESS_KEY",
        "VOLC_TOS_SECRET_KEY",
        "VOLC_TOS_ADDRESSING",
    ):
        monkeypatch.delenv(name, raising=False)


def test_an_existing_folder_endpoint_is_the_folder_store(tmp_path: Path) -> None:
    store = object_store_for(tmp_path.as_uri(), region="cn-beijing", credentials=CREDS)
    assert isinstance(store, FolderStore)
    assert store.root == tmp_path


def test_a_folder_endpoint_on_another_machine_is_refused_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "srv" / "objects"
    with pytest.raises(TransferError, match="MLP_S3_ENDPOINT"):
        object_store_for(missing.as_uri(), region="cn-beijing", credentials=CREDS)
    assert not (tmp_path / "srv").exists()


def test_a_local_s3_endpoint_uses_path_style_and_tos_uses_virtual_hosts() -> None:
    local = object_store_for("http://127.0.0.1:9000", region="cn-beijing", credentials=CREDS)
    assert isinstance(local, S3Store)
    assert local.client.meta.config.s3 is not None
    assert local.client.meta.config.s3["addressing_style"] == "path"
    tos = object_store_for(None, region="cn-beijing", credentials=CREDS)
    assert isinstance(tos, S3Store)
    assert tos.endpoint_url == "https://tos-s3-cn-beijing.volces.com"
    assert tos.client.meta.config.s3 is not None
    assert tos.client.meta.config.s3["addressing_style"] == "virtual"


def test_env_overrides_endpoint_region_and_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOLC_TOS_ENDPOINT", "http://127.0.0.1:9999")
    monkeypatch.setenv("VOLC_TOS_REGION", "us-east-1")
    monkeypatch.setenv("VOLC_TOS_ACCESS_KEY", "store-ak")
    monkeypatch.setenv("VOLC_TOS_SECRET_KEY", "store-sk")
    store = object_store_for("file:///ignored", region="cn-beijing", credentials=CREDS)
    assert isinstance(store, S3Store)
    assert store.endpoint_url == "http://127.0.0.1:9999"
    assert store.client.meta.region_name == "us-east-1"
    assert store.client._request_signer._credentials.access_key == "store-ak"  # type: ignore[attr-defined]


def test_an_unknown_scheme_is_a_validation_error() -> None:
    with pytest.raises(ValueError, match="neither file:// nor http"):
        object_store_for("ftp://host/x", region="cn-beijing", credentials=CREDS)
