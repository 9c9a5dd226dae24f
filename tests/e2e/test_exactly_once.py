"""Exactly-once registration and complete downloads, with answers lost on the way back.

A transport drops the response after the platform processed the request (as a connection reset on
the way back would): CreateModel, idempotent by Path, is resent and answers the same version; other
non-idempotent actions are not resent. Every test runs on the folder store and on the S3 store,
embedded and served (``any_peer``)."""

from __future__ import annotations

import subprocess
import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest

from mlp_server.platform import DEFAULT_ACCOUNT_ID
from mlp_testing import clean_env
from volcengine_ml_platform.async_session import AsyncSession
from volcengine_ml_platform.config import resolve_settings
from volcengine_ml_platform.embedded import EmbeddedTransport, embedded_app
from volcengine_ml_platform.errors import ConflictError, NotSentError, OutcomeUnknownError, TransferError
from volcengine_ml_platform.models.model import AsyncModel, Model
from volcengine_ml_platform.session import Session
from volcengine_ml_platform.transfer.manifest import manifest_key
from volcengine_ml_platform.transfer.retry import RetryPolicy

from .helpers import MLP, Peer, make_tree, read_tree, split_tos, synced

FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)


def action_of(request: httpx.Request) -> str:
    return request.url.params.get("Action") or request.url.path.rsplit("/", 1)[-1]


class DroppingTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Serves every request, but for the first ``drops[action]`` requests of an action throws the
    answer away after the platform produced it and raises a read error instead (sync or async)."""

    def __init__(self, inner: httpx.BaseTransport | httpx.AsyncBaseTransport, drops: dict[str, int]) -> None:
        self.inner = inner
        self.drops = dict(drops)
        self.sent: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _drops(self, request: httpx.Request) -> bool:
        action = action_of(request)
        with self._lock:
            self.sent[action] += 1
            drop = self.drops.get(action, 0) > 0
            if drop:
                self.drops[action] -= 1
        return drop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(self.inner, httpx.BaseTransport)
        response = self.inner.handle_request(request)
        response.read()
        if self._drops(request):
            response.close()
            raise httpx.ReadError("connection reset after the request was processed", request=request)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(self.inner, httpx.AsyncBaseTransport)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        if self._drops(request):
            await response.aclose()
            raise httpx.ReadError("connection reset after the request was processed", request=request)
        return response

    def close(self) -> None:
        if isinstance(self.inner, httpx.BaseTransport):
            self.inner.close()


class RefusingTransport(DroppingTransport):
    """As :class:`DroppingTransport`, then refuses every later request of the ``refused`` actions at
    connect, before anything is sent: a platform gone (killed, restarting) after the upload."""

    def __init__(
        self, inner: httpx.BaseTransport | httpx.AsyncBaseTransport, drops: dict[str, int], refused: set[str]
    ) -> None:
        super().__init__(inner, drops)
        self.refused = refused

    def _refuse(self, request: httpx.Request) -> None:
        action = action_of(request)
        if action in self.refused and self.drops.get(action, 0) == 0:
            with self._lock:
                self.sent[f"refused {action}"] += 1
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._refuse(request)
        return super().handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._refuse(request)
        return await super().handle_async_request(request)


def dropping_model(
    peer: Peer, drops: dict[str, int], refused: set[str] | None = None
) -> tuple[Model, DroppingTransport]:
    """The peer's Model (or AsyncModel, for the async API) on a transport that loses answers."""
    if peer.endpoint is None:
        settings = resolve_settings(data_dir=peer.data_dir)
    else:
        settings = resolve_settings(endpoint=peer.endpoint, access_key=peer.keys.ak, secret_key=peer.keys.sk)
    if peer.api == "async":
        inner: httpx.AsyncBaseTransport = (
            httpx.ASGITransport(app=embedded_app(peer.data_dir))
            if peer.endpoint is None
            else httpx.AsyncHTTPTransport()
        )
        transport = RefusingTransport(inner, drops, refused or set())
        session = AsyncSession(settings, transport=transport, retry=FAST)
        return synced(AsyncModel(session=session)), transport
    wire = EmbeddedTransport(embedded_app(peer.data_dir)) if peer.endpoint is None else httpx.HTTPTransport()
    transport = RefusingTransport(wire, drops, refused or set())
    return Model(session=Session(settings, transport=transport, retry=FAST)), transport


def versions_of(model: Model, name: str) -> list[tuple[str, int, str]]:
    """(ModelID, ModelVersion, Path) of every version of every model called ``name``."""
    found = []
    for item in model.list_models(model_name_contains=name, page_size=100)["Result"]["List"]:
        if item["ModelName"] != name:
            continue
        for v in model.get_model_versions(item["ModelID"], page_size=100)["Result"]["List"]:
            found.append((item["ModelID"], v["ModelVersion"], v["Path"]))
    return found


