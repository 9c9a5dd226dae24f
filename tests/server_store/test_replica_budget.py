"""The replica budget: the live services of one account, and of all accounts, hold at most so many
replicas (each a local onnxruntime process), checked by CreateService, UpdateService and
StartService inside their transaction, also when two servers of a team race."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlp_server.errors import ApiError
from mlp_server.platform import open_platform
from mlp_server.settings import ServerSettings
from mlp_server.store import Store
from mlp_server.store import services as store_services
from mlp_server.store.replica_budget import ReplicaBudget

from .helpers import ACCOUNT, FakeClock, register, service_body
from .test_deploy_delete_races import outcome, race

OTHER = 2100000051


def create(store: Store, model_id: str, name: str, replicas: int, account_id: int = ACCOUNT) -> str:
    body = service_body(model_id, 1, name=name, Replicas=replicas)
    return str(store.create_service(account_id, body)["ServiceID"])


def scale(store: Store, service_id: str, replicas: int, account_id: int = ACCOUNT) -> None:
    body = {"ServiceID": service_id, "Replicas": replicas, "ChangeType": "ScalingService"}
    store.update_service(account_id, body)


def refusal(action: Any) -> str:
    with pytest.raises(ApiError) as caught:
        action()
    assert (caught.value.code, caught.value.status) == ("Conflict", 409)
    return caught.value.message


def held(store: Store, account_id: int = ACCOUNT) -> int:
    services = store.list_services(account_id, {"Limit": 100})["List"]
    return sum(
        s["ServiceDeployment"]["Replicas"]
        for s in services
        if s["ServiceDeployment"]["Status"] in store_services.LIVE
    )


@pytest.fixture
def budget_store(store: Store) -> Store:
    store.replica_budget = ReplicaBudget(per_account=4, total=6)
    return store


def test_an_account_cannot_create_past_its_budget_and_is_told_what_is_left(budget_store: Store) -> None:
    store = budget_store
    model_id, _ = register(store)
    create(store, model_id, "a", 3)
    message = refusal(lambda: create(store, model_id, "b", 2))
    assert message.startswith("Replicas: 2 ")
    assert "budget is 4 (MLP_MAX_REPLICAS_PER_ACCOUNT)" in message
    assert "hold 3, 1 left" in message
    create(store, model_id, "b", 1)  # exactly what is left
    assert held(store) == 4
    assert store.list_services(ACCOUNT, {})["Total"] == 2  # the refused one left no record


def test_the_platform_budget_counts_every_account(budget_store: Store) -> None:
    store = budget_store
    mine, _ = register(store)
    theirs, _ = register(store, OTHER)
    create(store, mine, "a", 4)
    message = refusal(lambda: create(store, theirs, "b", 3, OTHER))
    assert "this platform's replica budget" in message
    assert "budget is 6 (MLP_MAX_REPLICAS), live services hold 4, 2 left" in message
    create(store, theirs, "b", 2, OTHER)
    assert (held(store), held(store, OTHER)) == (4, 2)


def test_scaling_up_is_checked_and_scaling_down_is_always_allowed(budget_store: Store) -> None:
    store = budget_store
    model_id, _ = register(store)
    service = create(store, model_id, "a", 2)
    scale(store, service, 4)  # its own 2 do not count against its new 4
    message = refusal(lambda: scale(store, service, 5))
    assert "hold 0, 4 left" in message
    # An operator lowers the budget below what is held: the service can still come down.
    store.replica_budget = ReplicaBudget(per_account=1, total=6)
    scale(store, service, 3)
    refusal(lambda: scale(store, service, 4))
    scale(store, service, 1)
    assert held(store) == 1


def test_stopped_services_hold_nothing_until_started_again(budget_store: Store) -> None:
    store = budget_store
    model_id, _ = register(store)
    first = create(store, model_id, "a", 3)
    store.stop_service(ACCOUNT, {"ServiceID": first})
    store.service_transition(first, ["Stopping"], "Stopped")
    create(store, model_id, "b", 4)  # the stopped one's 3 are free
    scale(store, first, 4)  # a stopped service's count is checked when it starts, not now
    message = refusal(lambda: store.start_service(ACCOUNT, {"ServiceID": first}))
    assert message.startswith("Replicas: 4 ")
    status = store.get_service(ACCOUNT, {"ServiceID": first})["ServiceDeployment"]["Status"]
    assert status == "Stopped"


def test_a_zero_budget_refuses_every_service(store: Store) -> None:
    store.replica_budget = ReplicaBudget(per_account=0, total=0)
    model_id, _ = register(store)
    assert "0 left" in refusal(lambda: create(store, model_id, "a", 1))


def test_a_negative_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="total=-1"):
        ReplicaBudget(per_account=1, total=-1)


@pytest.fixture
def stores(db_url: str, clock: FakeClock) -> Iterator[tuple[Store, Store]]:
    """Two servers of a team on one database, with the same budget."""
    first, second = Store(db_url, clock=clock), Store(db_url, clock=clock)
    for store in (first, second):
        store.replica_budget = ReplicaBudget(per_account=4, total=6)
    yield first, second
    first.close()
    second.close()


def test_two_servers_cannot_both_take_the_last_replicas(
    stores: tuple[Store, Store], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first CreateService is held after its check, before its insert, while the second runs: the
    second waits for the budget's lock (PostgreSQL) or the writer (SQLite), then sees the first's."""
    a, b = stores
    model_id, _ = register(a)
    first, second = race(
        db_url,
        monkeypatch,
        store_services,
        "insert_with_new_id",
        lambda: create(a, model_id, "a", 3),
        lambda: create(b, model_id, "b", 3),
    )
    assert (first, second) == ("ok", "Conflict")
    assert held(b) == 3


