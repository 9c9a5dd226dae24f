"""Models and their versions: CreateModel, Get/List/Update/DeleteModel, the version actions."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.orm import Session

from mlp_server.errors import ApiError, invalid, not_found

from . import model_changes, model_ranks, provenance, reclaims, version_positions, version_stats
from .base import Body, Result, StoreBase, with_new_id
from .deploy_locks import Intent, lock_model, lock_version
from .ids import version_id, wire_time
from .list_cache import ListCache
from .model_listing import MODEL_SORTS, Filters, list_model_rows
from .paging import Page, SortKeys, chunked, fetch_page
from .raw_sqlite import Executes, RawCursor, raw_cursor
from .reclaims import PendingReclaim
from .schema import ModelRow, ServiceRow, UTCDateTime, VersionRow

# CreateModel's statements, built once: a statement object memoizes its cache key, so executing
# one of these skips building and hashing the expression every time.
_MODEL_OWNED = select(ModelRow.id).where(
    ModelRow.id == bindparam("model_id"), ModelRow.account_id == bindparam("account_id")
)
_PATH_OWNED = (
    select(VersionRow.id)
    .where(VersionRow.account_id == bindparam("account_id"), VersionRow.path == bindparam("path"))
    .limit(1)
)
# CreateModel's two checks in one round trip when it names a model: (model owned, Path registered).
_MODEL_AND_PATH = select(_MODEL_OWNED.exists().label("model"), _PATH_OWNED.exists().label("path"))
_REGISTERED = (
    select(VersionRow.id, VersionRow.model_id, VersionRow.version)
    .where(VersionRow.account_id == bindparam("account_id"), VersionRow.path == bindparam("path"))
    .order_by(VersionRow.create_time)
    .limit(1)
)
_MODELS, _VERSIONS = cast(Table, ModelRow.__table__), cast(Table, VersionRow.__table__)
# The new version's create time, and whether the versions' CreateTime order is still their numbers'
# order (:mod:`.version_positions`), decided under the model row's lock in the statement that takes the
# number. A registration reads its clock before it waits for that lock, so racing registrations find the
# last version's time a little after their own: the version then takes that time (a tie, broken by the
# number), which lies inside its own request (between its clock read and its lock) and keeps the order.
# A step back of RACE_MARGIN or more is a clock set back: the flag goes NULL, for good, and the version
# keeps its own clock's time. One second: the wire's CreateTime has second precision, and a wait for the
# lock is milliseconds (a whole registration of another writer), not seconds.
RACE_MARGIN = timedelta(seconds=1)
_NOW = bindparam("b_now", type_=UTCDateTime())
_RACE_END = bindparam("b_race_end", type_=UTCDateTime())  # now + RACE_MARGIN
_TIME_ORDER = case(
    (_MODELS.c.last_version_time <= _NOW, _NOW),
    (_MODELS.c.last_version_time < _RACE_END, _MODELS.c.last_version_time),
    else_=None,
)
# The number taken is the model's highest (numbers only go up): its version stats move in the same
# statement (:mod:`.version_stats`; SET reads the row's values from before the update). RETURNING gives
# the row's new values: the next number, and the new version's create time (NULL: its own ``now``).
_TAKE_NUMBER = (
    update(_MODELS)
    .where(_MODELS.c.id == bindparam("b_model_id"), _MODELS.c.account_id == bindparam("b_account_id"))
    .values(
        next_version=_MODELS.c.next_version + 1,
        version_count=_MODELS.c.version_count + 1,
        latest_version=_MODELS.c.next_version,
        last_version_time=_TIME_ORDER,
    )
    .returning(_MODELS.c.next_version, _MODELS.c.last_version_time)
)
_LATEST_FORMAT = (
    select(VersionRow.model_format, VersionRow.model_type)
    .where(VersionRow.model_id == bindparam("model_id"))
    .order_by(VersionRow.version.desc())
    .limit(1)
)
_INSERT_VERSION = insert(_VERSIONS)
_INSERT_MODEL = insert(_MODELS)
_MODEL_EXISTS = select(_MODELS.c.id).where(_MODELS.c.id == bindparam("model_id"))
# GetModel: the model and its version stats (kept on its row), in one statement.
_MODEL_WITH_STATS = select(
    ModelRow.id,
    ModelRow.account_id,
    ModelRow.name,
    ModelRow.category,
    ModelRow.create_time,
    ModelRow.version_count,
    ModelRow.latest_version,
).where(ModelRow.id == bindparam("model_id"))


def _fields(name: str, columns: Iterable[Any]) -> Any:
    """A row class with a field per column, by the names the ``_*_item`` functions read."""
    return namedtuple(name, [str(column.key) for column in columns])


_ModelFields = _fields("_ModelFields", _MODEL_WITH_STATS.selected_columns)
# GetModelVersion: every column of the version (what _version_item reads, by the same names).
_VERSION_BY_ID = select(_VERSIONS).where(_VERSIONS.c.id == bindparam("version_id"))
_VersionFields = _fields("_VersionFields", _VERSIONS.columns)
# Without UPDATE ... RETURNING: read the number (and the order flag) under a row lock, then move it on.
_CURRENT_NUMBER = (
    select(_MODELS.c.next_version, _MODELS.c.last_version_time)
    .where(_MODELS.c.id == bindparam("b_model_id"), _MODELS.c.account_id == bindparam("b_account_id"))
    .with_for_update()
)
_SET_NUMBER = (
    update(_MODELS)
    .where(_MODELS.c.id == bindparam("b_model_id"))
    .values(
        next_version=bindparam("b_next"),
        version_count=_MODELS.c.version_count + 1,
        latest_version=_MODELS.c.next_version,
        last_version_time=bindparam("b_order", type_=UTCDateTime()),
    )
)
_PATH_TURN = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")

VERSION_SORTS: SortKeys = {
    "CreateTime": (VersionRow.create_time, VersionRow.version),
    "ModelVersion": (VersionRow.version,),
}
DEFAULT_SOURCE_TYPE = "TOS"


class ModelsMixin(StoreBase):
    @cached_property
    def _model_lists(self) -> ListCache:
        """Totals and matches of filtered ListModels, for the filter's next pages (:mod:`.list_cache`)."""
        return ListCache()

    def create_model(self, account_id: int, body: Body) -> Result:
        """Register a version: of a new model, or of the model named by ``ModelID``.

        Without ``ModelID`` a model is created (``ModelName``, ``VersionInfo.ModelFormat`` and
        ``VersionInfo.ModelType`` required) and gets version 1. With ``ModelID`` the model's own
        fields (``ModelName``, ``ModelCategory``) in the body are ignored, the stored ones stay
        (UpdateModel renames), and an omitted ModelFormat/ModelType is inherited from the model's
        latest existing version. ``VersionInfo.Path`` is always required; SourceType defaults to TOS.
        Result: ``{"ModelID", "VersionInfo": {"ModelVersionID", "ModelVersion"}}``.

        Idempotent by Path: a Path the account has already registered answers that version again
        (no new row), so a client may resend a CreateModel whose answer it never got.
        """
        info: Body = body.get("VersionInfo") or {}
        if not info.get("Path"):
            raise invalid("VersionInfo.Path", "is required")
        now = self._now()
        model_id: str | None = body.get("ModelID")
        # Answered once committed (with group commit: once the batch holding it is fsynced).
        if model_id is not None:
            named: str = model_id

            def add_version(conn: Executes) -> Result:
                return _add_version(conn, account_id, named, body, info, now)

            if self._group is not None:
                # The hot path (every Model.register): no Session, the driver's cursor (raw_sqlite).
                dialect = self._engine.dialect
                return self._group.run_raw(lambda cursor: add_version(RawCursor(cursor, dialect)))
            return self._write_unit(lambda session: add_version(session.connection()))

        def register(session: Session) -> Result:
            conn = session.connection()
            # Looked up inside the write transaction: writers are serialised (on SQLite, a batch's
            # units run one after another), so a concurrent resend of the same registration sees the
            # row the first one wrote.
            if (done := _registered(conn, account_id, info["Path"], None)) is not None:
                return done
            new_id = self._insert_model(session, account_id, body, now)
            provenance.check(conn, account_id, info)  # after the model's rows: the writers' lock order
            values = _version_values(account_id, new_id, 1, info, None, body.get("DatasetID"), now)
            return _insert_version(conn, values)

        return self._write_unit(register)

    def get_model(self, account_id: int, body: Body) -> Result:
        # One Core statement (the model and its version stats), not two ORM queries: every
        # Model.register asks it first, and the ORM's cost per query was most of its CPU. No Session
        # or transaction either (_single_read): their set-up cost more than the read.
        model_id = body["ModelID"]
        found = self._single_read(_MODEL_WITH_STATS, {"model_id": model_id})
        row = None if found is None else _ModelFields(*found)
        if row is None or row.account_id != account_id:
            raise not_found("Model", model_id)
        return _model_item(row)

    def list_models(self, account_id: int, body: Body) -> Result:
        """Filters: ModelName (exact), ModelNameContains and IdContains (case-insensitive)."""
        page = Page.from_body(body, MODEL_SORTS)
        with self._read() as session:
            filters = Filters.from_body(body)
            total, models = list_model_rows(session, account_id, filters, page, self._model_lists)
        return {"Total": total, "List": [_model_item(m) for m in models]}

    def update_model(self, account_id: int, body: Body) -> Result:
        with self._write() as session:
            model = _owned_model(session, account_id, body["ModelID"])
            if (name := body.get("ModelName")) is not None and name != model.name:
                generation = model_changes.take_turn(session, account_id, 0)
                old_name = _name_in_turn(session, model)
                model.name = name
                session.flush()
                model_changes.logged(
                    session, account_id, generation, model.id, model.create_time, old_name, name
                )
                model_ranks.renamed(session, account_id, model, old_name)
        return {"ModelID": model.id}

    def delete_model(self, account_id: int, body: Body) -> Result:
        """Deletes the model and all its versions; perf jobs that used them stay. Refused (409
        ResourceInUse) while a service uses one of its versions."""
        self.delete_model_paths(account_id, body)
        return {"ModelID": body["ModelID"]}

    def delete_model_paths(self, account_id: int, body: Body) -> tuple[list[PendingReclaim], list[str]]:
        """DeleteModel, returning the reclaims it recorded (the Paths of the versions deleted, whose
        objects may be reclaimed; :mod:`.reclaims`) and the deleted versions' ModelVersionIDs."""
        with self._write() as session:
            model = _owned_model(session, account_id, body["ModelID"])
            generation = model_changes.take_turn(session, account_id, -1)
            # Locked before the check, so that no deploy of one of its versions commits between the
            # two (deploy_locks; after the account's counter, as UpdateModel takes them).
            if not lock_model(session, model.id, Intent.DELETE_MODEL):
                raise not_found("Model", model.id)
            _refuse_if_served(session, account_id, ServiceRow.model_id == model.id, f"model {model.id}")
            name = _name_in_turn(session, model)
            paths = {
                deleted_id: path
                for deleted_id, path in session.execute(
                    select(VersionRow.id, VersionRow.path).where(VersionRow.model_id == model.id)
                )
            }
            session.execute(delete(VersionRow).where(VersionRow.model_id == model.id))
            session.delete(model)
            model_changes.logged(session, account_id, generation, model.id, model.create_time, name, None)
            model_ranks.removed(session, account_id, model)
            pending = reclaims.record(session.connection(), account_id, list(paths.values()), self._now())
        return pending, list(paths)

    def get_model_next_version(self, account_id: int, body: Body) -> Result:
        """``{"ModelVersion": n}``: what the next registration gets (1 without ModelID)."""
        model_id = body.get("ModelID")
        if model_id is None:
            return {"ModelVersion": 1}
        with self._read() as session:
            next_version = session.scalar(select(ModelRow.next_version).where(*_owned(account_id, model_id)))
        if next_version is None:
            raise not_found("Model", model_id)
        return {"ModelVersion": next_version}

    def list_model_versions(self, account_id: int, body: Body) -> Result:
        """Versions of ``ModelID`` (unknown -> NotFound); ModelVersion filters one number."""
        model_id = body.get("ModelID")
        if model_id is None:
            raise invalid("ModelID", "is required")
        page = Page.from_body(body, VERSION_SORTS)
        # Ownership is checked once on the model (_owned_model below); filtering versions by model alone
        # lets the count use the (model_id, ...) index instead of reading every version row.
        where: list[ColumnElement[bool]] = [VersionRow.model_id == model_id]
        number = body.get("ModelVersion")
        if number is not None:
            where.append(VersionRow.version == _version_number(number))
        with self._read() as session:
            if self.dialect == "postgresql":  # the count and the page from one snapshot
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            model = _owned_model(session, account_id, model_id)
            if number is None:  # every version: the count kept on the model (version_stats)
                total, versions = model.version_count, _versions_page(session, model, page)
            else:
                total, versions = fetch_page(session, VersionRow, where, page, VERSION_SORTS)
        return {"Total": total, "List": [_version_item(v) for v in versions]}

    def get_model_version(self, account_id: int, body: Body) -> Result:
        found = self._single_read(_VERSION_BY_ID, {"version_id": body["ModelVersionID"]})
        version = None if found is None else _VersionFields(*found)
        if version is None or version.account_id != account_id:
            raise not_found("ModelVersion", body["ModelVersionID"])
        return _version_item(version)

    def update_model_version(self, account_id: int, body: Body) -> Result:
        """Changes only the fields given (Description, TensorConfig, MetricsList)."""
        with self._write() as session:
            version = owned_version(session, account_id, body["ModelVersionID"])
            if (description := body.get("Description")) is not None:
                version.description = description
            if (tensor_config := body.get("TensorConfig")) is not None:
                version.tensor_config = tensor_config
            if (metrics := body.get("MetricsList")) is not None:
                version.metrics_list = metrics
        return {"ModelVersionID": version.id}

    def delete_model_version(self, account_id: int, body: Body) -> Result:
        """Its number is not reused: the model's counter never goes back. Refused (409 ResourceInUse)
        while a service uses it."""
        self.delete_model_version_path(account_id, body)
        return {"ModelVersionID": body["ModelVersionID"]}

    def delete_model_version_path(self, account_id: int, body: Body) -> PendingReclaim:
        """DeleteModelVersion, returning the reclaim it recorded: the deleted version's Path (whose
        objects may be reclaimed; :mod:`.reclaims`)."""
        with self._write() as session:
            version = owned_version(session, account_id, body["ModelVersionID"])
            # Locked before the check, so that no deploy of it commits between the two (deploy_locks).
            if not (
                lock_model(session, version.model_id, Intent.DELETE_VERSION)
                and lock_version(session, version.id, Intent.DELETE_VERSION)
            ):
                raise not_found("ModelVersion", version.id)
            _refuse_if_served(
                session, account_id, ServiceRow.model_version_id == version.id, f"version {version.id}"
            )
            path, model_id, number = version.path, version.model_id, version.version
            conn = session.connection()
            # Core, and counted by what it deleted: on PostgreSQL a concurrent delete of the same
            # version may have won, and it must not be counted out twice.
            if conn.execute(delete(VersionRow).where(VersionRow.id == version.id)).rowcount != 1:
                raise not_found("ModelVersion", body["ModelVersionID"])
            session.expunge(version)
            version_stats.removed(conn, model_id, number)
            (pending,) = reclaims.record(conn, account_id, [path], self._now())
        return pending

    def registration_state(self, account_id: int, model_id: str | None, path: str) -> bool:
        """CreateModel's checks before it touches the Path's files, in one read: NotFound unless the
        account has ``model_id`` (when given; whatever the Path says), then whether the account has
        registered ``path`` already (a resend)."""
        self._check_open()
        with self._engine.connect() as conn:
            # One statement, no transaction needed: on SQLite straight on the driver (raw_sqlite).
            reads: Executes = conn if self.dialect != "sqlite" else raw_cursor(conn)
            if model_id is None:
                done = reads.execute(_PATH_OWNED, {"path": path, "account_id": account_id}).first()
                return done is not None
            params = {"model_id": model_id, "account_id": account_id, "path": path}
            found = reads.execute(_MODEL_AND_PATH, params).first()
        assert found is not None  # two EXISTS: always one row
        model, registered = found
        if not model:
            raise not_found("Model", model_id)
        return bool(registered)

    def path_in_use(self, account_id: int, path: str) -> bool:
        """Whether a version of the account has ``path``, lies below it, or contains it."""
        with self._read() as session:
            return _path_users(session, account_id, path) > 0

    def registered_paths(self, account_ids: Iterable[int] | None = None) -> dict[int, list[str]]:
        """account id -> the Path of every version (the references the storage sweep keeps)."""
        query = select(VersionRow.account_id, VersionRow.path)
        if account_ids is not None:
            query = query.where(VersionRow.account_id.in_(list(account_ids)))
        found: dict[int, list[str]] = {}
        with self._read() as session:
            for account_id, path in session.execute(query):
                found.setdefault(account_id, []).append(path)
        return found

    def _insert_model(self, session: Session, account_id: int, body: Body, now: datetime) -> str:
        name = body.get("ModelName")
        if not name:
            raise invalid("ModelName", "is required to register a new model (no ModelID)")
        values = {
            "account_id": account_id,
            "name": name,
            "category": body.get("ModelCategory"),
            "dataset_id": body.get("DatasetID"),
            "next_version": 2,
            "version_count": 1,  # its first version, inserted next (version_stats)
            "latest_version": 1,
            "last_version_time": now,  # its first version's (version_positions)
            "create_time": now,
        }
        model = ModelRow(id=_insert_model_row(session, now, values), **values)  # not in the session
        model_changes.created(session, account_id, model.id, now, name)
        model_ranks.added(session, account_id, model)
        return model.id


