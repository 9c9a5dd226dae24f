"""The storage sweep and CreateModel are ordered (store.reclaim_turns): a sweep with grace 0 that runs
while a registration lists its files, writes their manifest and commits never removes the files the
version records. The sweep runs on a second platform on the same database and store (another server,
or ``mlp gc``), on SQLite + the folder store and on PostgreSQL + S3 (``platform_settings``)."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from mlp_server import lifecycle
from mlp_server.context import Caller, Platform
from mlp_server.handlers import models as model_handlers
from mlp_server.handlers.models import delete_model_version
from mlp_server.lifecycle import SweepReport, split_path, sweep
from mlp_server.platform import DEFAULT_ACCOUNT_ID
from mlp_server.store.pg_sessions import KEEPALIVES
from mlp_server.store.reclaim_turns import TurnBusy
from volcengine_ml_platform.transfer.manifest import manifest_key

from .helpers import Api, LiveServer, error_of, version_info

FILES = {f"part-{i:02d}.bin": bytes([i]) * 100 for i in range(6)}


def fresh_upload(server: LiveServer, admin: Api) -> tuple[str, str]:
    """Files under a prefix GetTOSUploadPath handed out (the layout the sweep judges): that prefix's
    tos:// URL (what a sweep reports) and the uploaded folder's Path."""
    prefix = admin.ok("GetTOSUploadPath", {"ServiceName": "modelrepo", "Path": ["order"]})["KeyPrefix"]
    path = server.upload(DEFAULT_ACCOUNT_ID, prefix + "model", FILES)
    return f"tos://{server.platform.bucket_for(DEFAULT_ACCOUNT_ID)}/{prefix}", path


def keys_under(platform: Platform, path: str) -> list[str]:
    bucket, prefix = split_path(path)
    return sorted(o.key for o in platform.objects.list_objects(bucket, prefix))


class DuringRegistration:
    """Runs ``action`` on another thread once CreateModel has listed the files and written their
    manifest, before its commit, and gives it a few seconds to finish before the commit goes on (it
    waits for the registration's turn when the two are ordered)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, action: Callable[[], Any]) -> None:
        self.results: list[Any] = []
        self._threads: list[threading.Thread] = []
        real = model_handlers.make_durable

        def make_durable(platform: Platform, path: str, files: Any) -> None:
            real(platform, path, files)
            thread = threading.Thread(target=lambda: self.results.append(action()))
            thread.start()
            thread.join(timeout=3.0)
            self._threads.append(thread)

        monkeypatch.setattr(model_handlers, "make_durable", make_durable)

    def join(self) -> list[Any]:
        for thread in self._threads:
            thread.join(timeout=60)
        return self.results


def test_a_sweep_with_grace_0_during_a_registration_keeps_its_files(
    server: LiveServer, admin: Api, other: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit, path = fresh_upload(server, admin)
    raced = DuringRegistration(monkeypatch, lambda: sweep(other, grace_seconds=0))

    created = admin.register(path, name="raced")
    reports: list[SweepReport] = raced.join()

    assert len(reports) == 1
    assert unit not in reports[0].prefixes
    bucket, prefix = split_path(path)
    assert keys_under(server.platform, path) == sorted(prefix + name for name in FILES)
    assert server.platform.objects.head(bucket, manifest_key(prefix)) is not None
    got = admin.ok("GetModelVersion", {"ModelVersionID": created["VersionInfo"]["ModelVersionID"]})
    assert got["Path"] == path
    # Once registered, a later sweep with grace 0 keeps them too.
    assert unit not in sweep(other, grace_seconds=0).prefixes
    assert len(keys_under(server.platform, path)) == len(FILES)


def test_a_dry_run_during_a_registration_does_not_report_its_files(
    server: LiveServer, admin: Api, other: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mlp gc --dry-run`` reports what a real run would remove: it decides in the account's exclusive
    turn too, after the registration in flight has committed (before, it read the references without a
    turn and reported the registration's upload as one it would remove)."""
    unit, path = fresh_upload(server, admin)
    raced = DuringRegistration(monkeypatch, lambda: sweep(other, grace_seconds=0, dry_run=True))

    admin.register(path, name="dry-raced")
    (report,) = raced.join()

    assert report.dry_run and unit not in report.prefixes, report
    assert len(keys_under(server.platform, path)) == len(FILES)
    # An upload no registration records is reported (and left: a dry run).
    idle, idle_path = fresh_upload(server, admin)
    assert idle in sweep(other, grace_seconds=0, dry_run=True).prefixes
    assert len(keys_under(server.platform, idle_path)) == len(FILES)


