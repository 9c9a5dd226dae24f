"""Schema migrations: the history equals the models, old databases are refused until upgraded, and a
database written by release 0.1.0 (before migrations existed) upgrades with every row readable."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, MetaData, Table, create_engine, inspect, text

from mlp_server.store import Store, model_grams, sqlite_url, version_positions
from mlp_server.store.migrate import (
    BASELINE_REVISION,
    HEAD_REVISION,
    MigrationRequired,
    SchemaError,
    alembic_config,
    current_revision,
    prepare,
)
from mlp_server.store.model_index import include_name
from mlp_server.store.schema import Base
from mlp_testing import clean_env, mlp_script
from pg_testing import PgCluster

from .helpers import ACCOUNT, OTHER_ACCOUNT, version_info

LEGACY_DUMP = Path(__file__).parents[1] / "data" / "store_v0_1_0.sql"
LEGACY_ADMIN_KEY = "AKLTlegacy"


needs_a_later_revision = pytest.mark.skipif(
    HEAD_REVISION == BASELINE_REVISION, reason="no migration after the baseline yet: nothing to upgrade"
)


def schema_diff(engine: Engine) -> list[object]:
    """What differs between the database's schema and the models (empty: identical)."""
    with engine.connect() as conn:
        diff: list[object] = compare_metadata(
            MigrationContext.configure(conn, opts={"include_name": include_name}), Base.metadata
        )
        return diff


def legacy_data_dir(tmp_path: Path) -> Path:
    data_dir = tmp_path / "legacy"
    data_dir.mkdir()
    con = sqlite3.connect(data_dir / "mlp.sqlite3")
    con.executescript(LEGACY_DUMP.read_text(encoding="utf-8"))
    con.close()
    return data_dir


def dump(data_dir: Path) -> list[str]:
    con = sqlite3.connect(data_dir / "mlp.sqlite3")
    try:
        return list(con.iterdump())
    finally:
        con.close()


def mlp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [mlp_script(), *args], env=clean_env(), capture_output=True, text=True, timeout=120, check=False
    )


def test_head_revision_constant_is_the_single_head_of_the_history() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    heads = script.get_heads()
    assert heads == [HEAD_REVISION], f"one linear history ending at the largest NNNN_ file; heads: {heads}"
    numbers = sorted(rev.revision for rev in script.walk_revisions())
    assert numbers == [f"{n:04d}" for n in range(1, len(numbers) + 1)], "numbered 0001, 0002 ..."
    for rev in script.walk_revisions():
        assert rev.down_revision == (None if rev.revision == "0001" else f"{int(rev.revision) - 1:04d}")
    assert script.get_base() == BASELINE_REVISION


def test_migrations_from_scratch_build_exactly_the_models(tmp_path: Path) -> None:
    engine = create_engine(sqlite_url(tmp_path / "scratch.sqlite"))
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    assert schema_diff(engine) == [], "a schema change without a migration (or a migration the models lack)"
    assert current_revision(engine) == HEAD_REVISION


def test_rolling_back_the_version_positions_keeps_the_search_index(tmp_path: Path) -> None:
    """0013's downgrade drops its column in place: the triggers on ``models`` and the rowids the
    search index points at are kept (a batch copy of the table lost both)."""
    url = sqlite_url(tmp_path / "down.sqlite")
    store = Store(url)
    for n in range(5):
        store.create_model(ACCOUNT, {"ModelName": f"resnet-{n}", "VersionInfo": version_info()})
    doomed = store.list_models(ACCOUNT, {"ModelNameContains": "resnet-1"})["List"][0]["ModelID"]
    store.delete_model(ACCOUNT, {"ModelID": doomed})
    store.close()
    engine = create_engine(url)
    triggers = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'models' ORDER BY name"
    with engine.connect() as conn:
        before = list(conn.execute(text(triggers)))
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0012")
    with engine.connect() as conn:
        assert list(conn.execute(text(triggers))) == before != []
        found = conn.execute(
            text(
                "SELECT name FROM models WHERE rowid IN "
                "(SELECT rowid FROM models_search WHERE models_search MATCH :q)"
            ),
            {"q": '"resnet-4"'},
        )
        assert [row.name for row in found] == ["resnet-4"]
    engine.dispose()


