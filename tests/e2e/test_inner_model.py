"""``inner_model.Model``: a platform service acting for a target account with a secure token.

The target account 42 (user 7) is created in the platform's store (embedded) or with ``mlp account add``
(served); the caller is the default administrator account.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from mlp_server.platform import DEFAULT_ACCOUNT_ID, build_app
from mlp_server.settings import ServerSettings
from mlp_server.tokens import TokenIssuer
from mlp_testing import Keys, bucket_for, read_default_keys
from volcengine_ml_platform.async_session import AsyncSession
from volcengine_ml_platform.config import resolve_settings
from volcengine_ml_platform.embedded import EmbeddedTransport
from volcengine_ml_platform.errors import AuthError, NotFoundError, ValidationError
from volcengine_ml_platform.models import inner_model
from volcengine_ml_platform.session import Session

from .helpers import (
    METRICS,
    MODEL_TENSOR_CONFIG,
    PERF_TENSOR_CONFIG,
    UPLOAD_PREFIX,
    Api,
    MovableClock,
    Peer,
    RecordingTransport,
    make_tree,
    read_tree,
    split_tos,
    synced,
)

TARGET_ACCOUNT, TARGET_USER = 42, 7


@pytest.fixture
def target_keys(peer: Peer) -> Keys:
    """The target account's own (non-admin) keys; the account is created on first use."""
    return peer.add_account(TARGET_ACCOUNT, TARGET_USER)


def test_register_into_the_target_account(peer: Peer, target_keys: Keys, tmp_path: Path) -> None:
    inner = peer.inner(TARGET_ACCOUNT, TARGET_USER)
    source = tmp_path / "converted-int8"
    files = make_tree(source, small=40)
    name = f"inner-{uuid.uuid4().hex[:8]}"
    # The provenance is real: a version of the target account and a perf task of it.
    own = peer.model(target_keys)
    base_folder = tmp_path / "base"
    make_tree(base_folder, small=2)
    base_model = own.register(
        str(base_folder),
        model_name=f"base-{uuid.uuid4().hex[:8]}",  # not matched by the listing of `name` below
        model_format="ONNX",
        model_type="ONNX:1.8",
    ).result.model_id
    base = f"{base_model}-1"
    job_id = own.create_perf_job(
        base_model, "1", PERF_TENSOR_CONFIG, "PERF_ONLY", [{"FlavorIDList": ["ml.c1i.large"]}]
    ).result.job_id
    (task,) = own.iter_perf_tasks(job_id=job_id)
    source_id = task.task_id

    resp = inner.register(
        str(source),
        model_name=name,
        model_format="TensorRT",
        model_type="TensorRT:8.0",
        description="converted by perf",
        tensor_config=MODEL_TENSOR_CONFIG,
        model_metrics=METRICS,
        source_type="Perf",
        base_model_version_id=base,
        source_id=source_id,
        model_tags=[{"Key": "precision", "Value": "INT8"}],
    )

    assert resp["ResponseMetadata"]["Action"] == "InnerCreateModel"
    model_id = resp["Result"]["ModelID"]
    assert resp.result.model_id == model_id
    assert resp.result.version_info.model_version_id == f"{model_id}-1"

    version = inner.get_model_version(model_id, "1")
    assert version["ResponseMetadata"]["Action"] == "InnerGetModelVersion"
    stored = version["Result"]
    assert stored["BaseModelVersionID"] == base and version.result.base_model_version_id == base
    assert stored["SourceId"] == source_id == version.result.source_id
    assert stored["SourceType"] == "Perf" and stored["ModelTags"] == [{"Key": "precision", "Value": "INT8"}]
    bucket, prefix = split_tos(stored["Path"])
    assert bucket == bucket_for(TARGET_ACCOUNT)  # the target account's bucket, not the caller's
    assert peer.object_keys(TARGET_ACCOUNT, prefix) == {prefix + rel for rel in files}

    # Visible to the target account's own keys ...
    listed = own.list_models(model_name_contains=name)
    assert [m.model_id for m in listed.result.list_] == [model_id]
    assert own.get_model_version(model_id, "1")["Result"]["BaseModelVersionID"] == base
    # ... and invisible to the caller's default account.
    default = peer.model()
    assert default.list_models(model_name_contains=name).result.total == 0
    with pytest.raises(NotFoundError):
        default.get_model_version(model_id, "1")

    dest = tmp_path / "download"
    inner.download(model_id, "1", str(dest))
    assert read_tree(dest) == files

    updated = inner.update_model_version(model_id, "1", description="validated", model_metrics=METRICS)
    assert updated["ResponseMetadata"]["Action"] == "InnerUpdateModelVersion"
    assert updated.result.model_version_id == f"{model_id}-1"
    assert own.get_model_version(model_id, "1").result.description == "validated"

    # A new version of the target account's model, format and type inherited.
    again = inner.register(str(source), model_id=model_id)
    assert again.result.version_info.model_version == 2
    v2 = own.get_model_version(model_id, "2").result
    assert (v2.model_format, v2.model_type) == ("TensorRT", "TensorRT:8.0")


