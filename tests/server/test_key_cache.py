"""Access-key records kept in memory (mlp_server.keycache): a signed request needs no database read, and
a key that changes stops working at once in the same process, within the cache's lifetime elsewhere.

Over real HTTP against the platform on SQLite and in team mode (PostgreSQL), with ``mlp account
revoke-key`` run as another process; the cache's own rules against a real store with a fake clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlp_server.keycache import KeyCache, NotCached
from mlp_server.settings import ServerSettings
from mlp_server.store import Store
from mlp_server.store.accounts import KeyRecord
from mlp_testing import Keys

from .helpers import Api, LiveServer, MovableClock, add_account, error_of

ACCOUNT_B = 2100000002


def refused(api: Api, code: str = "InvalidAccessKey") -> str:
    status, got, message = error_of(api.call("ListModels", {}))
    assert (status, got) == (401 if code != "AccessDenied" else 403, code), message
    return message


# ---------------------------------------------------------------------------------------------------
# Over HTTP


def test_a_key_changed_in_the_same_process_takes_effect_at_once(
    data_dir: Path, server_clock: MovableClock, platform_settings: ServerSettings
) -> None:
    # An hour-long cache: only the store's own change signal can explain a refusal.
    with LiveServer(
        data_dir, clock=server_clock, settings=platform_settings, key_cache_seconds=3600
    ) as server:
        store = server.platform.store
        keys = add_account(server, ACCOUNT_B)
        with Api(server.url, keys) as api:
            assert api.ok("ListModels", {})["Total"] == 0  # the record is in memory now
            token_body = {"TimeToLive": 600, "AccountId": ACCOUNT_B, "UserId": 1}
            status, code, _ = error_of(api.call("AdminGetSecureToken", token_body))
            assert (status, code) == (403, "AccessDenied")
            store.promote_account(ACCOUNT_B)
            assert api.ok("AdminGetSecureToken", token_body)["Token"]  # admin at once

            # A new secret for the same access key: the old one is refused, the new one works.
            store.add_access_key_explicit(keys.ak, "a-new-secret-" + "x" * 27, ACCOUNT_B, 1)
            assert "does not match" in error_of(api.call("ListModels", {}))[2]
        with Api(server.url, Keys(keys.ak, "a-new-secret-" + "x" * 27, ACCOUNT_B)) as rotated:
            assert rotated.ok("ListModels", {})["Total"] == 0
            assert store.revoke_access_key(keys.ak) is not None
            assert "is not known" in refused(rotated)


def test_a_key_revoked_by_another_process_stops_working_within_the_cache_lifetime(
    data_dir: Path, server_clock: MovableClock, platform_settings: ServerSettings
) -> None:
    ttl = 1.0
    with LiveServer(
        data_dir, clock=server_clock, settings=platform_settings, key_cache_seconds=ttl
    ) as server:
        keys = add_account(server, ACCOUNT_B)
        other = add_account(server, ACCOUNT_B)
        with Api(server.url, keys) as api, Api(server.url, other) as still_valid:
            assert api.ok("ListModels", {})["Total"] == 0
            printed = revoke_key(server, keys.ak)
            assert printed == {"AccountID": ACCOUNT_B, "UserID": 1, "AccessKey": keys.ak, "Revoked": True}
            time.sleep(ttl)  # the staleness bound: any request from now on is refused
            refused(api)
            assert still_valid.ok("ListModels", {})["Total"] == 0  # the account's other key is untouched
        # Revoking again (or an unknown key) is an error naming the key.
        failed = run_revoke_key(server, keys.ak)
        assert failed.returncode == 1 and f"access key {keys.ak} is not known" in failed.stderr


def run_revoke_key(server: LiveServer, ak: str) -> subprocess.CompletedProcess[str]:
    """``mlp account revoke-key`` in a process of its own, pointed at the server's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOLC_", "VOLCENGINE_", "MLP_"))}
    if server.platform.settings.database_url:
        env["MLP_DATABASE_URL"] = server.platform.settings.database_url
    return subprocess.run(
        [sys.executable, "-m", "volcengine_ml_platform.cli", "account", "revoke-key", ak,
         "--data-dir", str(server.data_dir), "-o", "json"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def revoke_key(server: LiveServer, ak: str) -> object:
    done = run_revoke_key(server, ak)
    assert done.returncode == 0, done.stderr
    printed: object = json.loads(done.stdout)
    return printed


def test_an_unknown_key_works_as_soon_as_another_process_adds_it(
    data_dir: Path, server_clock: MovableClock
) -> None:
    # Unknown keys are never kept: the refusal before the key existed does not outlive it.
    settings = ServerSettings(data_dir=data_dir, key_cache_seconds=3600)
    with LiveServer(data_dir, clock=server_clock, settings=settings) as server:
        elsewhere = Store(settings.db_url)  # another process's view of the same database
        try:
            elsewhere.create_account(ACCOUNT_B, 1)
            ak, sk = "AKLT" + "k" * 28, "s" * 40
            with Api(server.url, Keys(ak, sk, ACCOUNT_B)) as api:
                refused(api)
                elsewhere.add_access_key_explicit(ak, sk, ACCOUNT_B, 1)
                assert api.ok("ListModels", {})["Total"] == 0
        finally:
            elsewhere.close()


def test_administrator_actions_read_the_key_afresh(data_dir: Path, server_clock: MovableClock) -> None:
    # A promotion (or a revocation) made by another process counts at once where it matters most.
    settings = ServerSettings(data_dir=data_dir, key_cache_seconds=3600)
    with LiveServer(data_dir, clock=server_clock, settings=settings) as server:
        keys = add_account(server, ACCOUNT_B)
        elsewhere = Store(settings.db_url)
        token_body = {"TimeToLive": 600, "AccountId": ACCOUNT_B, "UserId": 1}
        try:
            with Api(server.url, keys) as api:
                assert api.ok("ListModels", {})["Total"] == 0  # kept as a non-administrator key
                assert error_of(api.call("AdminGetSecureToken", token_body))[:2] == (403, "AccessDenied")
                elsewhere.promote_account(ACCOUNT_B)
                assert api.ok("AdminGetSecureToken", token_body)["Token"]
                elsewhere.revoke_access_key(keys.ak)
                assert error_of(api.call("AdminGetSecureToken", token_body))[:2] == (401, "InvalidAccessKey")
        finally:
            elsewhere.close()


# ---------------------------------------------------------------------------------------------------
# The cache's rules


class CountingStore:
    """A real store whose key reads are counted (and can change a key while one is being read)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reads = 0
        self.during_read: list[str] = []

    @property
    def keys_generation(self) -> int:
        return self.store.keys_generation

    def lookup_access_key(self, ak: str) -> KeyRecord | None:
        self.reads += 1
        record = self.store.lookup_access_key(ak)
        for revoked in self.during_read:
            self.store.revoke_access_key(revoked)
        self.during_read.clear()
        return record


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[tuple[CountingStore, str]]:
    store = Store(f"sqlite:///{tmp_path / 'keys.sqlite3'}")
    store.create_account(ACCOUNT_B, 1)
    ak, _ = store.add_access_key(ACCOUNT_B, 1)
    yield CountingStore(store), ak
    store.close()


def test_a_record_is_read_once_then_served_from_memory_until_it_is_old(
    keyed: tuple[CountingStore, str],
) -> None:
    source, ak = keyed
    clock = FakeMonotonic()
    cache = KeyCache(source, ttl=2.0, clock=clock)
    with pytest.raises(NotCached):
        cache.cached(ak)
    record = cache.load(ak)
    assert record is not None and record.account_id == ACCOUNT_B and source.reads == 1
    clock.now += 1.9
    assert cache.cached(ak) == record and source.reads == 1
    clock.now += 0.1
    with pytest.raises(NotCached):
        cache.cached(ak)


def test_unknown_keys_are_not_kept_and_a_zero_lifetime_keeps_nothing(
    keyed: tuple[CountingStore, str],
) -> None:
    source, ak = keyed
    cache = KeyCache(source, ttl=2.0, clock=FakeMonotonic())
    assert cache.load("AKLTunknown") is None
    with pytest.raises(NotCached):
        cache.cached("AKLTunknown")
    uncached = KeyCache(source, ttl=0, clock=FakeMonotonic())
    assert uncached.load(ak) is not None
    with pytest.raises(NotCached):
        uncached.cached(ak)


def test_a_change_during_a_read_is_not_missed(keyed: tuple[CountingStore, str]) -> None:
    source, ak = keyed
    cache = KeyCache(source, ttl=3600, clock=FakeMonotonic())
    source.during_read.append(ak)  # revoked after the read saw it, before the record is kept
    assert cache.load(ak) is not None
    with pytest.raises(NotCached):
        cache.cached(ak)
    assert cache.load(ak) is None


def test_any_key_change_in_this_process_drops_what_is_kept(keyed: tuple[CountingStore, str]) -> None:
    source, ak = keyed
    cache = KeyCache(source, ttl=3600, clock=FakeMonotonic())
    for change in (
        lambda: source.store.promote_account(ACCOUNT_B),
        lambda: source.store.add_access_key(ACCOUNT_B, 1),
        lambda: source.store.add_access_key_explicit(ak, "t" * 40, ACCOUNT_B, 1),
    ):
        cache.load(ak)
        assert cache.cached(ak)
        change()
        with pytest.raises(NotCached):
            cache.cached(ak)
    record = cache.load(ak)
    assert record is not None and record.sk == "t" * 40 and record.is_admin is False


def test_mlp_key_cache_seconds_sets_the_lifetime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ServerSettings.from_env(tmp_path).key_cache_seconds == 2.0
    monkeypatch.setenv("MLP_KEY_CACHE_SECONDS", "0.5")
    assert ServerSettings.from_env(tmp_path).key_cache_seconds == 0.5
