"""On PostgreSQL, the team's serving ownership: a session advisory lock on a connection of its own.

The database drops the lock with the session, whatever ends it (the owner's death, a database
restart or failover, ``idle_session_timeout``, a network failure, ``pg_terminate_backend``). The
owner cannot learn that from an idle connection, so it asks: :meth:`ServingLock.held` every
``LOCK_CHECK_SECONDS``, with a deadline of ``LOCK_CHECK_TIMEOUT`` (a check that does not answer by
then counts as lost, so a hung network is noticed as fast as a closed session). TCP keepalives on the
connection let the kernel notice a dead peer too.

The database's side is bounded as well (``SESSION_SETTINGS``, set on the lock's session): an owner
cut off by the network cannot end its session itself, and a backend left alone would hold the lock
until the database's TCP keepalive noticed (two hours and more by default), so that no other server
could take over. The lock's session is ended by the database once no check has reached it for
``LOCK_IDLE_SECONDS`` (``idle_session_timeout``; the owner checks every ``LOCK_CHECK_SECONDS``), and by
the database's TCP keepalives and ``tcp_user_timeout`` on a dead network path. The lock is then free
for another server's next look.

An owner whose session ended while the lock stayed free (it stalled past ``LOCK_IDLE_SECONDS``, the
database restarted) takes it again on a new session (:meth:`ServingLock.take_again`) and keeps its
replicas: no other server held the lock, so none started replicas.

The bound: an owner notices a lost lock within ``LOCK_CHECK_SECONDS + LOCK_CHECK_TIMEOUT +
LOCK_TAKE_AGAIN_TIMEOUT`` and stops its replicas at once; a new owner waits ``TAKEOVER_GRACE_SECONDS``
(more than that) before it starts any, so two servers never run replicas of the same services at once.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import socket

from sqlalchemy import URL, Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from ..store import pg_sessions
from ..store.pg_sessions import KEEPALIVES, TCP_SETTINGS
from .lease import SERVING_LOCK_KEY

log = logging.getLogger("mlp_server.serving")

LOCK_CHECK_SECONDS = 1.0  # well under TAKEOVER_LOOK_SECONDS (5 s), the other servers' retry period
LOCK_CHECK_TIMEOUT = 1.5
# An owner whose check failed tries to take the lock again on a new session (its old one may have
# ended while the lock stayed free); given up after this many seconds.
LOCK_TAKE_AGAIN_TIMEOUT = 1.0
# Detection bound (a check, then that attempt) plus the time to stop the replicas (SIGKILL, no drain:
# they are no longer ours).
TAKEOVER_GRACE_SECONDS = LOCK_CHECK_SECONDS + LOCK_CHECK_TIMEOUT + LOCK_TAKE_AGAIN_TIMEOUT + 1.0
RELEASE_TIMEOUT = 5.0
# A server asking for the lock gives up a connection not established within this many seconds (a
# dead network path: libpq would otherwise wait for the kernel, or for ever on a path that accepts and
# never answers), and asks again at its next look.
CONNECT_TIMEOUT = 5
# The database ends the lock's session (and the lock) once it has been idle this long: no check
# arrived, its owner is cut off (or stalled). Twice the longest gap a working owner leaves.
LOCK_IDLE_SECONDS = 5.0
# Server-side settings of the lock's session (set_config, each only where the database knows it:
# idle_session_timeout is PostgreSQL 14+, tcp_user_timeout 12+). The TCP ones apply on TCP only.
SESSION_SETTINGS = {
    "idle_session_timeout": f"{LOCK_IDLE_SECONDS:g}s",
    "idle_in_transaction_session_timeout": f"{LOCK_IDLE_SECONDS:g}s",
    **TCP_SETTINGS,
}


_HELD = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND CAST(classid AS bigint) = 0"
    " AND CAST(objid AS bigint) = :key AND objsubid = 1)"
)


class ServingLock:
    """The advisory lock, held by a connection used for nothing else (one statement at a time, from
    one worker thread, so that a check can be given up on without touching the connection)."""

    def __init__(self, engine: Engine, conn: Connection) -> None:
        self._engine = engine
        self._conn = conn
        self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mlp-serving-lock")

    @classmethod
    def try_take(cls, url: URL) -> ServingLock | None:
        """The lock, or None while another session holds it."""
        # Named, so that an operator sees in pg_stat_activity which server holds it.
        name = f"mlp serving lock {socket.gethostname()}:{os.getpid()}"[:63]
        connect_args = {**KEEPALIVES, "connect_timeout": CONNECT_TIMEOUT, "application_name": name}
        engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
        try:
            conn = engine.connect()
            try:
                pg_sessions.apply(conn, SESSION_SETTINGS)
                owned = bool(
                    conn.execute(
                        text("SELECT pg_try_advisory_lock(:key)"), {"key": SERVING_LOCK_KEY}
                    ).scalar()
                )
                conn.commit()  # the lock is the session's, not the transaction's: nothing stays open
            except Exception:
                conn.close()
                raise
        except Exception:
            engine.dispose()
            raise
        if not owned:
            conn.close()
            engine.dispose()
            return None
        return cls(engine, conn)

    @classmethod
    def take_again(cls, url: URL, timeout: float = LOCK_TAKE_AGAIN_TIMEOUT) -> ServingLock | None:
        """:meth:`try_take` for an owner whose check failed, given up after ``timeout`` seconds (a lock
        that comes later is released) or on an error: None then, as while another session holds it
        (this owner's old one, still alive, included)."""
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mlp-serving-lock-take")
        future = pool.submit(cls.try_take, url)
        pool.shutdown(wait=False)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            log.warning("serving lock: not taken again within %.1fs", timeout)

            def late(done: concurrent.futures.Future[ServingLock | None]) -> None:
                lock = None if done.cancelled() or done.exception() is not None else done.result()
                if lock is not None:
                    lock.release()

            future.add_done_callback(late)
        except Exception as exc:
            log.warning("serving lock: cannot take it again: %s", exc)
        return None

    def held(self, timeout: float = LOCK_CHECK_TIMEOUT) -> bool:
        """Whether this session still holds the lock; False also when the check fails or does not
        answer within ``timeout`` seconds."""
        future = self._worker.submit(self._check)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            log.warning("serving lock: no answer from the database within %.1fs", timeout)
            return False
        except Exception as exc:
            log.warning("serving lock: the check failed: %s", exc)
            return False

    def _check(self) -> bool:
        held = bool(self._conn.execute(_HELD, {"key": SERVING_LOCK_KEY}).scalar())
        self._conn.commit()
        return held

    def release(self) -> None:
        """Unlock and close; bounded: a connection that does not answer is left to the database
        (which drops the lock with the session)."""
        future = self._worker.submit(self._release)
        with contextlib.suppress(Exception):
            future.result(RELEASE_TIMEOUT)
        self._worker.shutdown(wait=False)

    def _release(self) -> None:
        try:
            with contextlib.suppress(Exception):
                self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SERVING_LOCK_KEY})
                self._conn.commit()
        finally:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._engine.dispose()