def test_creates_scales_and_starts_at_once_from_two_servers_stay_within_the_budget(
    stores: tuple[Store, Store],
) -> None:
    a, b = stores
    mine, _ = register(a)
    theirs, _ = register(a, OTHER)
    stopped = create(a, mine, "stopped", 2)
    a.stop_service(ACCOUNT, {"ServiceID": stopped})
    scaled = create(a, theirs, "scaled", 1, OTHER)
    actions = [
        lambda: a.start_service(ACCOUNT, {"ServiceID": stopped}),
        lambda: scale(b, scaled, 3, OTHER),
        *(lambda i=i: create((a, b)[i % 2], mine, f"m{i}", 1) for i in range(5)),
        *(lambda i=i: create((b, a)[i % 2], theirs, f"t{i}", 2, OTHER) for i in range(3)),
    ]
    barrier = threading.Barrier(len(actions))
    results: list[str] = []

    def work(action: Any) -> None:
        barrier.wait()
        results.append(outcome(action))

    threads = [threading.Thread(target=work, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(results) <= {"ok", "Conflict"}, results
    assert "Conflict" in results  # 16 asked of a budget of 6 (1 already held)
    assert held(a) <= 4 and held(a) + held(a, OTHER) <= 6
    assert held(a) + held(a, OTHER) >= 5  # refusals only once the budget is (nearly) used


def test_the_platform_takes_its_budget_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLP_MAX_REPLICAS_PER_ACCOUNT", "3")
    monkeypatch.setenv("MLP_MAX_REPLICAS", "7")
    platform = open_platform(ServerSettings.from_env(tmp_path / "data"))
    try:
        assert platform.store.replica_budget == ReplicaBudget(per_account=3, total=7)
    finally:
        platform.store.close()
    for bad in ("-1", "many", "2.5"):
        monkeypatch.setenv("MLP_MAX_REPLICAS", bad)
        with pytest.raises(ValueError, match="MLP_MAX_REPLICAS="):
            ServerSettings.from_env(tmp_path)
    monkeypatch.delenv("MLP_MAX_REPLICAS")
    monkeypatch.delenv("MLP_MAX_REPLICAS_PER_ACCOUNT")
    defaults = ServerSettings.from_env(tmp_path)
    assert (defaults.max_replicas_per_account, defaults.max_replicas) == (16, 32)