def test_upload_tos_into_the_target_bucket(peer: Peer, target_keys: Keys, tmp_path: Path) -> None:
    inner = peer.inner(TARGET_ACCOUNT, TARGET_USER)
    folder = tmp_path / "dataset"
    files = make_tree(folder, small=12)

    url = inner.upload_tos(str(folder))

    bucket, prefix = split_tos(url)
    assert bucket == bucket_for(TARGET_ACCOUNT)
    assert prefix.endswith("/dataset/") and UPLOAD_PREFIX.match(prefix.removesuffix("dataset/"))
    assert peer.object_keys(TARGET_ACCOUNT, prefix) == {prefix + rel for rel in files}
    assert peer.object_keys(DEFAULT_ACCOUNT_ID, prefix) == set()

    single = tmp_path / "labels.csv"
    single.write_bytes(b"id,label\n1,cat\n")
    url = inner.upload_tos(str(single))
    bucket, prefix = split_tos(url)
    assert UPLOAD_PREFIX.match(prefix)  # a single file: Path is the fresh prefix
    assert peer.read_object(TARGET_ACCOUNT, prefix + "labels.csv") == single.read_bytes()

    with pytest.raises(ValidationError) as info:
        inner.upload_tos(str(tmp_path / "absent"))
    assert info.value.field == "local_path"


def test_inner_versions_are_numbers_and_local_paths_are_paths(
    peer: Peer, target_keys: Keys, tmp_path: Path
) -> None:
    """The inner door has no GetModel to read a model's highest version from: "latest" is refused
    naming ``model_version`` (never sent as ``m-...-latest``), as is anything that is no version; a
    ``local_path`` that is no path is a ValidationError, before any request."""
    source = tmp_path / "model"
    make_tree(source, small=2)
    own = peer.model(target_keys)
    model_id = own.register(str(source), model_name=f"inner-v-{uuid.uuid4().hex[:8]}", model_format="ONNX",
                            model_type="ONNX:1.10", description="before").result.model_id  # fmt: skip
    inner = peer.inner(TARGET_ACCOUNT, TARGET_USER)
    dest = tmp_path / "dest"
    for version, says in (("latest", "not available to the cross-account"), ("abc", "is not a version"),
                          (0, "is not a version")):  # fmt: skip
        for call in (
            lambda v=version: inner.get_model_version(model_id, v),
            lambda v=version: inner.download(model_id, v, str(dest)),
            lambda v=version: inner.update_model_version(model_id, v, description="after"),
        ):
            with pytest.raises(ValidationError) as info:
                call()
            assert info.value.field == "model_version" and says in info.value.message, info.value
    assert not dest.exists()
    assert own.get_model_version(model_id, "1").result.description == "before"
    assert inner.get_model_version(model_id, 1).result.model_version == 1  # a number as int or text

    nowhere = peer.inner()  # no target ids: any request would fail naming them first
    for call in (
        lambda: nowhere.register(None, model_name="x", model_format="ONNX", model_type="ONNX:1.10"),
        lambda: nowhere.register(123, model_name="x", model_format="ONNX", model_type="ONNX:1.10"),
        lambda: nowhere.download(model_id, "1", ""),
        lambda: nowhere.download(model_id, "1", None),
        lambda: nowhere.get_model_version(model_id, "latest"),
    ):
        with pytest.raises(ValidationError) as info:
            call()
        assert info.value.field in ("local_path", "model_version"), info.value