def _insert_model_row(session: Session, now: datetime, values: dict[str, Any]) -> str:
    """Insert the model row under a fresh random id (:func:`.base.with_new_id` in Core: the ORM's unit
    of work was a third of a new model's CPU); its id."""
    conn = session.connection()

    def attempt(model_id: str) -> str | None:
        try:
            with conn.begin_nested():
                conn.execute(_INSERT_MODEL, {"id": model_id, **values})
        except IntegrityError:
            if conn.execute(_MODEL_EXISTS, {"model_id": model_id}).first() is None:
                raise  # not an id collision
            return None
        return model_id

    return with_new_id("m", now, attempt)


def _owned(account_id: int, model_id: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return ModelRow.id == model_id, ModelRow.account_id == account_id


def _name_in_turn(session: Session, model: ModelRow) -> str:
    """The model's name as of now, read after taking the account's turn: on PostgreSQL another
    writer may have renamed it since it was loaded, and the change log must hold the name it had
    just before this change. NotFound if that writer deleted it."""
    try:
        session.refresh(model, ["name"])
    except InvalidRequestError:
        raise not_found("Model", model.id) from None
    return model.name


def _owned_model(session: Session, account_id: int, model_id: str) -> ModelRow:
    model = session.get(ModelRow, model_id)
    if model is None or model.account_id != account_id:
        raise not_found("Model", model_id)
    return model


def owned_version(session: Session, account_id: int, model_version_id: str) -> VersionRow:
    """The version if ``account_id`` owns it; NotFound otherwise (also used by perf and services)."""
    version = session.get(VersionRow, model_version_id)
    if version is None or version.account_id != account_id:
        raise not_found("ModelVersion", model_version_id)
    return version


def _registered(conn: Executes, account_id: int, path: str, model_id: str | None) -> Result | None:
    """The answer of an earlier CreateModel of ``path`` by this account, if there was one.

    SQLite serialises writers, so a concurrent resend sees the row the first one committed. PostgreSQL
    runs writers at once: a transaction lock on (account, Path) makes resends of one registration
    take turns there too, on every server process sharing the database.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(_PATH_TURN, {"key": f"{account_id}:{path}"})
    row = conn.execute(_REGISTERED, {"account_id": account_id, "path": path}).first()
    if row is None:
        return None
    found_id, found_model, found_number = row
    if model_id is not None and found_model != model_id:
        raise ApiError(
            "Conflict",
            f"VersionInfo.Path: {path} is already registered as version {found_number} of model "
            f"{found_model}; upload the files again (GetTOSUploadPath) to register them elsewhere",
        )
    return {"ModelID": found_model, "VersionInfo": {"ModelVersionID": found_id, "ModelVersion": found_number}}


def _add_version(
    conn: Executes, account_id: int, model_id: str, body: Body, info: Body, now: datetime
) -> Result:
    """CreateModel with ModelID: a resend's answer again, else the model's next number, its format
    inherited from its latest version where the body leaves it out, and the new row."""
    if (done := _registered(conn, account_id, info["Path"], model_id)) is not None:
        return done
    number, create_time = _take_version_number(conn, account_id, model_id, now)
    provenance.check(conn, account_id, info)  # after the model's row: the writers' lock order
    inherited = None if info.get("ModelFormat") and info.get("ModelType") else _latest_format(conn, model_id)
    values = _version_values(
        account_id, model_id, number, info, inherited, body.get("DatasetID"), create_time
    )
    return _insert_version(conn, values)


def _insert_version(conn: Executes, values: dict[str, Any]) -> Result:
    """Insert the version row and answer CreateModel's Result. Core, not the ORM: this is the hot write
    path and nothing here needs an identity map. An absent value is left out (SQL NULL, as the ORM
    writes it; JSON columns would store a JSON null for an explicit None)."""
    conn.execute(_INSERT_VERSION, {k: v for k, v in values.items() if v is not None})
    return {
        "ModelID": values["model_id"],
        "VersionInfo": {"ModelVersionID": values["id"], "ModelVersion": values["version"]},
    }


def _refuse_if_served(session: Session, account_id: int, uses: ColumnElement[bool], what: str) -> None:
    services = list(
        session.execute(
            select(ServiceRow.id, ServiceRow.name)
            .where(ServiceRow.account_id == account_id, uses)
            .order_by(ServiceRow.id)
        )
    )
    if services:
        named = ", ".join(f"{sid} ({name})" for sid, name in services)
        raise ApiError("ResourceInUse", f"{what} is used by service(s) {named}; delete those services first")


def _path_users(session: Session, account_id: int, path: str) -> int:
    """How many versions of the account have ``path``, a Path below it, or a Path containing it."""
    folder = _folder(path)
    scheme_end = path.index("://") + 3 if "://" in path else 0
    # Every Path that contains this one is one of its ancestors, with or without the trailing "/".
    cut = [i + 1 for i, c in enumerate(folder) if c == "/" and i >= scheme_end]
    ancestors = {folder[:i] for i in cut} | {folder[: i - 1] for i in cut}
    escaped = folder.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    count = session.scalar(
        select(func.count())
        .select_from(VersionRow)
        .where(
            VersionRow.account_id == account_id,
            or_(VersionRow.path.in_(ancestors), VersionRow.path.like(escaped + "%", escape="\\")),
        )
    )
    return int(count or 0)


def _folder(path: str) -> str:
    return path if path.endswith("/") else path + "/"


def _take_version_number(
    conn: Executes, account_id: int, model_id: str, now: datetime
) -> tuple[int, datetime]:
    """Atomically hand out the model's next version number (the row stays locked until commit), and
    the new version's create time: ``now``, or the last version's when a racing registration that
    read its clock later took its number first (``_TIME_ORDER``)."""
    params = {
        "b_model_id": model_id,
        "b_account_id": account_id,
        "b_now": now,
        "b_race_end": now + RACE_MARGIN,
    }
    if conn.dialect.update_returning:
        taken = conn.execute(_TAKE_NUMBER, params).first()
        if taken is None:
            raise not_found("Model", model_id)
        return int(taken[0]) - 1, now if taken[1] is None else taken[1]
    current = conn.execute(_CURRENT_NUMBER, params).first()
    if current is None:
        raise not_found("Model", model_id)
    number, order = int(current[0]), _time_order(current[1], now)
    conn.execute(_SET_NUMBER, {"b_model_id": model_id, "b_next": number + 1, "b_order": order})
    return number, now if order is None else order


def _time_order(last: datetime | None, now: datetime) -> datetime | None:
    """``_TIME_ORDER`` in Python, for the dialects without UPDATE ... RETURNING."""
    if last is None:
        return None
    if last <= now:
        return now
    return last if last < now + RACE_MARGIN else None


def _latest_format(conn: Executes, model_id: str) -> tuple[str, str] | None:
    """(ModelFormat, ModelType) of the model's latest existing version, for a version that omits them."""
    row = conn.execute(_LATEST_FORMAT, {"model_id": model_id}).first()
    return None if row is None else (row[0], row[1])


def _version_values(
    account_id: int,
    model_id: str,
    number: int,
    info: Body,
    inherited: tuple[str, str] | None,
    dataset_id: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The new version's column values (attribute names of :class:`VersionRow`)."""
    model_format = info.get("ModelFormat") or (inherited[0] if inherited else None)
    model_type = info.get("ModelType") or (inherited[1] if inherited else None)
    if not model_format:
        raise invalid("VersionInfo.ModelFormat", "is required (the model has no version to inherit it from)")
    if not model_type:
        raise invalid("VersionInfo.ModelType", "is required (the model has no version to inherit it from)")
    return {
        "id": version_id(model_id, number),
        "model_id": model_id,
        "account_id": account_id,
        "version": number,
        "model_format": model_format,
        "model_type": model_type,
        "path": info["Path"],
        "source_type": info.get("SourceType") or DEFAULT_SOURCE_TYPE,
        "description": info.get("Description") or "",
        "tensor_config": info.get("TensorConfig"),
        "metrics_list": info.get("MetricsList"),
        "model_tags": info.get("ModelTags"),
        "base_model_version_id": info.get("BaseModelVersionID"),
        "source_id": info.get("SourceId"),
        "dataset_id": dataset_id,
        "create_time": now,
    }


def _versions_page(session: Session, model: ModelRow, page: Page) -> list[VersionRow]:
    """The page of all of a model's versions, read from the nearer end without skipping anything: its
    first number is found by arithmetic on the numbers (:mod:`.version_positions`), then the page is
    the next ``Limit`` entries of the ``(model_id, version)`` index. A CreateTime page of a model whose
    create times left the numbers' order walks the sort's own index instead."""
    total = model.version_count
    if page.limit == 0 or page.offset >= total:
        return []
    walked, reverse = page.walked(total)
    if page.sort_by == "CreateTime" and model.last_version_time is None:
        rows = _versions_walked(session, model.id, walked)
    else:
        position = total - 1 - walked.offset if walked.descending else walked.offset
        first = version_positions.number_at(session.connection(), model.id, position)
        number = VersionRow.version
        after = number <= first if walked.descending else number >= first
        order = number.desc() if walked.descending else number.asc()
        query = select(VersionRow).where(VersionRow.model_id == model.id, after).order_by(order)
        rows = list(session.scalars(query.limit(walked.limit)))
    if reverse:
        rows.reverse()
    return rows


def _versions_walked(session: Session, model_id: str, walked: Page) -> list[VersionRow]:
    """The page's numbers found in the sort's own index (``(model_id, create_time, version)``), which
    holds every sort key, so the rows an Offset skips are never read, only their index entries."""
    keys = VERSION_SORTS[walked.sort_by]
    order = [key.desc() if walked.descending else key.asc() for key in keys]
    mine = VersionRow.model_id == model_id
    page_numbers = (
        select(VersionRow.version).where(mine).order_by(*order).offset(walked.offset).limit(walked.limit)
    )
    numbers = list(session.scalars(page_numbers))
    # Then the rows by (model_id, version), put in the numbers' order here: asked to ORDER BY, SQLite
    # would rather walk the model's whole sort index than sort ten rows.
    rows: dict[int, VersionRow] = {}
    for batch in chunked(numbers):
        rows.update(
            (row.version, row)
            for row in session.scalars(select(VersionRow).where(mine, VersionRow.version.in_(batch)))
        )
    return [rows[number] for number in numbers]


def _version_number(value: object) -> int:
    """ModelVersion arrives as an int or, from the Python API, as its string."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise invalid("ModelVersion", f"must be a version number, got {value!r}")


def _model_item(model: ModelRow | Row[*tuple[Any, ...]] | Any) -> Result:
    """LatestVersion (a string, as on the wire) is omitted while the model has no version."""
    count, highest = model.version_count, model.latest_version
    item: Result = {"ModelID": model.id, "ModelName": model.name}
    if model.category is not None:
        item["ModelCategory"] = model.category
    item["CreateTime"] = wire_time(model.create_time)
    item["ModelVersionsCount"] = count
    if count:
        item["LatestVersion"] = str(highest)
    return item


def _version_item(version: VersionRow | Any) -> Result:
    item: Result = {
        "ModelVersionID": version.id,
        "ModelVersion": version.version,
        "ModelFormat": version.model_format,
        "ModelType": version.model_type,
        "Path": version.path,
        "Description": version.description,
        "SourceType": version.source_type,
        "CreateTime": wire_time(version.create_time),
        # The platform's answer for a version registered without one (seed example).
        "TensorConfig": version.tensor_config if version.tensor_config is not None else {"Inputs": []},
    }
    optional = {
        "MetricsList": version.metrics_list,
        "ModelTags": version.model_tags,
        "BaseModelVersionID": version.base_model_version_id,
        "SourceId": version.source_id,
    }
    item.update({key: value for key, value in optional.items() if value is not None})
    return item