@pytest.mark.parametrize("drops", [1, 3])
def test_lost_create_model_answers_give_one_version(any_peer: Peer, tmp_path: Path, drops: int) -> None:
    name = f"dup-{any_peer.name}-{drops}"
    source = tmp_path / "model"
    files = make_tree(source, small=12)
    model, transport = dropping_model(any_peer, {"CreateModel": drops})

    resp = model.register(str(source), model_name=name, model_format="ONNX", model_type="ONNX:1.10")

    assert transport.sent["CreateModel"] == drops + 1  # resent until an answer arrived
    model_id = resp.result.model_id
    ((listed_id, number, _),) = versions_of(model, name)  # one model, one version
    assert (listed_id, number) == (model_id, 1)
    assert resp.result.version_info.model_version == 1
    dest = tmp_path / "copy"
    model.download(model_id, "1", str(dest))
    assert read_tree(dest) == files

    # A new version of the existing model: one version more, the client told that one.
    transport.drops["CreateModel"] = drops
    second = model.register(str(source), model_id=model_id)
    assert second.result.version_info.model_version == 2
    listed = versions_of(model, name)
    assert sorted(v[1] for v in listed) == [1, 2]
    assert len({v[2] for v in listed}) == 2
    model.download(model_id, "2", str(tmp_path / "copy2"))
    assert read_tree(tmp_path / "copy2") == files


def test_outcome_unknown_keeps_the_upload_and_names_it(any_peer: Peer, tmp_path: Path) -> None:
    """Every answer lost: register cannot know; it must not delete what the platform registered."""
    name = f"unknown-{any_peer.name}"
    source = tmp_path / "model"
    files = make_tree(source, small=5)
    model, _ = dropping_model(any_peer, {"CreateModel": 100})

    with pytest.raises(OutcomeUnknownError) as caught:
        model.register(str(source), model_name=name, model_format="ONNX", model_type="ONNX:1.10")

    assert caught.value.upload_url is not None and caught.value.upload_url in str(caught.value)
    ((model_id, number, path),) = versions_of(model, name)  # the platform did register it, once
    assert path.startswith(caught.value.upload_url)
    dest = tmp_path / "copy"
    any_peer.model().download(model_id, str(number), str(dest))
    assert read_tree(dest) == files


@pytest.mark.parametrize("api", ["sync", "async"])
def test_create_model_never_sent_removes_the_upload_and_says_register_again(
    embedded_peer: Peer, tmp_path: Path, api: str
) -> None:
    """The platform goes away after the upload: every CreateModel is refused at connect. Provably not
    registered: NotSentError (not OutcomeUnknownError), and the upload is removed, not left for the
    sweep."""
    peer = embedded_peer.using("async" if api == "async" else "sync")
    name = f"never-sent-{peer.name}"
    source = tmp_path / "model"
    make_tree(source, small=5)
    before = peer.object_keys()
    model, transport = dropping_model(peer, {}, {"CreateModel"})

    with pytest.raises(NotSentError, match="not registered; register again") as caught:
        model.register(str(source), model_name=name, model_format="ONNX", model_type="ONNX:1.10")

    assert not isinstance(caught.value, OutcomeUnknownError)
    assert transport.sent["refused CreateModel"] == FAST.max_attempts  # retried: it was safe to
    assert versions_of(peer.model(), name) == []
    assert peer.object_keys() == before  # nothing uploaded is left behind


def test_create_model_refused_after_a_lost_answer_is_outcome_unknown(
    embedded_peer: Peer, tmp_path: Path
) -> None:
    """The first CreateModel was carried out but its answer lost; the retries are refused at connect.
    The refusals do not make it "not sent": the outcome is unknown and the upload stays."""
    name = f"lost-then-refused-{embedded_peer.name}"
    source = tmp_path / "model"
    files = make_tree(source, small=3)
    model, transport = dropping_model(embedded_peer, {"CreateModel": 1}, {"CreateModel"})

    with pytest.raises(OutcomeUnknownError) as caught:
        model.register(str(source), model_name=name, model_format="ONNX", model_type="ONNX:1.10")

    assert not isinstance(caught.value, NotSentError)
    assert transport.sent["refused CreateModel"] == FAST.max_attempts - 1
    ((model_id, number, path),) = versions_of(embedded_peer.model(), name)  # registered, once
    assert caught.value.upload_url is not None and path.startswith(caught.value.upload_url)
    embedded_peer.model().download(model_id, str(number), str(tmp_path / "copy"))
    assert read_tree(tmp_path / "copy") == files