def test_an_upload_the_sweep_removed_first_is_refused_not_registered_without_files(
    server: LiveServer, admin: Api, other: Platform
) -> None:
    """The sweep decided first (the upload was finished, no CreateModel yet, grace 0): CreateModel then
    says the upload was removed (404 UploadRemoved: the client's register uploads it again to a new
    Path), never a version whose files are gone."""
    unit, path = fresh_upload(server, admin)
    assert unit in sweep(other, grace_seconds=0).prefixes
    # The sweep's record is dropped after its removal without waiting for that write (it rides along
    # the next commit): a CreateModel before then is a retryable 503. Give it a moment.
    deadline = time.monotonic() + 10
    while other.store.pending_reclaims() and time.monotonic() < deadline:
        time.sleep(0.01)
    status, code, message = error_of(
        admin.call("CreateModel", {"ModelName": "late", "VersionInfo": version_info(path)})
    )
    assert (status, code) == (404, "UploadRemoved") and "upload the files again" in message
    assert keys_under(server.platform, path) == []


def test_a_decision_waits_for_the_registrations_in_flight_and_they_for_it(
    server: LiveServer, other: Platform
) -> None:
    """The turns across two servers: an exclusive turn is not had while a shared one is held (it
    gives up after its wait), shared ones are had together, and another account's turn is free."""
    store, elsewhere = server.platform.store, other.store

    def busy(held_exclusive: bool, account_id: int, exclusive: bool) -> bool:
        """Whether the other server cannot have ``account_id``'s turn while this one holds the default
        account's."""
        with store.reclaim_turn(DEFAULT_ACCOUNT_ID, exclusive=held_exclusive, wait=5):
            try:
                with elsewhere.reclaim_turn(account_id, exclusive=exclusive, wait=0.2):
                    return False
            except TurnBusy:
                return True

    assert not busy(False, DEFAULT_ACCOUNT_ID, False)  # registrations do not wait for each other
    assert busy(False, DEFAULT_ACCOUNT_ID, True)  # a decision waits for a registration
    assert busy(True, DEFAULT_ACCOUNT_ID, False)  # a registration waits for a decision
    assert busy(True, DEFAULT_ACCOUNT_ID, True)
    assert not busy(True, DEFAULT_ACCOUNT_ID + 1, True)  # another account's turn is free