def test_target_ids_get_set_and_env_defaults(
    peer: Peer, target_keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_keys = peer.add_account(43, 8)
    monkeypatch.setenv("VOLC_ACCOUNT_ID", str(TARGET_ACCOUNT))
    monkeypatch.setenv("VOLC_USER_ID", str(TARGET_USER))

    inner = peer.inner()

    assert (inner.get_target_account_id(), inner.get_target_user_id()) == (TARGET_ACCOUNT, TARGET_USER)
    source = tmp_path / "m"
    make_tree(source, small=2)
    first = inner.register(str(source), model_name="by-env", model_format="ONNX", model_type="ONNX:1.10")
    assert peer.model(target_keys).get_model_version(first.result.model_id, "1")

    # Switching the target: the next call acts for account 43 (a token acts for one account only).
    inner.set_target_account_id("43")
    inner.set_target_user_id(8)
    assert (inner.get_target_account_id(), inner.get_target_user_id()) == (43, 8)
    second = inner.register(str(source), model_name="by-setter", model_format="ONNX", model_type="ONNX:1.10")
    assert peer.model(other_keys).get_model_version(second.result.model_id, "1")
    with pytest.raises(NotFoundError):
        peer.model(target_keys).get_model_version(second.result.model_id, "1")
    with pytest.raises(NotFoundError):
        inner.get_model_version(first.result.model_id, "1")

    # Arguments win over env; ids must be integers.
    assert peer.inner(43, 8).get_target_account_id() == 43
    with pytest.raises(ValidationError) as info:
        peer.inner("forty-two", 7)
    assert info.value.field == "target_account_id"
    monkeypatch.setenv("VOLC_USER_ID", "seven")
    with pytest.raises(ValidationError) as info:
        peer.inner(TARGET_ACCOUNT)
    assert info.value.field == "VOLC_USER_ID"


# Not an integer id: int() would turn these into another account's id (1.9 -> 1, True -> 1,
# "4_2" -> 42, full-width digits) or, for 0, fall back to the environment's. Nor is an id past the
# wire's int64 (refused by the argument's name, not as the wire's AccountId or UserId).
NOT_IDS: list[object] = [
    1.9,
    True,
    0,
    -3,
    "\uff14\uff12",
    "4_2",
    "42x",
    "",
    2**63,
    np.uint64(2**64 - 1),
    str(2**64),
]


@pytest.mark.parametrize("bad", NOT_IDS, ids=repr)
def test_a_target_id_that_is_not_a_positive_integer_is_refused(
    embedded_peer: Peer, monkeypatch: pytest.MonkeyPatch, bad: object
) -> None:
    monkeypatch.setenv("VOLC_ACCOUNT_ID", str(TARGET_ACCOUNT))
    with pytest.raises(ValidationError) as info:
        embedded_peer.inner(bad, TARGET_USER)  # type: ignore[arg-type]
    assert info.value.field == "target_account_id", info.value
    assert "positive integer" in info.value.message, info.value

    inner = embedded_peer.inner(43, 8)
    with pytest.raises(ValidationError) as info:
        inner.set_target_user_id(bad)  # type: ignore[arg-type]
    assert info.value.field == "target_user_id", info.value
    assert (inner.get_target_account_id(), inner.get_target_user_id()) == (43, 8)

    if isinstance(bad, str) and bad:
        monkeypatch.setenv("VOLC_USER_ID", bad)
        with pytest.raises(ValidationError) as info:
            embedded_peer.inner(43)
        assert info.value.field == "VOLC_USER_ID", info.value


def test_the_highest_int64_target_id_is_taken(embedded_peer: Peer) -> None:
    inner = embedded_peer.inner(2**63 - 1, str(2**63 - 1))
    assert (inner.get_target_account_id(), inner.get_target_user_id()) == (2**63 - 1, 2**63 - 1)
    with pytest.raises(NotFoundError) as info:  # sent: the platform has no such account
        inner.get_model_version("m-20200101000000-zzzzz", "1")
    assert str(2**63 - 1) in info.value.message


def test_missing_target_ids_are_named(peer: Peer) -> None:
    inner = peer.inner()  # no arguments, no env
    assert inner.get_target_account_id() is None and inner.get_target_user_id() is None
    with pytest.raises(ValidationError) as info:
        inner.get_model_version("m-20200101000000-zzzzz", "1")
    assert info.value.field == "target_account_id"
    assert "VOLC_ACCOUNT_ID" in info.value.message


def test_non_admin_caller_is_denied(peer: Peer, target_keys: Keys, tmp_path: Path) -> None:
    inner = peer.inner(TARGET_ACCOUNT, TARGET_USER, keys=target_keys)  # the target's own, non-admin keys
    source = tmp_path / "m"
    make_tree(source, small=2)
    before = peer.object_keys(TARGET_ACCOUNT)

    with pytest.raises(AuthError) as info:
        inner.register(str(source), model_name="denied", model_format="ONNX", model_type="ONNX:1.10")

    assert info.value.code == "AccessDenied" and info.value.status_code == 403
    assert "administrator" in info.value.message
    assert info.value.request_id
    assert peer.object_keys(TARGET_ACCOUNT) == before


def test_unknown_target_account_is_not_found(peer: Peer) -> None:
    inner = peer.inner(987654, 1)
    with pytest.raises(NotFoundError) as info:
        inner.get_model_version("m-20200101000000-zzzzz", "1")
    assert "987654" in info.value.message


# ---- token expiry ---------------------------------------------------------------------------------
#
# A platform whose clock the test moves: its tokens expire without waiting ten minutes. The client keeps
# its cached token (by its own clock it is still fresh), so the platform refuses it as expired
# (InvalidSecretToken) and the client renews it once with its signed administrator keys.


class ClockedPlatform:
    def __init__(self, data_dir: Path, api: Api) -> None:
        self.clock = MovableClock()
        self.app = build_app(ServerSettings(data_dir=data_dir), clock=self.clock)
        self.store = self.app.state.platform.store
        self.admin = read_default_keys(data_dir)
        self.store.create_account(TARGET_ACCOUNT, TARGET_USER, "target")
        self.api = api
        inner = EmbeddedTransport(self.app) if api == "sync" else httpx.ASGITransport(app=self.app)
        self.wire = RecordingTransport(inner)

    def inner(self) -> inner_model.Model:
        settings = resolve_settings(
            endpoint="http://clocked-platform.test", access_key=self.admin.ak, secret_key=self.admin.sk
        )
        if self.api == "async":
            session = AsyncSession(settings, transport=self.wire)
            return synced(inner_model.AsyncModel(TARGET_ACCOUNT, TARGET_USER, session=session))
        return inner_model.Model(TARGET_ACCOUNT, TARGET_USER, session=Session(settings, transport=self.wire))


@pytest.fixture
def clocked(tmp_path: Path, api: Api) -> Iterator[ClockedPlatform]:
    platform = ClockedPlatform(tmp_path / "clocked", api)
    yield platform
    platform.wire.close()
    platform.store.close()


def test_expired_token_is_renewed_once(clocked: ClockedPlatform, tmp_path: Path) -> None:
    inner = clocked.inner()
    source = tmp_path / "m"
    make_tree(source, small=3)
    model_id = inner.register(
        str(source), model_name="m", model_format="ONNX", model_type="ONNX:1.10"
    ).result.model_id
    assert clocked.wire.actions.count("AdminGetSecureToken") == 1

    clocked.clock.advance(11 * 60)  # past the token's 600 s, within the signature's 15 min of skew
    clocked.wire.actions.clear()

    assert inner.get_model_version(model_id, "1").result.model_version == 1
    assert clocked.wire.actions == ["InnerGetModelVersion", "AdminGetSecureToken", "InnerGetModelVersion"]


def test_expired_token_that_cannot_be_renewed_fails_cleanly(clocked: ClockedPlatform, tmp_path: Path) -> None:
    """The mechanism: the token expires on the platform, and the caller's key has lost its
    administrator right meanwhile (the store overwrites an existing key pair with the flags given).
    The renewal is refused (AccessDenied), and the call fails with one AuthError that says so."""
    inner = clocked.inner()
    source = tmp_path / "m"
    make_tree(source, small=3)
    model_id = inner.register(
        str(source), model_name="m", model_format="ONNX", model_type="ONNX:1.10"
    ).result.model_id

    clocked.clock.advance(11 * 60)
    clocked.store.add_access_key_explicit(
        clocked.admin.ak, clocked.admin.sk, DEFAULT_ACCOUNT_ID, 1, is_admin=False
    )
    clocked.wire.actions.clear()

    with pytest.raises(AuthError) as info:
        inner.get_model_version(model_id, "1")

    assert info.value.code == "AccessDenied" and info.value.status_code == 403
    assert info.value.message.startswith(
        f"the secure token for account {TARGET_ACCOUNT} was refused and could not be renewed"
    )
    assert "administrator" in info.value.message
    assert isinstance(info.value.__cause__, AuthError)
    assert clocked.wire.actions == ["InnerGetModelVersion", "AdminGetSecureToken"]  # one renewal, no loop

    # Once the key is an administrator's again, the same client recovers.
    clocked.store.add_access_key_explicit(
        clocked.admin.ak, clocked.admin.sk, DEFAULT_ACCOUNT_ID, 1, is_admin=True
    )
    assert inner.get_model_version(model_id, "1").result.model_version == 1


def test_token_outliving_the_platform_secret(clocked: ClockedPlatform, tmp_path: Path) -> None:
    """A token signed with another secret (the platform was reset) is refused as InvalidSecretToken
    and renewed transparently."""
    inner = clocked.inner()
    source = tmp_path / "m"
    make_tree(source, small=2)
    model_id = inner.register(
        str(source), model_name="m", model_format="ONNX", model_type="ONNX:1.10"
    ).result.model_id
    clocked.app.state.platform.tokens = TokenIssuer(b"\x01" * 32)  # a new secret, under the client
    clocked.wire.actions.clear()

    assert inner.get_model_version(model_id, "1").result.model_version == 1
    assert clocked.wire.actions == ["InnerGetModelVersion", "AdminGetSecureToken", "InnerGetModelVersion"]


def test_numpy_integer_target_ids_act_for_that_account(embedded_peer: Peer, tmp_path: Path) -> None:
    """Ids read from a numpy array or a DataFrame are integers: the token acts for that account (as
    int() took them before ids were checked); a numpy bool or float is no id."""
    keys = embedded_peer.add_account(TARGET_ACCOUNT, TARGET_USER)
    inner = embedded_peer.inner(np.int64(TARGET_ACCOUNT), np.int32(TARGET_USER))  # type: ignore[arg-type]
    assert (inner.get_target_account_id(), inner.get_target_user_id()) == (TARGET_ACCOUNT, TARGET_USER)
    assert type(inner.get_target_account_id()) is int
    source = tmp_path / "m"
    make_tree(source, small=2)
    created = inner.register(str(source), model_name="np-ids", model_format="ONNX", model_type="ONNX:1.10")
    assert embedded_peer.model(keys).get_model_version(created.result.model_id, "1")
    inner.set_target_user_id(np.uint8(TARGET_USER))  # type: ignore[arg-type]
    assert inner.get_target_user_id() == TARGET_USER
    for bad in (np.bool_(True), np.float64(42.0)):
        with pytest.raises(ValidationError) as info:
            embedded_peer.inner(bad, TARGET_USER)  # type: ignore[arg-type]
        assert info.value.field == "target_account_id", info.value
