"""Pending reclaims (:class:`.schema.PendingReclaimRow`): a delete records the Paths whose objects it
will remove in its own transaction, and drops each record once they are removed. A server killed in
between leaves the record, and the storage sweep (:func:`mlp_server.lifecycle.sweep`) finishes it:
without it, nothing would refer to those objects any more.

Several sweeps (servers sharing one database, ``mlp gc``) may run at once: each claims a record for
:data:`CLAIM_FOR` before working on it, so they do not repeat each other's work, and a sweep killed
after its claim leaves the record to the next one once the claim has run out.

The sweep's records of upload prefixes are also kept, as swept uploads (:class:`.schema.SweptUploadRow`),
for ``lifecycle.SWEPT_UPLOADS_KEPT_SECONDS`` after the record itself is dropped: a CreateModel of such a
prefix is refused (``lifecycle.check_not_swept``), since its client may still have been writing files.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import Future
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, Connection, Table, bindparam, delete, insert, or_, select, text, update

from .base import StoreBase
from .schema import PendingReclaimRow, SweptUploadRow

log = logging.getLogger("mlp_server")
CLAIM_FOR = timedelta(minutes=10)
_TABLE = cast(Table, PendingReclaimRow.__table__)
_SWEPT = cast(Table, SweptUploadRow.__table__)
_SWEPT_PREFIX = (
    select(_SWEPT.c.create_time)
    .where(_SWEPT.c.account_id == bindparam("account_id"), _SWEPT.c.prefix == bindparam("prefix"))
    .order_by(_SWEPT.c.create_time.desc())
    .limit(1)
)
# Prefixes looked up per statement by :meth:`ReclaimsMixin.swept_uploads` (SQLite's bound-parameter limit).
_SWEPT_CHUNK = 500


class PendingReclaim(NamedTuple):
    id: int
    account_id: int
    path: str
    # When the delete was recorded (the store's clock): the reclaim removes only objects older than
    # that, not what was uploaded to the Path since (lifecycle.reclaim).
    create_time: datetime


def record(
    conn: Connection,
    account_id: int,
    paths: Iterable[str],
    now: datetime,
    claimed_until: datetime | None = None,
) -> list[PendingReclaim]:
    """In a delete's transaction: one record per distinct Path (one INSERT); ``claimed_until`` for
    one its writer works on at once (another sweep leaves it alone until then)."""
    unique = list(dict.fromkeys(paths))
    if not unique:
        return []
    rows = [
        {"account_id": account_id, "path": path, "create_time": now, "claimed_until": claimed_until}
        for path in unique
    ]
    statement = insert(_TABLE).returning(_TABLE.c.id, _TABLE.c.path, sort_by_parameter_order=True)
    return [PendingReclaim(row.id, account_id, row.path, now) for row in conn.execute(statement, rows)]


def _record_swept(conn: Connection, account_id: int, prefixes: list[str], now: datetime) -> None:
    """Record the sweep's decision at ``now`` to remove each of ``prefixes``: a prefix already recorded
    (an earlier decision whose removal failed) gets the new time, the others a row each."""
    known: set[str] = set()
    for start in range(0, len(prefixes), _SWEPT_CHUNK):
        chunk = prefixes[start : start + _SWEPT_CHUNK]
        mine = (_SWEPT.c.account_id == account_id) & _SWEPT.c.prefix.in_(chunk)
        known.update(conn.scalars(select(_SWEPT.c.prefix).where(mine)))
        conn.execute(update(_SWEPT).where(mine).values(create_time=now))
    rows = [{"account_id": account_id, "prefix": p, "create_time": now} for p in prefixes if p not in known]
    if rows:
        conn.execute(insert(_SWEPT), rows)


_COLUMNS = (_TABLE.c.id, _TABLE.c.account_id, _TABLE.c.path, _TABLE.c.create_time)


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(_TABLE.c.claimed_until.is_(None), _TABLE.c.claimed_until < now)


class ReclaimsMixin(StoreBase):
    def pending_reclaims(self) -> list[PendingReclaim]:
        """Every record, claimed or not (what a dry run of the sweep reports)."""
        query = select(*_COLUMNS).order_by(_TABLE.c.id)
        with self._read() as session:
            return [PendingReclaim(*row) for row in session.execute(query)]

    def reclaim_covering(self, account_id: int, path: str) -> str | None:
        """A recorded reclaim of the account whose Path is ``path``, contains it or lies below it (its
        objects may still be removed), or None. A CreateModel on such a Path must wait for it: the
        files it would record could be removed under the new version."""
        found = self.reclaims_covering(account_id, path)
        return found[0].path if found else None

    def reclaims_covering(self, account_id: int, path: str) -> list[PendingReclaim]:
        """Every recorded reclaim of :meth:`reclaim_covering`, oldest first."""
        folder = path if path.endswith("/") else path + "/"
        query = select(*_COLUMNS).where(_TABLE.c.account_id == account_id).order_by(_TABLE.c.id)
        covering = []
        with self._read() as session:
            for row in session.execute(query):
                pending = PendingReclaim(*row)
                if pending.id in self._reclaims_dropped:  # finished; its drop is not committed yet
                    continue
                other = pending.path if pending.path.endswith("/") else pending.path + "/"
                if folder.startswith(other) or other.startswith(folder):
                    covering.append(pending)
        return covering

    def record_reclaims(self, account_id: int, paths: Iterable[str]) -> list[PendingReclaim]:
        """Record reclaims of ``paths`` that the caller works on at once (claimed for :data:`CLAIM_FOR`):
        the storage sweep's, for the upload prefixes it removes. A crash leaves them to a later sweep.
        Each Path is also recorded as swept (:meth:`swept_upload`), in the same transaction: once, at the
        time of the latest decision (a sweep decides again on a prefix whose removal keeps failing)."""
        now = self._now()
        unique = list(dict.fromkeys(paths))
        with self._write() as session:
            conn = session.connection()
            if unique:
                _record_swept(conn, account_id, unique, now)
            return record(conn, account_id, unique, now, claimed_until=now + CLAIM_FOR)

    def swept_upload(self, account_id: int, prefix: str) -> datetime | None:
        """When the storage sweep last decided to remove the upload prefix ``prefix`` (its tos:// URL) of
        the account, within the time its decisions are kept (:meth:`forget_swept_uploads`), or None."""
        found = self._single_read(_SWEPT_PREFIX, {"account_id": account_id, "prefix": prefix})
        return None if found is None else cast(datetime, found[0])

    def swept_uploads(self, account_id: int, prefixes: Iterable[str]) -> dict[str, datetime]:
        """:meth:`swept_upload` of each of ``prefixes``: those the sweep decided to remove, with the time
        of its last decision."""
        wanted = list(dict.fromkeys(prefixes))
        found: dict[str, datetime] = {}
        with self._read() as session:
            for start in range(0, len(wanted), _SWEPT_CHUNK):
                query = select(_SWEPT.c.prefix, _SWEPT.c.create_time).where(
                    _SWEPT.c.account_id == account_id,
                    _SWEPT.c.prefix.in_(wanted[start : start + _SWEPT_CHUNK]),
                )
                for prefix, decided in session.execute(query):
                    if prefix not in found or decided > found[prefix]:
                        found[prefix] = decided
        return found

    def forget_swept_uploads(self, before: datetime) -> int:
        """Drop the sweep's decisions made before ``before``, but not one whose reclaim is still
        recorded (its removal kept failing: a CreateModel would finish it and register what is left);
        return how many."""
        pending = select(_TABLE.c.id).where(
            _TABLE.c.account_id == _SWEPT.c.account_id, _TABLE.c.path == _SWEPT.c.prefix
        )
        with self._write() as session:
            done = session.execute(delete(_SWEPT).where(_SWEPT.c.create_time < before, ~pending.exists()))
            return int(getattr(done, "rowcount", 0) or 0)

    def claim_reclaims(self, now: datetime | None = None, limit: int = 100) -> list[PendingReclaim]:
        """Claim up to ``limit`` records no other sweep holds (at ``now``, default the store's clock),
        oldest first, for :data:`CLAIM_FOR`."""
        now = self._now() if now is None else now
        candidates = select(*_COLUMNS).where(_claimable(now)).order_by(_TABLE.c.id).limit(limit)
        claimed: list[PendingReclaim] = []
        with self._write() as session:
            conn = session.connection()
            for row in conn.execute(candidates).all():
                # Conditional on the claim still being free: on PostgreSQL a concurrent sweep that
                # claimed it first makes this update wait for its commit, then match no row.
                taken = conn.execute(
                    update(_TABLE)
                    .where(_TABLE.c.id == row.id, _claimable(now))
                    .values(claimed_until=now + CLAIM_FOR)
                )
                if taken.rowcount == 1:
                    claimed.append(PendingReclaim(*row))
        return claimed

    def reclaim_done(self, record_id: int, *, wait: bool = False) -> None:
        """The record's objects are removed (or belong to a live version again): drop it.

        The caller does not wait for this write to be durable (on SQLite it rides along the next
        group commit; on PostgreSQL it commits without waiting for the WAL flush), so that a delete costs one
        durable commit, as before these records: a drop lost in a crash leaves a record whose Path the
        sweep judges again, finding its objects gone or in use. With ``wait`` it is committed before
        this returns (a CreateModel that finished the reclaim itself reads the records next).

        Meanwhile (up to :data:`~.group_commit.RIDE_WAIT` without another write) the record is not a
        reclaim still running: :meth:`reclaim_covering` passes over it in this process, so that a
        CreateModel on the Path right after a delete's answer finds the files gone (404), not a 503."""
        statement = delete(_TABLE).where(_TABLE.c.id == record_id)
        if wait:
            with self._write() as session:
                session.execute(statement)
            return
        if self.group_commit is not None:
            self._reclaims_dropped.add(record_id)

            def dropped(outcome: Future[Any]) -> None:
                self._reclaims_dropped.discard(record_id)  # committed, or failed: the record stays
                _logged(outcome)

            self.group_commit.ride(lambda session: session.execute(statement)).add_done_callback(dropped)
            return
        with self._write() as session:
            if self.dialect == "postgresql":
                session.execute(text("SET LOCAL synchronous_commit = off"))
            session.execute(statement)


def _logged(outcome: Future[Any]) -> None:
    if (error := outcome.exception()) is not None:
        log.warning("could not drop a finished reclaim record; the storage sweep will", exc_info=error)
