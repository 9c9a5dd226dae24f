"""How many replica processes services may ask of the platform: per account and in all.

Each replica of a live service (Pending, Deploying, Running) is a local process loading onnxruntime,
and in team mode one serving owner runs every account's replicas. So the budget counts the Replicas
of the live services in the database: the account's against ``per_account``
(``MLP_MAX_REPLICAS_PER_ACCOUNT``) and everyone's against ``total`` (``MLP_MAX_REPLICAS``). Stopped
and Failed services run nothing and count only once StartService makes them live again.

CreateService, UpdateService and StartService check it inside their write transaction, after
taking one lock that every such check takes: on SQLite the database's one writer (BEGIN IMMEDIATE)
already is that lock; on PostgreSQL a transaction advisory lock, so that two servers of a team
checking at once cannot both take the last replicas (the second waits, then its READ COMMITTED
statement sees the first's service). A change that lowers the count is always allowed, so that an
operator who lowers the budget never leaves services that cannot be scaled down.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.orm import Session

from mlp_server.errors import ApiError
from mlp_server.settings import DEFAULT_MAX_REPLICAS, DEFAULT_MAX_REPLICAS_PER_ACCOUNT

from .schema import ServiceRow

# Class of the budget's advisory lock (two-key form: never the serving lock's or a path's bigint key).
_BUDGET_LOCK_CLASS = 0x6D6C7002
_BUDGET_LOCK = text("SELECT pg_advisory_xact_lock(:cls, 0)")


@dataclass(frozen=True)
class ReplicaBudget:
    """The most replicas the live services may hold: of one account, and of all accounts."""

    per_account: int = DEFAULT_MAX_REPLICAS_PER_ACCOUNT
    total: int = DEFAULT_MAX_REPLICAS

    def __post_init__(self) -> None:
        for name, value in (("per_account", self.per_account), ("total", self.total)):
            if value < 0:
                raise ValueError(f"a replica budget is a number >= 0, got {name}={value}")

    @staticmethod
    def lock(session: Session) -> None:
        """Take the budget's lock until the transaction ends (PostgreSQL; SQLite's one writer already
        is it). A change that reads a service's replicas to decide whether to check takes it first,
        so that what it read stays true until it commits; taking it again is free."""
        if session.get_bind().dialect.name == "postgresql":
            session.execute(_BUDGET_LOCK, {"cls": _BUDGET_LOCK_CLASS})

    def check(
        self,
        session: Session,
        account_id: int,
        replicas: int,
        live: Collection[str],
        *,
        service_id: str | None = None,
    ) -> None:
        """Refuse (409 Conflict naming ``Replicas``) a service of ``account_id`` live with
        ``replicas`` replicas when that takes the account or the platform past its budget. ``live``:
        the statuses whose services count; ``service_id``: the service being scaled or started,
        whose own current replicas do not count."""
        self.lock(session)
        counted: list[ColumnElement[bool]] = [ServiceRow.status.in_(live)]
        if service_id is not None:
            counted.append(ServiceRow.id != service_id)
        held = select(func.coalesce(func.sum(ServiceRow.replicas), 0)).where(*counted)
        account_held = int(session.scalar(held.where(ServiceRow.account_id == account_id)) or 0)
        if account_held + replicas > self.per_account:
            raise _refusal(
                replicas, "this account's", self.per_account, "MLP_MAX_REPLICAS_PER_ACCOUNT", account_held
            )
        all_held = int(session.scalar(held) or 0)
        if all_held + replicas > self.total:
            raise _refusal(replicas, "this platform's", self.total, "MLP_MAX_REPLICAS", all_held)


def _refusal(replicas: int, whose: str, budget: int, setting: str, held: int) -> ApiError:
    left = max(0, budget - held)
    return ApiError(
        "Conflict",
        f"Replicas: {replicas} is more than {whose} replica budget has left: the budget is {budget} "
        f"({setting}), live services hold {held}, {left} left; stop, scale down or delete a service, "
        "or ask the operator to raise the budget",
    )
