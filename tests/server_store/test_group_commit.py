"""SQLite group commit: concurrent writes share one commit, each answered only once it is committed,
and a unit's failure stays its own (store/group_commit.py)."""

from __future__ import annotations

import inspect
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mlp_server.errors import ApiError
from mlp_server.settings import ServerSettings
from mlp_server.storage_errors import storage_error
from mlp_server.store import Store, sqlite_url
from mlp_server.store.group_commit import GroupCommit, StoreClosedError
from mlp_server.store.schema import ModelRow, VersionRow
from volcengine_ml_platform.session import Session as ClientSession

from .helpers import ACCOUNT, register, version_info

WAIT = 30.0


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(sqlite_url(tmp_path / "db.sqlite"), group_commit=True)
    yield store
    store.close()


def writer(store: Store) -> GroupCommit:
    group = store.group_commit
    assert group is not None
    return group


@contextmanager
def held(store: Store) -> Iterator[Callable[[int], None]]:
    """Keep the writer busy in a unit of its own, so that the writes submitted meanwhile queue up and
    form the next batch; the yielded function waits until ``n`` writes are queued."""
    group = writer(store)
    entered, release = threading.Event(), threading.Event()

    def hold(_: Session) -> None:
        entered.set()
        release.wait(WAIT)

    blocker = threading.Thread(target=group.run, args=(hold,))
    blocker.start()
    assert entered.wait(WAIT)

    def queued(n: int) -> None:
        deadline = threading.Event()
        for _ in range(int(WAIT / 0.01)):
            if group._queue.qsize() >= n:
                return
            deadline.wait(0.01)
        raise AssertionError(f"{n} writes never queued")

    try:
        yield queued
    finally:
        release.set()
        blocker.join(WAIT)


def submit(pool: ThreadPoolExecutor, fn: Callable[..., Any], *args: Any) -> Future[Any]:
    return pool.submit(fn, *args)


def add_version(store: Store, model_id: str) -> Callable[[], tuple[str, int]]:
    return lambda: register(store, model_id=model_id)


def test_sqlite_commits_are_durable_before_the_answer(sqlite_store: Store) -> None:
    # synchronous=FULL in WAL mode: every commit fsyncs the WAL (NORMAL would only at checkpoints).
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_concurrent_registrations_share_commits(sqlite_store: Store) -> None:
    model_id, _ = register(sqlite_store)
    group = writer(sqlite_store)
    before = group.batches
    with ThreadPoolExecutor(8) as pool:
        with held(sqlite_store) as queued:
            futures = [submit(pool, add_version(sqlite_store, model_id)) for _ in range(8)]
            queued(8)
        numbers = sorted(f.result(WAIT)[1] for f in futures)
    assert numbers == list(range(2, 10))
    # The holding unit's batch, then one batch for the eight that queued behind it.
    assert group.batches - before == 2
    listed = sqlite_store.list_model_versions(ACCOUNT, {"ModelID": model_id, "Limit": 100})
    assert sorted(v["ModelVersion"] for v in listed["List"]) == list(range(1, 10))


def test_a_failing_unit_does_not_affect_its_batch_mates(sqlite_store: Store) -> None:
    model_id, _ = register(sqlite_store)

    def half_then_fail(session: Session) -> None:
        # Writes a model and takes a version number, then fails: none of it may stay.
        session.add(
            ModelRow(
                id="m-half", account_id=ACCOUNT, name="half", next_version=2, create_time=sqlite_store._now()
            )
        )
        session.execute(
            text("UPDATE models SET next_version = next_version + 1 WHERE id = :id"), {"id": model_id}
        )
        session.flush()
        raise ApiError("InvalidParameter", "VersionInfo.Path: refused on purpose")

    group = writer(sqlite_store)
    with ThreadPoolExecutor(4) as pool:
        with held(sqlite_store) as queued:
            first = submit(pool, add_version(sqlite_store, model_id))
            queued(1)
            failing = submit(pool, group.run, half_then_fail)
            queued(2)
            unknown = submit(pool, add_version(sqlite_store, "m-20210812070750-nosuch"))
            queued(3)
            last = submit(pool, add_version(sqlite_store, model_id))
            queued(4)
        assert first.result(WAIT)[1] == 2
        assert last.result(WAIT)[1] == 3, "the failed units took no number"
        with pytest.raises(ApiError) as refused:
            failing.result(WAIT)
        assert refused.value.code == "InvalidParameter"
        with pytest.raises(ApiError) as missing:
            unknown.result(WAIT)
        assert missing.value.code == "NotFound"
    with pytest.raises(ApiError):
        sqlite_store.get_model(ACCOUNT, {"ModelID": "m-half"})
    assert sqlite_store.get_model_next_version(ACCOUNT, {"ModelID": model_id}) == {"ModelVersion": 4}