def test_a_create_model_that_cannot_have_its_turn_is_a_retryable_503_and_registers_nothing(
    server: LiveServer, admin: Api, other: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, path = fresh_upload(server, admin)
    monkeypatch.setattr(lifecycle, "REGISTRATION_TURN_WAIT_SECONDS", 0.2)
    with other.store.reclaim_turn(DEFAULT_ACCOUNT_ID, exclusive=True, wait=5):  # a sweep deciding
        status, code, message = error_of(
            admin.call("CreateModel", {"ModelName": "waited", "VersionInfo": version_info(path)})
        )
    assert (status, code) == (503, "ServiceUnavailableTemp") and "VersionInfo.Path" in message
    assert [m for m in admin.list_all("ListModels") if m["ModelName"] == "waited"] == []
    assert admin.register(path, name="waited")["VersionInfo"]["ModelVersion"] == 1  # once it is free


def test_a_delete_during_a_registration_below_its_path_keeps_the_new_versions_files(
    server: LiveServer, admin: Api, other: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version's Path holds a folder that another CreateModel registers while the first version is
    deleted through another server: the delete's reclaim decides in its turn, after that registration
    has committed, so the new version (below the deleted one's Path) keeps its files."""
    outer = server.upload(DEFAULT_ACCOUNT_ID, f"mine/outer-{uuid.uuid4().hex[:8]}", FILES)
    inner = server.upload(DEFAULT_ACCOUNT_ID, split_path(outer)[1] + "inner", {"model.onnx": b"inner"})
    first = admin.register(outer, name="outer")["VersionInfo"]["ModelVersionID"]
    caller = Caller(DEFAULT_ACCOUNT_ID, 1, is_admin=True)
    raced = DuringRegistration(
        monkeypatch, lambda: delete_model_version(other, caller, {"ModelVersionID": first})
    )

    admin.register(inner, name="inner")
    raced.join()

    assert admin.fails("GetModelVersion", {"ModelVersionID": first})[0] == 404
    deadline = time.monotonic() + 30  # the reclaim may still be deciding: it waited for the turn
    while other.store.pending_reclaims() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert other.store.pending_reclaims() == []
    bucket, prefix = split_path(inner)
    assert keys_under(server.platform, inner) == [prefix + "model.onnx"]
    assert server.platform.objects.head(bucket, manifest_key(prefix)) is not None


def test_a_decision_is_had_while_registrations_keep_coming(server: LiveServer, other: Platform) -> None:
    """Registrations that overlap without a pause (one starts every 0.1 s and holds its turn 0.5 s, as
    steady CreateModels of an account do) do not shut a decision out: once it asks, later registrations
    wait for it (they would else keep the turn shared for as long as they keep coming, and every
    sweep's and delete's reclaim of the account give up after its wait, its storage never freed)."""
    store = server.platform.store
    stop = threading.Event()
    holders: list[threading.Thread] = []
    held: list[bool] = []

    def register() -> None:
        with store.reclaim_turn(DEFAULT_ACCOUNT_ID, exclusive=False, wait=30):
            held.append(True)
            time.sleep(0.5)

    def keep_registering() -> None:
        while not stop.is_set():
            holder = threading.Thread(target=register)
            holder.start()
            holders.append(holder)
            time.sleep(0.1)

    chain = threading.Thread(target=keep_registering)
    chain.start()
    try:
        while not held:
            time.sleep(0.01)
        try:
            with other.store.reclaim_turn(DEFAULT_ACCOUNT_ID, exclusive=True, wait=5):
                decided = True
        except TurnBusy:
            decided = False
        registered_before = len(held)
        # and registrations go on after it (one queued behind it, or the next the chain starts)
        deadline = time.monotonic() + 10
        while len(held) == registered_before and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        chain.join()
        for holder in holders:
            holder.join()
    assert decided
    assert len(held) == len(holders) > registered_before  # the registrations went on after it


def test_a_slow_reclaim_never_removes_the_files_of_a_version_registered_on_its_path_meanwhile(
    server: LiveServer, admin: Api, other: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delete's reclaim through another server has listed the deleted version's files and is slow to
    remove them (its store is slow). Meanwhile the files are uploaded again under the same names and
    registered: that CreateModel may be refused (a retryable 503) but never committed before the slow
    removal is over, which would then take the new version's files by their keys."""
    path = server.upload(DEFAULT_ACCOUNT_ID, f"mine/again-{uuid.uuid4().hex[:8]}", FILES)
    bucket, prefix = split_path(path)
    first = admin.register(path, name="slow")["VersionInfo"]["ModelVersionID"]
    listed, go = threading.Event(), threading.Event()
    real = other.objects.delete_keys  # type: ignore[attr-defined]

    def slow_delete_keys(bucket: str, keys: list[str]) -> int:
        listed.set()
        go.wait(60)
        return int(real(bucket, keys))

    monkeypatch.setattr(other.objects, "delete_keys", slow_delete_keys)
    monkeypatch.setattr(lifecycle, "REGISTRATION_TURN_WAIT_SECONDS", 1.0)
    caller = Caller(DEFAULT_ACCOUNT_ID, 1, is_admin=True)
    deleting = threading.Thread(target=delete_model_version, args=(other, caller, {"ModelVersionID": first}))
    deleting.start()
    try:
        assert listed.wait(30)
        # Needed, not a widened window: a later write is told apart from the deleted files only when
        # newer than the record by more than the margin, plus a second (S3's whole-second LastModified).
        time.sleep(lifecycle.RECORD_MARGIN_SECONDS + 1.2)
        again = {name: b"again " + data for name, data in FILES.items()}
        server.upload(DEFAULT_ACCOUNT_ID, prefix, again)
        answer = admin.call("CreateModel", {"ModelName": "again", "VersionInfo": version_info(path)})
    finally:
        go.set()
        deleting.join(60)
    deadline = time.monotonic() + 30  # the slow reclaim ends
    while other.store.pending_reclaims() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert other.store.pending_reclaims() == []
    if answer.status_code == 200:  # committed: the version's files are all there
        assert keys_under(server.platform, path) == sorted(prefix + name for name in FILES)
        assert server.platform.objects.head(bucket, manifest_key(prefix)) is not None
    else:
        status, code, message = error_of(answer)
        assert (status, code) == (503, "ServiceUnavailableTemp") and "VersionInfo.Path" in message
        assert [m for m in admin.list_all("ListModels") if m["ModelName"] == "again"] == []


@pytest.mark.parametrize("platform_settings", ["team"], indirect=True)
def test_turns_in_flight_take_a_bounded_number_of_database_connections(
    server: LiveServer, other: Platform
) -> None:
    """PostgreSQL: a turn held is a session of its own (its advisory lock). One per CreateModel in
    flight (a server runs 40 at once), per background reclaim and per sweep, without a bound, is
    40-odd connections per server beside its store's 15: a few servers at full load exhaust
    max_connections (100 by default), and then every new connection fails, the store's too. The turns
    one process holds at once take at most 10 connections (reclaim_turns.MAX_TURN_CONNECTIONS); the
    others wait for one, within their wait, and all are had."""
    store = server.platform.store
    count = 30
    together = threading.Barrier(count, timeout=2)
    peak: list[int] = []
    had: list[bool] = []
    counting = threading.Lock()
    counter = (  # autocommit: each count a fresh look (the statistics are cached per transaction)
        create_engine(other.store._engine.url, poolclass=NullPool)
        .connect()
        .execution_options(isolation_level="AUTOCOMMIT")
    )

    def connections() -> int:
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        with counting:
            return int(counter.exec_driver_sql(query).scalar_one())

    def register() -> None:
        with store.reclaim_turn(DEFAULT_ACCOUNT_ID, exclusive=False, wait=30):
            with contextlib.suppress(threading.BrokenBarrierError):
                together.wait()  # all at once, if they could be
            peak.append(connections())
            had.append(True)

    try:
        before = connections()
        threads = [threading.Thread(target=register) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        counter.close()
    assert len(had) == count  # every registration had its turn
    assert max(peak) - before <= 10, (before, peak)


@pytest.mark.parametrize("platform_settings", ["team"], indirect=True)
def test_a_turns_session_is_ended_soon_after_its_holder_is_cut_off(server: LiveServer) -> None:
    """PostgreSQL: a turn is an advisory lock, held as long as its session. A server cut off by the
    network while it holds one cannot end that session, and the database would keep it (and every
    registration or decision of the account waiting) until its own TCP keepalive noticed: two hours
    and more by default. The turns' sessions probe both ends after 5 s of silence (libpq's keepalives,
    and the server's, set on each session and kept across the pool's resets)."""
    store = server.platform.store
    names = ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count", "tcp_user_timeout")
    for _ in range(2):  # a new session, then the same one again after the pool's reset on return
        with store._turn_engine.connect() as conn:
            dsn = conn.connection.dbapi_connection.info.dsn  # type: ignore[union-attr]
            assert all(f"{name}={value}" in dsn for name, value in KEEPALIVES.items()), dsn
            shown = {name: conn.exec_driver_sql(f"SHOW {name}").scalar() for name in names}
        assert shown == {
            "tcp_keepalives_idle": "5",
            "tcp_keepalives_interval": "1",
            "tcp_keepalives_count": "3",
            "tcp_user_timeout": "3000",  # ms
        }, shown
