"""Where a registered version says it came from (InnerCreateModel's ``BaseModelVersionID`` and
``SourceId``) must be true when it is recorded: the base one of the account's own versions, the
source a perf task of the account (of that base version, when both are given). Checked inside the
registration's write transaction; on PostgreSQL the base version's row is held FOR KEY SHARE until
commit, as a deploy holds it (:mod:`.deploy_locks`), so a concurrent delete of the base either waits
or has already made this find nothing. Taken after the new version's model row, the order every
writer of versions keeps (model, then version)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from mlp_server.errors import ApiError, invalid

from .base import Body
from .raw_sqlite import Executes
from .schema import PerfTaskRow, VersionRow

_BASE = select(VersionRow.id).where(
    VersionRow.id == bindparam("id"), VersionRow.account_id == bindparam("account_id")
)
_BASE_HELD = _BASE.with_for_update(read=True, key_share=True)
_SOURCE = select(PerfTaskRow.model_version_id).where(
    PerfTaskRow.id == bindparam("id"), PerfTaskRow.account_id == bindparam("account_id")
)


def check(conn: Executes, account_id: int, info: Body) -> None:
    """Refuse (404 NotFound naming the field) a base version or source task the account does not
    have, and (400 InvalidParameter) a source task of another version than the base."""
    base: Any = info.get("BaseModelVersionID")
    source: Any = info.get("SourceId")
    if base is not None:
        statement = _BASE_HELD if conn.dialect.name == "postgresql" else _BASE
        if conn.execute(statement, {"id": base, "account_id": account_id}).first() is None:
            raise ApiError(
                "NotFound",
                f"VersionInfo.BaseModelVersionID: model version {base} does not exist in this account",
            )
    if source is not None:
        task = conn.execute(_SOURCE, {"id": source, "account_id": account_id}).first()
        if task is None:
            raise ApiError(
                "NotFound", f"VersionInfo.SourceId: perf task {source} does not exist in this account"
            )
        if base is not None and task[0] != base:
            raise invalid(
                "VersionInfo.SourceId",
                f"perf task {source} measured version {task[0]}, not the BaseModelVersionID {base}",
            )
