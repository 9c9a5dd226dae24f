"""PostgreSQL sessions lost under the store (a restart, failover, ``pg_terminate_backend``): answered as
the retried 503 when nothing can have been written, never when a COMMIT was under way (the write may be
durable, so a client must not send it again), and a pooled connection whose session ended is replaced
before use. The losses are real: a trigger ends its own session, before or at the COMMIT."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import create_engine, text

from mlp_server.storage_errors import CommitOutcomeUnknown, storage_error
from mlp_server.store import Store
from mlp_testing import free_port
from pg_testing import PgCluster
from server_store.helpers import ACCOUNT, register

END_SESSION = """
CREATE FUNCTION end_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$;
"""
TERMINATE_OTHERS = text(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def with_trigger(url: str, when: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(END_SESSION))
            conn.execute(text(f"CREATE CONSTRAINT TRIGGER end_session AFTER INSERT ON models {when}"
                              " FOR EACH ROW EXECUTE FUNCTION end_session()"))  # fmt: skip
    finally:
        engine.dispose()


def test_a_session_lost_before_the_commit_is_temporary(pg_cluster: PgCluster) -> None:
    url = pg_cluster.database("lost_before")
    store = Store(url)
    try:
        with_trigger(url, "NOT DEFERRABLE")
        with pytest.raises(Exception) as caught:
            register(store, Path="tos://bucket/lost/before/")
        found = storage_error(caught.value)
        assert found is not None and (found.code, found.status) == ("ServiceUnavailableTemp", 503)
        assert "cannot be reached" in found.message
    finally:
        store.close()


def test_a_session_lost_during_the_commit_is_not_answered_as_retryable(pg_cluster: PgCluster) -> None:
    url = pg_cluster.database("lost_commit")
    store = Store(url)
    try:
        with_trigger(url, "DEFERRABLE INITIALLY DEFERRED")  # runs at COMMIT
        with pytest.raises(CommitOutcomeUnknown) as caught:
            register(store, Path="tos://bucket/lost/commit/")
        assert storage_error(caught.value) is None  # an InternalError: the outcome is unknown
    finally:
        store.close()


def test_a_pooled_connection_whose_session_ended_is_replaced(pg_cluster: PgCluster) -> None:
    url = pg_cluster.database("lost_pooled")
    store = Store(url)
    try:
        model_id, _ = register(store, Path="tos://bucket/lost/pooled/")
        store.get_model(ACCOUNT, {"ModelID": model_id})  # a connection in the pool
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                ended = conn.execute(TERMINATE_OTHERS).fetchall()
        finally:
            engine.dispose()
        assert ended, "no pooled session was ended"
        assert store.get_model(ACCOUNT, {"ModelID": model_id})["ModelID"] == model_id
    finally:
        store.close()


def test_an_unreachable_database_is_temporary() -> None:
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(f"host=127.0.0.1 port={free_port()} user=nobody dbname=none", connect_timeout=2)
    found = storage_error(caught.value)
    assert found is not None and found.code == "ServiceUnavailableTemp"