THROTTLED = {
    "ResponseMetadata": {
        "RequestId": "r",
        "Action": "CreateModel",
        "Version": "2021-07-01",
        "Service": "ml_platform",
        "Region": "cn-beijing",
        "Error": {"CodeN": 100018, "Code": "FlowLimitExceeded", "Message": "too many requests"},
    }
}


DISK_FULL = {
    "ResponseMetadata": {
        **THROTTLED["ResponseMetadata"],
        "Error": {
            "CodeN": 200009,
            "Code": "StorageUnavailable",
            "Message": "the platform's disk is full; nothing was written",
        },
    }
}


class ThrottlingAfterDrop(DroppingTransport):
    """Drops the first CreateModel's answer (the platform carried it out), then answers every retry
    with ``refusal`` (429 by default, as a gateway in front of the platform may)."""

    refusal: tuple[int, dict[str, object]] = (429, THROTTLED)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if action_of(request) == "CreateModel" and self.drops.get("CreateModel", 0) == 0:
            self.sent["refused CreateModel"] += 1
            return httpx.Response(self.refusal[0], json=self.refusal[1])
        return super().handle_request(request)


@pytest.mark.parametrize(
    ("refusal", "attempts"),
    [((429, THROTTLED), FAST.max_attempts - 1), ((503, DISK_FULL), 1)],  # StorageUnavailable: not retried
    ids=["FlowLimitExceeded", "StorageUnavailable"],
)
def test_a_refusal_after_a_lost_answer_keeps_the_files_the_version_references(
    embedded_peer: Peer, tmp_path: Path, refusal: tuple[int, dict[str, object]], attempts: int
) -> None:
    """A refusal (a 4xx, or a 503 saying nothing was written) is a definite one only of the attempt
    that got it: after an attempt whose answer was lost, the version may exist. The upload stays (the
    version's files) and the outcome is unknown."""
    code = str(refusal[1]["ResponseMetadata"]["Error"]["Code"])  # type: ignore[index]
    name = f"lost-then-{code}-{embedded_peer.name}"
    source = tmp_path / "model"
    files = make_tree(source, small=3)
    transport = ThrottlingAfterDrop(
        EmbeddedTransport(embedded_app(embedded_peer.data_dir)), {"CreateModel": 1}
    )
    transport.refusal = refusal
    model = Model(
        session=Session(resolve_settings(data_dir=embedded_peer.data_dir), transport=transport, retry=FAST)
    )

    with pytest.raises(OutcomeUnknownError) as caught:
        model.register(str(source), model_name=name, model_format="ONNX", model_type="ONNX:1.10")

    assert caught.value.code == code  # what the last attempt met, kept
    assert transport.sent["refused CreateModel"] == attempts
    ((model_id, number, _path),) = versions_of(embedded_peer.model(), name)  # the first attempt's
    embedded_peer.model().download(model_id, str(number), str(tmp_path / "copy"))
    assert read_tree(tmp_path / "copy") == files


def test_non_idempotent_actions_are_not_resent_after_a_lost_answer(any_peer: Peer, tmp_path: Path) -> None:
    source = tmp_path / "model"
    make_tree(source, small=2)
    plain = any_peer.model()
    model_id = plain.register(str(source), model_name=f"svc-{any_peer.name}", model_format="ONNX",
                              model_type="ONNX:1.10").result.model_id  # fmt: skip
    model, transport = dropping_model(any_peer, {"CreateService": 1})
    name = f"lost-{any_peer.name}"
    with pytest.raises(OutcomeUnknownError):
        model.deploy(model_id, "1", name, flavor="ml.c1i.large")
    assert transport.sent["CreateService"] == 1
    services = plain.list_services(service_name_contains=name)["Result"]["List"]
    assert len(services) == 1  # it was created, exactly once

    # A served version cannot be deleted: 409 ResourceInUse naming the service.
    with pytest.raises(ConflictError) as caught:
        plain.unregister(model_id, "1")
    assert caught.value.code == "ResourceInUse" and caught.value.status_code == 409
    assert services[0]["ServiceID"] in str(caught.value)
    with pytest.raises(ConflictError):
        plain.unregister_all_versions(model_id)
    plain.get_service(services[0]["ServiceID"]).delete()
    plain.unregister_all_versions(model_id)  # nothing uses it any more