def test_a_new_database_is_created_at_the_head(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "new.sqlite")
    Store(url).close()
    engine = create_engine(url)
    assert current_revision(engine) == HEAD_REVISION
    assert schema_diff(engine) == []


@needs_a_later_revision
def test_a_legacy_database_is_refused_with_the_command_that_upgrades_it(tmp_path: Path) -> None:
    url = sqlite_url(legacy_data_dir(tmp_path) / "mlp.sqlite3")
    with pytest.raises(MigrationRequired) as refused:
        Store(url)
    assert refused.value.current == BASELINE_REVISION
    assert "mlp db upgrade" in str(refused.value) and "--migrate" in str(refused.value)


@needs_a_later_revision
def test_mlp_serve_refuses_a_database_that_needs_a_migration(tmp_path: Path) -> None:
    data_dir = legacy_data_dir(tmp_path)
    before = dump(data_dir)
    served = mlp("serve", "--port", "0", "--data-dir", str(data_dir))
    assert served.returncode == 1, served
    assert "mlp db upgrade" in served.stderr and "Traceback" not in served.stderr, served.stderr
    assert dump(data_dir) == before  # refused means untouched (opening it switched on WAL, no more)


@needs_a_later_revision
def test_mlp_db_upgrade_keeps_every_row_readable(tmp_path: Path) -> None:
    data_dir = legacy_data_dir(tmp_path)
    url = sqlite_url(data_dir / "mlp.sqlite3")
    shown = mlp("db", "current", "--data-dir", str(data_dir))
    assert shown.returncode == 0 and f"revision {BASELINE_REVISION}" in shown.stdout, shown
    assert "mlp db upgrade" in shown.stdout, shown

    upgraded = mlp("db", "upgrade", "--data-dir", str(data_dir))
    assert upgraded.returncode == 0, upgraded
    again = mlp("db", "upgrade", "--data-dir", str(data_dir))
    assert again.returncode == 0 and f"already at revision {HEAD_REVISION}" in again.stdout, again
    engine = create_engine(url)
    assert current_revision(engine) == HEAD_REVISION
    assert schema_diff(engine) == [], "the upgraded database differs from a new one"

    store = Store(url)
    try:
        check_legacy_rows(store)
    finally:
        store.close()


def check_legacy_rows(store: Store) -> None:
    """Everything the 0.1.0 fixture holds reads back through this release's store."""
    models = store.list_models(ACCOUNT, {"Limit": 100})
    assert models["Total"] == 1
    resnet = models["List"][0]
    assert resnet["ModelName"] == "resnet"
    # The counters and the substring index were built from the old rows.
    assert store.list_models(ACCOUNT, {"ModelNameContains": "ESNe"})["List"] == [resnet]
    assert store.list_models(ACCOUNT, {"IdContains": resnet["ModelID"][2:10]})["Total"] == 1
    # The name grams too (0010): a 2-character needle's Total is their counter.
    assert store.list_models(ACCOUNT, {"ModelNameContains": "Sn"})["Total"] == 1
    assert store.list_models(ACCOUNT, {"ModelNameContains": "zq"})["Total"] == 0
    with store.engine.connect() as conn:
        kept = conn.execute(text("SELECT account_id, gram, models FROM model_grams")).all()
        assert {(a, g): n for a, g, n in kept} == dict(model_grams.counted(conn))
    versions = store.list_model_versions(ACCOUNT, {"ModelID": resnet["ModelID"], "Limit": 100})
    assert [v["ModelVersion"] for v in versions["List"]] == [2, 1]
    # The version positions (0013): what the store's own recount computes.
    positions = "SELECT model_id, low, high, versions_below FROM model_version_holes ORDER BY model_id, low"
    flags = "SELECT id, last_version_time FROM models ORDER BY id"
    with store.engine.connect() as conn:
        migrated = (conn.execute(text(positions)).all(), conn.execute(text(flags)).all())
    with store.engine.begin() as conn:
        version_positions.recount(conn)
        assert (conn.execute(text(positions)).all(), conn.execute(text(flags)).all()) == migrated
    assert all(flag is not None for _, flag in migrated[1])  # the fixture's versions are in time order
    first = store.get_model_version(ACCOUNT, {"ModelVersionID": f"{resnet['ModelID']}-1"})
    assert first["Path"] == "tos://bucket/resnet/1/" and first["ModelFormat"] == "ONNX"
    assert first["MetricsList"] == [
        {"MetricsType": "Accuracy", "Params": '{"split": "val"}', "MetricsData": '{"top1": 0.76}'}
    ]
    assert first["TensorConfig"]["Inputs"][0]["TensorName"] == "x"
    # Version numbering continues where the old release left it.
    assert store.get_model_next_version(ACCOUNT, {"ModelID": resnet["ModelID"]}) == {"ModelVersion": 3}
    jobs = store.list_perf_jobs(ACCOUNT, {"Limit": 100})["List"]
    assert len(jobs) == 1 and jobs[0]["ModelVersionID"] == f"{resnet['ModelID']}-1"
    tasks = store.list_perf_tasks(ACCOUNT, {"JobID": jobs[0]["JobID"], "Limit": 100})["List"]
    assert sorted(t["TaskArgs"]["FlavorID"] for t in tasks) == ["ml.c1i.large", "ml.g1e.large"]
    services = store.list_services(ACCOUNT, {"Limit": 100})["List"]
    assert [s["ServiceName"] for s in services] == ["resnet-svc"]
    assert store.list_models(OTHER_ACCOUNT, {"Limit": 100})["List"][0]["ModelName"] == "other"
    key = store.lookup_access_key(LEGACY_ADMIN_KEY)
    assert key is not None and key.is_admin and key.account_id == 2100000001
    assert {a.account_id for a in store.list_accounts()} == {2100000001, ACCOUNT}