def test_a_failed_commit_fails_every_unit_of_its_batch(sqlite_store: Store) -> None:
    model_id, _ = register(sqlite_store)

    def breaks_the_commit(session: Session) -> None:
        # A deferred foreign key violation passes its savepoint and fails only at COMMIT.
        session.execute(text("PRAGMA defer_foreign_keys = ON"))
        session.add(
            VersionRow(
                id="m-gone-1",
                model_id="m-gone",
                account_id=ACCOUNT,
                version=1,
                model_format="ONNX",
                model_type="ONNX:1",
                path="tos://b/gone/",
                source_type="TOS",
                description="",
                create_time=sqlite_store._now(),
            )
        )
        session.flush()

    group = writer(sqlite_store)
    with ThreadPoolExecutor(4) as pool:
        with held(sqlite_store) as queued:
            mate = submit(pool, add_version(sqlite_store, model_id))
            queued(1)
            breaker = submit(pool, group.run, breaks_the_commit)
            queued(2)
        with pytest.raises(IntegrityError):
            mate.result(WAIT)  # its own unit went well, but it was never committed: no answer of success
        with pytest.raises(IntegrityError):
            breaker.result(WAIT)
    assert sqlite_store.get_model_next_version(ACCOUNT, {"ModelID": model_id}) == {"ModelVersion": 2}
    assert sqlite_store.get_model(ACCOUNT, {"ModelID": model_id})["ModelVersionsCount"] == 1
    # The writer goes on with the next batch.
    assert register(sqlite_store, model_id=model_id)[1] == 2


def test_a_borrowed_write_in_a_batch_rolls_back_alone(sqlite_store: Store) -> None:
    # The context-manager form (other resources' writes) runs on the caller's thread inside the batch.
    model_id, _ = register(sqlite_store)

    def rename_then_fail() -> None:
        with sqlite_store._write() as session:
            session.get(ModelRow, model_id).name = "renamed"  # type: ignore[union-attr]
            session.flush()
            raise ApiError("Conflict", "on purpose")

    with ThreadPoolExecutor(4) as pool:
        with held(sqlite_store) as queued:
            failing = submit(pool, rename_then_fail)
            queued(1)
            renamed = submit(
                pool, sqlite_store.update_model, ACCOUNT, {"ModelID": model_id, "ModelName": "kept"}
            )
            queued(2)
            mate = submit(pool, add_version(sqlite_store, model_id))
            queued(3)
        with pytest.raises(ApiError) as caught:
            failing.result(WAIT)
        assert caught.value.code == "Conflict"
        assert renamed.result(WAIT) == {"ModelID": model_id}
        assert mate.result(WAIT)[1] == 2
    assert sqlite_store.get_model(ACCOUNT, {"ModelID": model_id})["ModelName"] == "kept"


def test_a_write_is_read_by_another_engine_once_answered(sqlite_store: Store, tmp_path: Path) -> None:
    reader = Store(sqlite_url(tmp_path / "db.sqlite"))
    try:
        for _ in range(5):
            model_id, number = register(sqlite_store)
            assert reader.get_model(ACCOUNT, {"ModelID": model_id})["ModelVersionsCount"] == number
    finally:
        reader.close()


def test_resends_in_one_batch_answer_one_version(sqlite_store: Store) -> None:
    model_id, _ = register(sqlite_store)
    body = {"ModelID": model_id, "VersionInfo": version_info()}
    with ThreadPoolExecutor(6) as pool:
        with held(sqlite_store) as queued:
            futures = [submit(pool, sqlite_store.create_model, ACCOUNT, body) for _ in range(6)]
            queued(6)
        answers = {f.result(WAIT)["VersionInfo"]["ModelVersion"] for f in futures}
    assert answers == {2}
    assert sqlite_store.get_model(ACCOUNT, {"ModelID": model_id})["ModelVersionsCount"] == 2


def test_without_group_commit_writes_still_work(tmp_path: Path) -> None:
    store = Store(sqlite_url(tmp_path / "db.sqlite"), group_commit=False)
    try:
        assert store.group_commit is None
        model_id, _ = register(store)
        with ThreadPoolExecutor(4) as pool:
            numbers = sorted(pool.map(lambda _: register(store, model_id=model_id)[1], range(8)))
        assert numbers == list(range(2, 10))
    finally:
        store.close()


