"""A deploy and a delete of the same version (or its model), racing from two stores on one database:
exactly one of them wins, and a service never points at a version that is gone (whose objects the
platform reclaims).

Each test holds the first action inside its transaction, just after its check, until the second one
is seen waiting for a lock (PostgreSQL: ``pg_locks``) or has ended; the first then commits. On SQLite
the second waits for the database's one writer: there is nothing to observe, so the first gives it a
moment (SQLite serialises writers, and these tests check that it stays so)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from mlp_server.errors import ApiError
from mlp_server.store import Store
from mlp_server.store import models as store_models
from mlp_server.store import services as store_services

from .helpers import ACCOUNT, FakeClock, register, service_body

SQLITE_GRACE = 0.3
LOCK_WAIT_TIMEOUT = 10.0


@pytest.fixture
def stores(db_url: str, clock: FakeClock) -> Iterator[tuple[Store, Store]]:
    first, second = Store(db_url, clock=clock), Store(db_url, clock=clock)
    yield first, second
    first.close()
    second.close()


def outcome(action: Callable[[], Any]) -> str:
    try:
        action()
    except ApiError as error:
        return error.code
    return "ok"


class SecondWaits:
    """``hold()`` returns once the second action waits for a lock or has ended."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.ended = threading.Event()
        self.held = threading.Event()

    def hold(self) -> None:
        self.held.set()
        if not self.db_url.startswith("postgresql"):
            self.ended.wait(SQLITE_GRACE)
            return
        engine = create_engine(self.db_url)
        try:
            deadline = time.monotonic() + LOCK_WAIT_TIMEOUT
            with engine.connect() as conn:
                while not self.ended.is_set():
                    waiting = conn.execute(
                        text(
                            "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()"
                            # Only this database's sessions: the cluster serves other tests' databases.
                            " AND pid IN (SELECT pid FROM pg_stat_activity"
                            " WHERE datname = current_database())"
                        )
                    ).scalar_one()
                    conn.commit()
                    if waiting:
                        return
                    assert time.monotonic() < deadline, "the second action neither waited nor ended"
                    self.ended.wait(0.01)
        finally:
            engine.dispose()


def race(
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    module: Any,
    checkpoint: str,
    first: Callable[[], Any],
    second: Callable[[], Any],
) -> tuple[str, str]:
    """Run ``first`` in a thread, held at ``module.checkpoint`` (after its check, inside its
    transaction) while ``second`` runs; both outcomes ("ok" or the error code)."""
    gate = SecondWaits(db_url)
    real = getattr(module, checkpoint)

    def held(*args: Any, **kwargs: Any) -> Any:
        answer = real(*args, **kwargs)
        if threading.current_thread() is not threading.main_thread() and not gate.held.is_set():
            gate.hold()
        return answer

    monkeypatch.setattr(module, checkpoint, held)
    results: dict[str, str] = {}
    thread = threading.Thread(target=lambda: results.update(first=outcome(first)))
    thread.start()
    while not gate.held.is_set():
        assert thread.is_alive() or gate.held.is_set(), results
        gate.held.wait(0.01)
    try:
        results["second"] = outcome(second)
    finally:
        gate.ended.set()
        thread.join()
    return results["first"], results["second"]


def deploy(store: Store, model_id: str, number: int = 1) -> Callable[[], Any]:
    return lambda: store.create_service(ACCOUNT, service_body(model_id, number, name=f"svc-{number}"))


def delete(store: Store, model_id: str, what: str, number: int = 1) -> Callable[[], Any]:
    if what == "version":
        return lambda: store.delete_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-{number}"})
    return lambda: store.delete_model(ACCOUNT, {"ModelID": model_id})


def versions_left(store: Store, model_id: str) -> int:
    try:
        return int(store.list_model_versions(ACCOUNT, {"ModelID": model_id})["Total"])
    except ApiError as error:
        assert error.code == "NotFound"
        return 0


@pytest.mark.parametrize("what", ["version", "model"])
def test_a_delete_that_checked_first_makes_the_deploy_find_nothing(
    stores: tuple[Store, Store], db_url: str, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    a, b = stores
    model_id, _ = register(a)
    register(a, model_id=model_id)  # a second version: deleting the first leaves the model
    first, second = race(
        db_url, monkeypatch, store_models, "_refuse_if_served", delete(a, model_id, what), deploy(b, model_id)
    )
    assert (first, second) == ("ok", "NotFound")
    assert b.list_services(ACCOUNT, {})["Total"] == 0
    assert versions_left(b, model_id) == (1 if what == "version" else 0)


@pytest.mark.parametrize("what", ["version", "model"])
def test_a_deploy_that_checked_first_makes_the_delete_refused(
    stores: tuple[Store, Store], db_url: str, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    a, b = stores
    model_id, _ = register(a)
    register(a, model_id=model_id)
    first, second = race(
        db_url,
        monkeypatch,
        store_services,
        "_check_name_free",
        deploy(a, model_id),
        delete(b, model_id, what),
    )
    assert (first, second) == ("ok", "ResourceInUse")
    (service,) = b.list_services(ACCOUNT, {})["List"]
    version_id = service["ServiceDeployment"]["Model"]["ModelVersionID"]
    assert b.get_model_version(ACCOUNT, {"ModelVersionID": version_id})["ModelVersionID"] == version_id
    assert versions_left(b, model_id) == 2


def test_deploys_deletes_and_renames_of_one_model_at_once_never_both_win_nor_deadlock(
    stores: tuple[Store, Store],
) -> None:
    """No hold: a deploy and a delete of each of six versions, a DeleteModel and a rename, all at once
    from two stores. Whatever interleaving the database gives, every service's version still exists,
    and no action fails otherwise (a lock-order cycle would be a deadlock error)."""
    a, b = stores
    model_id, _ = register(a)
    for _ in range(5):
        register(a, model_id=model_id)
    actions: list[tuple[Callable[[], Any], set[str]]] = []
    for number in range(1, 7):
        actions.append((deploy((a, b)[number % 2], model_id, number), {"ok", "NotFound"}))
        actions.append(
            (delete((b, a)[number % 2], model_id, "version", number), {"ok", "ResourceInUse", "NotFound"})
        )
    actions.append((delete(a, model_id, "model"), {"ok", "ResourceInUse"}))
    actions.append(
        (lambda: b.update_model(ACCOUNT, {"ModelID": model_id, "ModelName": "renamed"}), {"ok", "NotFound"})
    )
    failures: list[str] = []
    barrier = threading.Barrier(len(actions))

    def work(action: Callable[[], Any], expected: set[str]) -> None:
        barrier.wait()
        try:
            result = outcome(action)
        except Exception as error:  # any other failure is what this test looks for
            result = repr(error)
        if result not in expected:
            failures.append(result)

    threads = [threading.Thread(target=work, args=pair) for pair in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    for service in b.list_services(ACCOUNT, {"Limit": 100})["List"]:
        version_id = service["ServiceDeployment"]["Model"]["ModelVersionID"]
        assert b.get_model_version(ACCOUNT, {"ModelVersionID": version_id})["ModelVersionID"] == version_id
