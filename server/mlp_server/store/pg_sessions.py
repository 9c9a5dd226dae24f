"""TCP settings of the PostgreSQL sessions that hold advisory locks (the serving lock, the reclaim
turns), so that a holder cut off by the network does not keep its lock for hours.

An advisory lock lives as long as its session. A holder cut off by a partition cannot end its session
itself, and the database notices a dead peer only through TCP: by default after two hours idle, then
nine probes 75 s apart, and never on a path where data stays unacknowledged. Both sides are bounded
here: libpq probes its end (:data:`KEEPALIVES`, connect arguments), and the session asks the server
to probe its end (:data:`TCP_SETTINGS`, set on the session). Both apply over TCP only (a Unix socket
has no dead peers)."""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Connection, text

# libpq: probe an idle connection after 5 s, every 1 s, 3 times; drop it when sent data stays
# unacknowledged for 3 s.
KEEPALIVES: Final = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 1,
    "keepalives_count": 3,
    "tcp_user_timeout": 3000,
}
# The server's side of the same session: its backend ends within about 8 s of the peer going silent.
TCP_SETTINGS: Final = {
    "tcp_keepalives_idle": "5s",
    "tcp_keepalives_interval": "1s",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "3s",
}
# Each setting only where the database knows it (tcp_user_timeout is PostgreSQL 12+,
# idle_session_timeout 14+): an older server leaves out what it lacks instead of failing the session.
_SET = text("SELECT set_config(name, :value, false) FROM pg_settings WHERE name = :name")
_SET_SQL: Final = "SELECT set_config(name, %s, false) FROM pg_settings WHERE name = %s"


def apply(conn: Connection, settings: dict[str, str]) -> None:
    """Set ``settings`` on ``conn``'s session (outside a transaction, or committed by the caller)."""
    for name, value in settings.items():
        conn.execute(_SET, {"name": name, "value": value})


def apply_on_connect(dbapi_connection: Any, settings: dict[str, str]) -> None:
    """:func:`apply` for a new DBAPI connection (an engine's ``connect`` event), committed: a pool's
    reset on return rolls back, and would undo settings made in an open transaction."""
    with dbapi_connection.cursor() as cursor:
        for name, value in settings.items():
            cursor.execute(_SET_SQL, (value, name))
    dbapi_connection.commit()