@needs_a_later_revision
def test_store_upgrade_flag_and_embedded_open_upgrade_in_place(tmp_path: Path) -> None:
    from volcengine_ml_platform.embedded import embedded_app

    data_dir = legacy_data_dir(tmp_path)
    embedded_app(data_dir)  # the embedded platform upgrades its own data folder
    engine = create_engine(sqlite_url(data_dir / "mlp.sqlite3"))
    assert current_revision(engine) == HEAD_REVISION
    Store(sqlite_url(data_dir / "mlp.sqlite3")).close()  # no longer refused


def test_a_revision_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "future.sqlite")
    Store(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    for upgrade in (False, True):
        with pytest.raises(SchemaError, match="newer release"):
            prepare(engine, upgrade=upgrade)


def future_data_dir(tmp_path: Path) -> Path:
    """A data folder whose database a newer release stamped (a revision this one does not know)."""
    data_dir = tmp_path / "future"
    data_dir.mkdir()
    url = sqlite_url(data_dir / "mlp.sqlite3")
    Store(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    engine.dispose()
    return data_dir


@needs_a_later_revision
def test_mlp_gc_refuses_an_old_or_a_newer_database_plainly(tmp_path: Path) -> None:
    """``mlp gc`` on a folder an older release wrote says what to run, as ``mlp serve`` and ``mlp
    account`` do (it was 'unexpected error: MigrationRequired'); on a newer release's, that it is one."""
    for data_dir, says in (
        (legacy_data_dir(tmp_path), "mlp db upgrade"),
        (future_data_dir(tmp_path), "newer release"),
    ):
        before = dump(data_dir)
        swept = mlp("gc", "--grace", "0", "--data-dir", str(data_dir))
        assert swept.returncode == 1, swept
        # (a warning may come first: the database file made private, as any opening of it does)
        error = swept.stderr.splitlines()[-1]
        assert error.startswith("mlp: error: ") and says in error, swept.stderr
        assert "unexpected error" not in swept.stderr and "Traceback" not in swept.stderr, swept.stderr
        assert dump(data_dir) == before


def test_mlp_db_current_says_a_newer_release_wrote_the_database(tmp_path: Path) -> None:
    """Not 'run `mlp db upgrade`', which refuses it: this release cannot use the database at all."""
    data_dir = future_data_dir(tmp_path)
    shown = mlp("db", "current", "--data-dir", str(data_dir))
    assert shown.returncode == 0, shown
    assert "revision f00d" in shown.stdout and "newer release" in shown.stdout, shown
    assert "mlp db upgrade" not in shown.stdout, shown
    upgraded = mlp("db", "upgrade", "--data-dir", str(data_dir))
    assert upgraded.returncode == 1 and "newer release" in upgraded.stderr, upgraded


def test_the_embedded_platform_refuses_a_newer_releases_database_plainly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Model()`` raises the documented LocalPlatformError naming the folder (it raised the server's
    own SchemaError), and ``mlp models list`` prints it and exits 1 (it was an 'unexpected error')."""
    from volcengine_ml_platform.errors import LocalPlatformError
    from volcengine_ml_platform.models.model import Model

    data_dir = future_data_dir(tmp_path)
    before = dump(data_dir)
    monkeypatch.setenv("MLP_EMBEDDED_LINGER", "0")
    with pytest.raises(LocalPlatformError, match="newer release") as refused:
        Model(data_dir=data_dir).list_models()
    assert refused.value.data_dir == data_dir and str(data_dir) in str(refused.value)
    listed = mlp("models", "list", "--data-dir", str(data_dir))
    assert listed.returncode == 1, listed
    assert "newer release" in listed.stderr and str(data_dir) in listed.stderr, listed.stderr
    assert "unexpected error" not in listed.stderr and "Traceback" not in listed.stderr, listed.stderr
    assert dump(data_dir) == before


# ---- PostgreSQL --------------------------------------------------------------------------------------


def text_collations(engine: Engine) -> dict[str, str | None]:
    """``table.column`` -> collation of every character column of the store's tables."""
    query = text(
        "SELECT table_name, column_name, collation_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type = 'character varying' "
        "AND table_name != 'alembic_version'"
    )
    with engine.connect() as conn:
        return {f"{table}.{column}": collation for table, column, collation in conn.execute(query)}


def test_migrations_from_scratch_on_postgresql_build_exactly_the_models(pg_cluster: PgCluster) -> None:
    url = pg_cluster.database("migrate")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        assert schema_diff(engine) == []
        assert current_revision(engine) == HEAD_REVISION
        migrated = text_collations(engine)
        fresh_url = pg_cluster.database("fresh")
        Store(fresh_url).close()  # created from the models
        fresh = create_engine(fresh_url)
        assert text_collations(fresh) == migrated
        fresh.dispose()
        assert migrated["models.name"] == migrated["models.id"] == "C"
    finally:
        engine.dispose()


def legacy_postgresql_database(pg_cluster: PgCluster, tmp_path: Path) -> str:
    """A PostgreSQL database as release 0.1.0 made it (its schema, no alembic_version), holding the rows
    of the 0.1.0 fixture."""
    url = pg_cluster.database("legacy")
    engine = create_engine(url)
    source = create_engine(sqlite_url(legacy_data_dir(tmp_path) / "mlp.sqlite3"))
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), BASELINE_REVISION)
            conn.execute(text("DROP TABLE alembic_version"))
        # 0.1.0's tables and columns as the fixture has them, not this release's
        legacy_tables = set(inspect(source).get_table_names())
        old = MetaData()
        with source.connect() as read, engine.begin() as write:
            for table in Base.metadata.sorted_tables:
                if table.name not in legacy_tables:
                    continue
                columns = [c["name"] for c in inspect(source).get_columns(table.name)]
                legacy = Table(table.name, old, *(Column(name, table.c[name].type) for name in columns))
                rows = [dict(row._mapping) for row in read.execute(legacy.select())]
                if rows:
                    write.execute(legacy.insert(), rows)
    finally:
        source.dispose()
        engine.dispose()
    return url


def test_a_legacy_postgresql_database_is_refused_then_upgrades_with_every_row_readable(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    url = legacy_postgresql_database(pg_cluster, tmp_path)
    with pytest.raises(MigrationRequired) as refused:
        Store(url)
    assert refused.value.current == BASELINE_REVISION
    upgraded = mlp("db", "upgrade", "--database-url", url, "--data-dir", str(tmp_path / "unused"))
    assert upgraded.returncode == 0, upgraded
    engine = create_engine(url)
    try:
        assert current_revision(engine) == HEAD_REVISION
        assert schema_diff(engine) == []
        fresh_url = pg_cluster.database("fresh")
        Store(fresh_url).close()
        fresh = create_engine(fresh_url)
        assert text_collations(engine) == text_collations(fresh)  # as if made by this release
        fresh.dispose()
    finally:
        engine.dispose()
    store = Store(url)
    try:
        check_legacy_rows(store)
    finally:
        store.close()