def test_download_names_missing_files_and_refuses_an_empty_prefix(any_peer: Peer, tmp_path: Path) -> None:
    source = tmp_path / "model"
    make_tree(source, small=4)
    model = any_peer.model()
    model_id = model.register(str(source), model_name=f"holes-{any_peer.name}", model_format="ONNX",
                              model_type="ONNX:1.10").result.model_id  # fmt: skip
    bucket, prefix = split_tos(model.get_model_version(model_id, "1").result.path)
    assert any_peer.object_keys(DEFAULT_ACCOUNT_ID, manifest_key(prefix)) == {manifest_key(prefix)}
    plain = any_peer.using("sync").model()  # the store as a client opens it (scoped keys in team mode)
    store = plain._run(plain._core.object_store())
    lost = f"{prefix}saved_model.pb"
    store.delete_prefix(bucket, lost)

    with pytest.raises(TransferError) as caught:
        model.download(model_id, "1", str(tmp_path / "out"))
    assert f"missing: tos://{bucket}/{lost}" in str(caught.value)

    store.delete_prefix(bucket, prefix)
    with pytest.raises(TransferError, match="missing"):
        model.download(model_id, "1", str(tmp_path / "out2"))
    store.delete_prefix(bucket, manifest_key(prefix))  # no record either: an empty prefix is an error
    with pytest.raises(TransferError, match="no objects under"):
        model.download(model_id, "1", str(tmp_path / "out3"))


def test_a_version_that_lost_its_manifest_fails_naming_it(any_peer: Peer, tmp_path: Path) -> None:
    source = tmp_path / "model"
    make_tree(source, small=4)
    model = any_peer.model()
    model_id = model.register(str(source), model_name=f"unrecorded-{any_peer.name}", model_format="ONNX",
                              model_type="ONNX:1.10").result.model_id  # fmt: skip
    bucket, prefix = split_tos(model.get_model_version(model_id, "1").result.path)
    plain = any_peer.using("sync").model()
    store = plain._run(plain._core.object_store())
    store.delete_prefix(bucket, manifest_key(prefix))
    store.delete_prefix(bucket, f"{prefix}saved_model.pb")  # a listing alone cannot tell this one is gone

    with pytest.raises(TransferError) as caught:
        model.download(model_id, "1", str(tmp_path / "out"))
    assert f"lost its manifest, tos://{bucket}/{manifest_key(prefix)}" in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_a_later_download_removes_stale_incomplete_files(any_peer: Peer, tmp_path: Path) -> None:
    source = tmp_path / "model"
    files = make_tree(source, small=3)
    model = any_peer.model()
    model_id = model.register(str(source), model_name=f"stale-{any_peer.name}", model_format="ONNX",
                              model_type="ONNX:1.10").result.model_id  # fmt: skip
    dest = tmp_path / "out"
    (dest / "variables").mkdir(parents=True)
    stale = [
        dest / "saved_model.pb.0badc0de.incomplete",
        dest / "variables" / "variables.index.12345678.incomplete",
    ]
    for path in stale:
        path.write_bytes(b"half")
    mine = dest / "notes.txt.incomplete"  # not one of ours: kept
    mine.write_bytes(b"keep")

    model.download(model_id, "1", str(dest))

    assert not any(p.exists() for p in stale)
    assert read_tree(dest) == {**files, "notes.txt.incomplete": b"keep"}


def test_connect_errors_are_retried_for_every_action(embedded_peer: Peer) -> None:
    """A connection that was never made proves the request never arrived: even CreateService may be
    sent again then."""

    class RefusesFirst(httpx.BaseTransport):
        def __init__(self, inner: httpx.BaseTransport) -> None:
            self.inner, self.refused = inner, 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.params.get("Action") == "StopService" and not self.refused:
                self.refused += 1
                raise httpx.ConnectError("connection refused", request=request)
            return self.inner.handle_request(request)

    plain = embedded_peer.model()
    source = embedded_peer.data_dir.parent / "connect-model"
    make_tree(source, small=1)
    model_id = plain.register(str(source), model_name="connect", model_format="ONNX",
                              model_type="ONNX:1.10").result.model_id  # fmt: skip
    service = plain.deploy(model_id, "1", "connect-svc", flavor="ml.c1i.large")
    transport = RefusesFirst(EmbeddedTransport(embedded_app(embedded_peer.data_dir)))
    settings = resolve_settings(data_dir=embedded_peer.data_dir)
    model = Model(session=Session(settings, transport=transport, retry=FAST))
    model.get_service(service.service_id).stop()
    assert transport.refused == 1
    # Stopped at once if its supervisor had already failed it (no .onnx file), else once it has acted.
    assert plain.get_service(service.service_id).wait_for("Stopped", timeout=30, interval=0.1) == "Stopped"


def test_registering_an_empty_folder_is_refused_saying_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "sub").mkdir()  # folders alone are no model
    done = subprocess.run(
        [MLP, "models", "register", str(empty), "--name", "e", "--format", "ONNX", "--type", "ONNX:1.23"],
        env=clean_env(tmp_path / "home", VOLC_ML_PLATFORM_DATA_DIR=str(tmp_path / "platform")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "the folder is empty" in done.stderr
