"""Accounts and their access keys, for the signature check and the token issuer."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mlp_server.errors import ApiError, not_found

from .base import StoreBase
from .schema import AccessKeyRow, AccountRow

AK_PREFIX = "AKLT"
# Letters and digits only: a secret starting with "-" (token_urlsafe's alphabet) was taken for an option
# by `mlp configure --secret-key SK` and by most other command lines.
_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def random_key(length: int) -> str:
    """``length`` random letters and digits (40 of them: 238 bits)."""
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class AccountRecord:
    account_id: int
    user_id: int
    name: str
    is_admin: bool


@dataclass(frozen=True)
class KeyRecord:
    ak: str
    sk: str
    account_id: int
    user_id: int
    is_admin: bool
    created: datetime


class AccountsMixin(StoreBase):
    # Bumped after every committed change to keys (or to what a key may do) made through this store,
    # so that a cache of key records in this process drops them at once (see mlp_server.keycache).
    _keys_generation: int = 0

    @property
    def keys_generation(self) -> int:
        return self._keys_generation

    def _keys_changed(self) -> None:
        self._keys_generation += 1

    def create_account(
        self,
        account_id: int,
        user_id: int,
        name: str = "",
        is_admin: bool = False,
        *,
        exist_ok: bool = False,
        key: tuple[str, str] | None = None,
    ) -> AccountRecord:
        """A tenant. An existing ``account_id`` is Conflict, or returned as stored if ``exist_ok``.
        ``key``: an access key pair (ak, sk) of it, stored in the same transaction (whether or not the
        account existed), so that no account is ever left without the key its creator handed out.
        An account made by another process meanwhile (two first starts on one PostgreSQL database, or
        ``mlp account add`` beside one, each making the administrator) is found, as a moment later it
        would have been, instead of failing on its primary key."""
        try:
            try:
                return self._create_account(account_id, user_id, name, is_admin, exist_ok, key)
            except IntegrityError:
                # The account's own insert (a key's ak is looked up first, and random) lost to another
                # process's: once more, which finds it.
                if self.get_account(account_id) is None:
                    raise
                return self._create_account(account_id, user_id, name, is_admin, exist_ok, key)
        finally:
            if key is not None:
                self._keys_changed()

    def _create_account(
        self,
        account_id: int,
        user_id: int,
        name: str,
        is_admin: bool,
        exist_ok: bool,
        key: tuple[str, str] | None,
    ) -> AccountRecord:
        with self._write() as session:
            row = session.get(AccountRow, account_id)
            if row is not None:
                if not exist_ok:
                    raise ApiError("Conflict", f"account {account_id} already exists")
            else:
                row = AccountRow(
                    account_id=account_id,
                    user_id=user_id,
                    name=name,
                    is_admin=is_admin,
                    created=self._now(),
                )
                session.add(row)
            if key is not None:
                ak, sk = key
                key_row = session.get(AccessKeyRow, ak)
                if key_row is None:
                    key_row = AccessKeyRow(ak=ak, created=self._now())
                    session.add(key_row)
                key_row.sk, key_row.account_id, key_row.user_id, key_row.is_admin = (
                    sk,
                    account_id,
                    user_id,
                    is_admin,
                )
            return _account(row)

    def promote_account(self, account_id: int) -> AccountRecord:
        """Make an account an administrator: the account and every key of it, in one transaction, so
        that what ``list_accounts`` shows is what the account's keys can do."""
        try:
            with self._write() as session:
                row = session.get(AccountRow, account_id)
                if row is None:
                    raise not_found("Account", account_id)
                row.is_admin = True
                for key in session.scalars(select(AccessKeyRow).where(AccessKeyRow.account_id == account_id)):
                    key.is_admin = True
                return _account(row)
        finally:
            self._keys_changed()

    def add_access_key(self, account_id: int, user_id: int, is_admin: bool = False) -> tuple[str, str]:
        """A new random key pair ``(ak, sk)`` for an existing account."""
        ak = AK_PREFIX + random_key(28)  # 32 characters, as before
        sk = random_key(40)
        self.add_access_key_explicit(ak, sk, account_id, user_id, is_admin)
        return ak, sk

    def add_access_key_explicit(
        self, ak: str, sk: str, account_id: int, user_id: int, is_admin: bool = False
    ) -> KeyRecord:
        """Store a given key pair (e.g. from the environment). Idempotent: an existing ``ak`` is
        overwritten, so that a restart with changed settings takes effect."""
        try:
            with self._write() as session:
                if session.get(AccountRow, account_id) is None:
                    raise not_found("Account", account_id)
                row = session.get(AccessKeyRow, ak)
                if row is None:
                    row = AccessKeyRow(ak=ak, created=self._now())
                    session.add(row)
                row.sk, row.account_id, row.user_id, row.is_admin = sk, account_id, user_id, is_admin
                return _key(row)
        finally:
            self._keys_changed()  # after the commit: a lookup that began before it is not kept

    def revoke_access_key(self, ak: str) -> KeyRecord | None:
        """Delete a key pair; requests signed with it are refused from then on (a running server in
        another process stops accepting it within its key cache's lifetime). None if unknown."""
        try:
            with self._write() as session:
                row = session.get(AccessKeyRow, ak)
                if row is None:
                    return None
                record = _key(row)
                session.delete(row)
                return record
        finally:
            self._keys_changed()

    def lookup_access_key(self, ak: str) -> KeyRecord | None:
        with self._read() as session:
            row = session.get(AccessKeyRow, ak)
            return None if row is None else _key(row)

    def get_account(self, account_id: int) -> AccountRecord | None:
        with self._read() as session:
            row = session.get(AccountRow, account_id)
            return None if row is None else _account(row)

    def list_accounts(self) -> list[AccountRecord]:
        with self._read() as session:
            return [
                _account(row) for row in session.scalars(select(AccountRow).order_by(AccountRow.account_id))
            ]

    def is_empty(self) -> bool:
        """True until the first account exists (the server then bootstraps one)."""
        with self._read() as session:
            return session.scalar(select(AccountRow.account_id).limit(1)) is None


def _account(row: AccountRow) -> AccountRecord:
    return AccountRecord(row.account_id, row.user_id, row.name, row.is_admin)


def _key(row: AccessKeyRow) -> KeyRecord:
    return KeyRecord(row.ak, row.sk, row.account_id, row.user_id, row.is_admin, row.created)
