"""Accounts and access keys."""

from __future__ import annotations

import string

import pytest

from mlp_server.errors import ApiError
from mlp_server.store import AccountRecord, Store


def test_a_new_store_is_empty_until_an_account_exists(store: Store) -> None:
    assert store.is_empty()
    assert store.create_account(2100000050, 1001, "team", is_admin=True) == AccountRecord(
        2100000050, 1001, "team", True
    )
    assert not store.is_empty()
    store.create_account(7, 8)
    assert store.list_accounts() == [
        AccountRecord(7, 8, "", False),
        AccountRecord(2100000050, 1001, "team", True),
    ]


def test_an_account_id_is_taken_once(store: Store) -> None:
    store.create_account(7, 8, "first")
    with pytest.raises(ApiError) as caught:
        store.create_account(7, 9, "second")
    assert caught.value.code == "Conflict"
    assert store.create_account(7, 9, "second", exist_ok=True) == AccountRecord(7, 8, "first", False)


def test_generated_keys(store: Store) -> None:
    store.create_account(7, 8)
    ak, sk = store.add_access_key(7, 8, is_admin=True)
    alphabet = set(string.ascii_letters + string.digits + "-_")
    assert ak.startswith("AKLT") and len(ak) == 32 and set(ak) <= alphabet
    assert len(sk) == 40 and set(sk) <= alphabet
    key = store.lookup_access_key(ak)
    assert key is not None
    assert (key.ak, key.sk, key.account_id, key.user_id, key.is_admin) == (ak, sk, 7, 8, True)
    assert key.created.tzinfo is not None
    assert store.add_access_key(7, 8) != (ak, sk)


def test_explicit_keys_are_upserted(store: Store) -> None:
    store.create_account(7, 8)
    store.create_account(9, 10)
    first = store.add_access_key_explicit("AKLTenv", "secret-1", 7, 8)
    again = store.add_access_key_explicit("AKLTenv", "secret-2", 9, 10, is_admin=True)
    assert (again.sk, again.account_id, again.user_id, again.is_admin) == ("secret-2", 9, 10, True)
    assert again.created == first.created
    assert store.lookup_access_key("AKLTenv") == again


def test_keys_need_an_account_and_unknown_keys_are_none(store: Store) -> None:
    with pytest.raises(ApiError) as caught:
        store.add_access_key(404, 1)
    assert caught.value.code == "NotFound"
    assert store.lookup_access_key("AKLTnope") is None


def test_a_revoked_key_is_gone_and_every_key_change_is_signalled(store: Store) -> None:
    store.create_account(7, 8)
    signals = [store.keys_generation]
    ak, sk = store.add_access_key(7, 8)
    signals.append(store.keys_generation)
    store.promote_account(7)
    signals.append(store.keys_generation)
    revoked = store.revoke_access_key(ak)
    signals.append(store.keys_generation)
    assert revoked is not None and (revoked.ak, revoked.sk, revoked.account_id, revoked.is_admin) == (
        ak,
        sk,
        7,
        True,
    )
    assert store.lookup_access_key(ak) is None
    assert store.revoke_access_key(ak) is None  # unknown: nothing to revoke
    assert signals == sorted(set(signals)), signals  # each change moved the generation on
    assert store.list_accounts()[0].account_id == 7  # the account itself stays