def test_group_commit_is_on_by_default_and_off_by_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on = Store(sqlite_url(tmp_path / "a.sqlite"))
    monkeypatch.setenv("MLP_SQLITE_GROUP_COMMIT", "0")
    off = Store(sqlite_url(tmp_path / "b.sqlite"))
    try:
        assert on.group_commit is not None
        assert off.group_commit is None
    finally:
        on.close()
        off.close()


def test_a_closed_store_refuses_writes(tmp_path: Path) -> None:
    store = Store(sqlite_url(tmp_path / "db.sqlite"), group_commit=True)
    register(store)
    group = writer(store)
    store.close()
    with pytest.raises(StoreClosedError):
        group.run(lambda session: None)


def test_a_riding_write_shares_the_next_commit_or_is_committed_alone(
    sqlite_store: Store, tmp_path: Path
) -> None:
    group = writer(sqlite_store)

    def add(path: str) -> Callable[[Session], Any]:
        insert = "INSERT INTO pending_reclaims (account_id, path, create_time) VALUES (1, :p, '2026-01-01')"
        return lambda session: session.execute(text(insert), {"p": path})

    register(sqlite_store)
    with ThreadPoolExecutor(1) as pool, held(sqlite_store) as queued:
        batches = group.batches
        rider = group.ride(add("with the next write"))
        answer = submit(pool, register, sqlite_store)
        queued(1)
    answer.result(WAIT)
    assert rider.done() and group.batches == batches + 2  # the held unit's, then the write's with it
    alone = group.ride(add("alone"))
    alone.result(WAIT)  # no write came: committed by itself
    last = group.ride(add("at close"))
    sqlite_store.close()
    assert last.done()
    reader = Store(sqlite_url(tmp_path / "db.sqlite"))
    try:
        with reader.engine.connect() as conn:
            paths = set(conn.scalars(text("SELECT path FROM pending_reclaims")))
    finally:
        reader.close()
    assert paths == {"with the next write", "alone", "at close"}


# A database locked by another process (an operator's `sqlite3`, a backup tool): each write waits at
# most the busy timeout, counted from when it was asked, then fails as ServiceUnavailableTemp (503).
# The client's read timeout is 30 s: a server that waited longer would reach it as a timeout instead.
LOCK_WAIT = 3.0


def _timed_failure(work: Callable[[], Any]) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        work()
    except Exception as exc:
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


@pytest.mark.parametrize("group_commit", [True, False], ids=["group-commit", "one-by-one"])
def test_a_write_waits_for_a_lock_at_most_the_busy_timeout_from_when_it_was_asked(
    tmp_path: Path, group_commit: bool
) -> None:
    database = tmp_path / "db.sqlite"
    store = Store(sqlite_url(database), group_commit=group_commit, busy_timeout=LOCK_WAIT)
    model_id, _ = register(store)
    blocker = sqlite3.connect(database, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(_timed_failure, add_version(store, model_id))
            # Asked while the first waits for the lock: it queues behind it (this process's writes go
            # one at a time), and must not then wait a whole timeout of its own (1.5x in all).
            time.sleep(LOCK_WAIT / 2)
            second = pool.submit(_timed_failure, add_version(store, model_id))
            outcomes = [first.result(), second.result()]
        for error, elapsed in outcomes:
            assert error is not None
            found = storage_error(error) if not isinstance(error, ApiError) else error
            assert found is not None and found.code == "ServiceUnavailableTemp", repr(error)
            assert LOCK_WAIT * 0.9 < elapsed < LOCK_WAIT * 1.3, outcomes
        blocker.execute("ROLLBACK")
        assert add_version(store, model_id)()[1] == 2  # the lock gone, writes go on (nothing was written)
    finally:
        blocker.close()
        store.close()


def test_the_platforms_busy_timeout_is_configured_below_the_clients_read_timeout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    client_timeout = inspect.signature(ClientSession.__init__).parameters["timeout"].default
    assert ServerSettings(data_dir=tmp_path).sqlite_busy_timeout <= client_timeout / 2
    monkeypatch.setenv("MLP_SQLITE_BUSY_TIMEOUT", "2.5")
    settings = ServerSettings.from_env(tmp_path)
    assert settings.sqlite_busy_timeout == 2.5
    assert settings.to_env()["MLP_SQLITE_BUSY_TIMEOUT"] == "2.5"  # perf workers inherit it
    for wrong in ("0", "-1", "soon", "nan"):
        monkeypatch.setenv("MLP_SQLITE_BUSY_TIMEOUT", wrong)
        with pytest.raises(ValueError, match="MLP_SQLITE_BUSY_TIMEOUT"):
            ServerSettings.from_env(tmp_path)
