"""The embedded platform's quick reads: the model and version reads answered with the SQLite driver alone.

An embedded ``mlp models list`` used to load the whole platform to answer one read: SQLAlchemy (its
core and ORM), Starlette and anyio cost about three quarters of the command. ListModels, GetModel,
ListModelVersions and GetModelVersion are answered here instead, from the same database file and
through the same steps as the open door of :mod:`.app` (signature, body policy, schema, handler,
envelope), without importing any of that.

Only what this module is sure of is answered here; for anything else :meth:`QuickReads.answer`
returns None and the caller hands the request to the full platform, which then answers it as it
always did. That covers every error (a bad signature, a body the schema refuses, an unknown model),
any database trouble, and accounts with more than :data:`MAX_MODELS` models, where the full store's
counters, indexes and list cache pay for their import. Reads only: declining has no effect to undo.

:func:`open_quick` vouches for the data folder first: a database at the schema head with its
default account, its token secret and its object folders, i.e. one that opening the full platform
would leave exactly as it is. Otherwise it returns None and the platform is opened (created,
migrated, bootstrapped) as before. ``tests/server/test_quick_reads.py`` compares every answer with
the full platform's on the same data.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import parse_qs

from volcengine_ml_platform import schema
from volcengine_ml_platform.signing import SignatureError, verify_headers, verify_payload

from .envelope import API_VERSION, Meta, headers, new_request_id, render, success_content
from .errors import ApiError
from .json_policy import request_body
from .operations import lookup
from .revisions import VERSION_TABLE, head_revision
from .settings import ServerSettings

# Above this many models in the caller's account, ListModels goes to the full store: its counters,
# substring index and list cache beat a plain count and scan there (a scan of 100,000 names is
# ~15 ms; importing the full platform costs ~500 ms of CPU).
MAX_MODELS: Final = 100_000
DATABASE_FILE: Final = "mlp.sqlite3"
TOKEN_FILE: Final = "token.key"
TOKEN_BYTES: Final = 32  # the token issuer's minimum: a shorter secret is refused by the full open
# As paging.py: the documented defaults and orders of every List action.
DEFAULT_OFFSET, DEFAULT_LIMIT = 0, 10
DEFAULT_SORT_BY, DEFAULT_SORT_ORDER = "CreateTime", "Descend"
SORT_ORDERS = ("Ascend", "Descend")
# SortBy -> the columns of model_listing.MODEL_SORTS (the last ones break ties).
MODEL_SORTS: Final = {"CreateTime": ("create_time", "id"), "ModelName": ("name", "create_time", "id")}
# ... and of models.VERSION_SORTS.
VERSION_SORTS: Final = {"CreateTime": ("create_time", "version"), "ModelVersion": ("version",)}
IN_CHUNK = 500  # ids per IN (...) list, as paging.IN_CHUNK
# Every table and column read here, so that a test can hold them to the one schema (store/schema.py).
COLUMNS_READ: Final = {
    "models": (
        "id",
        "account_id",
        "name",
        "category",
        "create_time",
        "version_count",
        "latest_version",
        "last_version_time",
    ),
    "model_version_holes": ("model_id", "high", "versions_below"),
    "model_counts": ("account_id", "models"),
    "model_versions": (
        "id",
        "model_id",
        "account_id",
        "version",
        "model_format",
        "model_type",
        "path",
        "description",
        "source_type",
        "create_time",
        "tensor_config",
        "metrics_list",
        "model_tags",
        "base_model_version_id",
        "source_id",
    ),
    "access_keys": ("ak", "sk", "account_id"),
    "accounts": ("account_id",),
}

Body = dict[str, Any]
_Item = TypeVar("_Item")


class Declined(Exception):
    """Not answered here: the full platform answers (it also writes every error)."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def open_quick(settings: ServerSettings) -> QuickReads | None:
    """Quick reads of ``settings``' data folder, or None when the full platform must open it (to create,
    migrate or bootstrap it, or because its database is not the folder's SQLite file)."""
    if settings.database_url is not None:
        return None
    folder = settings.data_dir
    objects = settings.objects_dir
    needed = [objects / ".meta", objects / ".tmp", objects / ".locks"] if settings.s3 is None else []
    try:
        if (folder / TOKEN_FILE).stat().st_size < TOKEN_BYTES:
            return None
        if not all(path.is_dir() for path in needed):
            return None
        database = folder / DATABASE_FILE
        if not database.is_file():
            return None
        quick = QuickReads(settings, database)
        if not quick.ready():
            quick.close()
            return None
    except (OSError, sqlite3.Error):
        return None
    return quick


def _connect(database: Path, busy_timeout: float) -> sqlite3.Connection:
    # mode=rw: never creates the file. Autocommit: BEGIN/COMMIT are written here.
    conn = sqlite3.connect(
        f"{database.as_uri()}?mode=rw",
        uri=True,
        timeout=busy_timeout,  # as the store's engine (settings.sqlite_busy_timeout)
        isolation_level=None,
        check_same_thread=False,
    )
    return conn


class QuickReads:
    """The quick actions of the open door, from one SQLite connection (one read at a time)."""

    def __init__(self, settings: ServerSettings, database: Path) -> None:
        self.settings = settings
        self._conn = _connect(database, settings.sqlite_busy_timeout)
        self._lock = threading.Lock()  # one transaction at a time on the one connection
        self._handlers: dict[str, Callable[[sqlite3.Connection, int, Body], Body]] = {
            "ListModels": _list_models,
            "GetModel": _get_model,
            "ListModelVersions": _list_model_versions,
            "GetModelVersion": _get_model_version,
        }

    def close(self) -> None:
        """Close the connection; requests are declined from then on (the full platform answers)."""
        with self._lock:
            self._conn.close()

    def ready(self) -> bool:
        """The schema is at this release's head and the default account exists: opening the full
        platform would change nothing (no migration, no bootstrap)."""
        with self._lock, self._snapshot() as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if VERSION_TABLE not in tables or "accounts" not in tables or not _at_head(conn):
                return False
            return conn.execute("SELECT 1 FROM accounts LIMIT 1").fetchone() is not None

    def _snapshot(self) -> _Snapshot:
        return _Snapshot(self._conn)

    def answer(
        self, method: str, path: bytes, query: bytes, headers_: Sequence[tuple[bytes, bytes]], raw: bytes
    ) -> Answer | None:
        """The answer to one request, or None: then the full platform must answer it."""
        try:
            with self._lock:
                return self._answer(method, path, query, headers_, raw)
        except Declined:
            return None
        except (sqlite3.Error, ApiError, ValueError, TypeError, KeyError, OverflowError):
            return None  # the full platform meets the same trouble and answers it properly

    def _answer(
        self, method: str, path: bytes, query: bytes, headers_: Sequence[tuple[bytes, bytes]], raw: bytes
    ) -> Answer:
        if method != "POST" or path != b"/":
            raise Declined
        params = {
            k: v[0] for k, v in parse_qs(query.decode().partition("#")[0], keep_blank_values=True).items()
        }
        action, version = params.get("Action", ""), params.get("Version", "")
        handler = self._handlers.get(action)
        operation = lookup("open", action)
        if handler is None or operation is None or version not in schema.api_versions():
            raise Declined
        if len(raw) > self.settings.max_body_bytes:
            raise Declined
        meta = Meta(new_request_id(), action, self.settings.region, version or API_VERSION)
        with self._snapshot() as conn:
            if not _at_head(conn):  # migrated meanwhile (by a newer release?): the full open decides
                raise Declined
            account_id = self._signed_by(conn, method, path, query, headers_, raw)
            body = request_body(raw, operation.request_schema)
            result = handler(conn, account_id, body)
        content = render(success_content(meta, result))
        found = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers(meta).items()]
        found += [
            (b"content-length", str(len(content)).encode("latin-1")),
            (b"content-type", b"application/json"),
        ]
        return Answer(200, found, content)

    def _signed_by(
        self,
        conn: sqlite3.Connection,
        method: str,
        path: bytes,
        query: bytes,
        headers_: Sequence[tuple[bytes, bytes]],
        raw: bytes,
    ) -> int:
        """The signer's account, checked as the gateway checks it (the key read in this snapshot)."""
        found: dict[str, int] = {}

        def secret_for(ak: str) -> str | None:
            row = conn.execute("SELECT sk, account_id FROM access_keys WHERE ak = ?", (ak,)).fetchone()
            if row is None:
                return None
            found["account_id"] = int(row[1])
            return str(row[0])

        try:
            pending = verify_headers(
                method=method,
                path=path,
                query=query,
                headers=headers_,
                secret_key_for=secret_for,
                now=datetime.now(UTC),
                service="ml_platform",
                region=self.settings.region,
            )
            verify_payload(pending, raw)
        except SignatureError:
            raise Declined from None
        return found["account_id"]


def _at_head(conn: sqlite3.Connection) -> bool:
    """The database is stamped with this release's head revision, and only with it (migrate.py)."""
    return conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall() == [(head_revision(),)]


class _Snapshot:
    """One read transaction: the Total and the page (and the key) from one snapshot."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self._conn.execute("BEGIN DEFERRED")
        return self._conn

    def __exit__(self, *exc: object) -> None:
        self._conn.execute("ROLLBACK")  # nothing was written


# ---- the handlers: the store's list_models and get_model (store/models.py, store/model_listing.py) ----


def _default(value: Any, default: Any) -> Any:
    return default if value is None else value


def _page(body: Body, sorts: dict[str, tuple[str, ...]]) -> tuple[int, int, tuple[str, ...], bool]:
    """(Offset, Limit, the sort's columns, descending) with the documented defaults
    (paging.Page.from_body)."""
    offset = _default(body.get("Offset"), DEFAULT_OFFSET)
    limit = _default(body.get("Limit"), DEFAULT_LIMIT)
    sort_by = _default(body.get("SortBy"), DEFAULT_SORT_BY)
    sort_order = _default(body.get("SortOrder"), DEFAULT_SORT_ORDER)
    for value in (offset, limit):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise Declined  # the full store names the field
    if sort_by not in sorts or sort_order not in SORT_ORDERS:
        raise Declined
    return offset, limit, sorts[sort_by], sort_order == "Descend"


def _order(keys: tuple[str, ...], descending: bool) -> str:
    direction = "DESC" if descending else "ASC"
    return ", ".join(f"{key} {direction}" for key in keys)


def _list_models(conn: sqlite3.Connection, account_id: int, body: Body) -> Body:
    offset, limit, keys, descending = _page(body, MODEL_SORTS)
    order = _order(keys, descending)
    counted = conn.execute("SELECT models FROM model_counts WHERE account_id = ?", (account_id,)).fetchone()
    models = 0 if counted is None else int(counted[0])
    if models > MAX_MODELS:
        raise Declined
    where: list[str] = ["account_id = ?"]
    args: list[Any] = [account_id]
    if (name := body.get("ModelName")) is not None:
        where.append("name = ?")
        args.append(name)
    for column, needle in (("name", body.get("ModelNameContains")), ("id", body.get("IdContains"))):
        if needle is not None:
            # SQLite's LIKE: ASCII case ignored, anything else compared as it is (paging.contains).
            where.append(f"{column} LIKE ? ESCAPE '/'")
            args.append(f"%{_escape_like(needle)}%")
    filtered = len(where) > 1
    if filtered:
        total = int(
            conn.execute(f"SELECT count(*) FROM models WHERE {' AND '.join(where)}", args).fetchone()[0]
        )
    else:
        total = models  # the account's counter, as the full store answers an unfiltered Total
    ids: list[str] = []
    if limit and offset < total:
        page = f"SELECT id FROM models WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ? OFFSET ?"
        ids = [row[0] for row in conn.execute(page, [*args, limit, offset])]
    return {"Total": total, "List": _model_items(conn, ids)}


def _get_model(conn: sqlite3.Connection, account_id: int, body: Body) -> Body:
    items = _model_items(conn, [body["ModelID"]], account_id)
    if not items:
        raise Declined  # NotFound: written by the full store
    return items[0]


_VERSION_COLUMNS = ", ".join(COLUMNS_READ["model_versions"])


def _list_model_versions(conn: sqlite3.Connection, account_id: int, body: Body) -> Body:
    """The store's list_model_versions: the versions of one of the caller's models."""
    model_id = body.get("ModelID")
    if model_id is None:
        raise Declined
    offset, limit, keys, descending = _page(body, VERSION_SORTS)
    where, args = "model_id = ?", [model_id]
    if (number := body.get("ModelVersion")) is not None:
        if isinstance(number, str) and number.isdigit():
            number = int(number)
        if not isinstance(number, int) or isinstance(number, bool):
            raise Declined
        where, args = f"{where} AND version = ?", [model_id, number]
    mine = conn.execute(
        "SELECT version_count, last_version_time FROM models WHERE id = ? AND account_id = ?",
        (model_id, account_id),
    ).fetchone()
    if mine is None:
        raise Declined  # NotFound: written by the full store
    if number is None:  # every version: the count kept on the model, the page from the numbers
        total, by_number = int(mine[0]), keys == VERSION_SORTS["ModelVersion"] or mine[1] is not None
        page = (offset, limit, keys, descending)
        return {"Total": total, "List": _versions_page(conn, model_id, total, page, by_number)}
    total = int(conn.execute(f"SELECT count(*) FROM model_versions WHERE {where}", args).fetchone()[0])
    query = (
        f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE {where} "
        f"ORDER BY {_order(keys, descending)} LIMIT ? OFFSET ?"
    )
    rows = conn.execute(query, [*args, limit, offset]).fetchall() if limit and offset < total else []
    return {"Total": total, "List": [_version_item(row) for row in rows]}


def _versions_page(
    conn: sqlite3.Connection,
    model_id: str,
    total: int,
    page: tuple[int, int, tuple[str, ...], bool],
    by_number: bool,
) -> list[Body]:
    """models.py's ``_versions_page``: from the nearer end, the page's first number from the runs of
    holes (version_positions.number_at) when the sort is the numbers' order, else the page's numbers
    from the sort's index."""
    offset, limit, keys, descending = page
    if not limit or offset >= total:
        return []
    reverse = offset + limit // 2 > total // 2
    if reverse:
        end = total - offset
        offset, limit, descending = max(0, end - limit), min(limit, end), not descending
    if by_number:
        position = total - 1 - offset if descending else offset
        run = conn.execute(
            "SELECT high, versions_below FROM model_version_holes WHERE model_id = ? AND versions_below <= ? "
            "ORDER BY versions_below DESC LIMIT 1",
            (model_id, position),
        ).fetchone()
        first = position + 1 if run is None else int(run[0]) + 1 + position - int(run[1])
        side, direction = ("<=", "DESC") if descending else (">=", "ASC")
        query = (
            f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE model_id = ? AND version {side} ? "
            f"ORDER BY version {direction} LIMIT ?"
        )
        found = conn.execute(query, (model_id, first, limit)).fetchall()
        if reverse:
            found.reverse()
        return [_version_item(row) for row in found]
    order = _order(keys, descending)
    page_numbers = f"SELECT version FROM model_versions WHERE model_id = ? ORDER BY {order} LIMIT ? OFFSET ?"
    numbers = [row[0] for row in conn.execute(page_numbers, (model_id, limit, offset))]
    if reverse:
        numbers.reverse()
    rows: dict[int, Sequence[Any]] = {}
    for batch in _chunked(numbers):
        marks = ", ".join("?" * len(batch))
        query = f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE model_id = ? AND version IN ({marks})"
        rows.update((row[3], row) for row in conn.execute(query, (model_id, *batch)))  # by version
    return [_version_item(rows[number]) for number in numbers]


def _get_model_version(conn: sqlite3.Connection, account_id: int, body: Body) -> Body:
    query = f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE id = ? AND account_id = ?"
    row = conn.execute(query, (body["ModelVersionID"], account_id)).fetchone()
    if row is None:
        raise Declined  # NotFound: written by the full store
    return _version_item(row)


def _version_item(row: Sequence[Any]) -> Body:
    """A version row (``COLUMNS_READ`` order) as models.py's ``_version_item`` writes it."""
    (
        version_id,
        _model_id,
        _account_id,
        number,
        model_format,
        model_type,
        path,
        description,
        source_type,
        created,
        tensor_config,
        metrics_list,
        model_tags,
        base_model_version_id,
        source_id,
    ) = row
    tensor = _json(tensor_config)
    item: Body = {
        "ModelVersionID": version_id,
        "ModelVersion": number,
        "ModelFormat": model_format,
        "ModelType": model_type,
        "Path": path,
        "Description": description,
        "SourceType": source_type,
        "CreateTime": _wire_time(created),
        "TensorConfig": tensor if tensor is not None else {"Inputs": []},
    }
    optional = {
        "MetricsList": _json(metrics_list),
        "ModelTags": _json(model_tags),
        "BaseModelVersionID": base_model_version_id,
        "SourceId": source_id,
    }
    item.update({key: value for key, value in optional.items() if value is not None})
    return item


def _json(stored: str | None) -> Any:
    """A JSON column's value (SQLAlchemy's JSON type stores text on SQLite; SQL NULL reads as None)."""
    return None if stored is None else json.loads(stored)


def _escape_like(needle: str) -> str:
    """``%``, ``_`` and the escape itself match themselves (SQLAlchemy's ``autoescape``, escape ``/``)."""
    return needle.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _chunked(ids: Sequence[_Item]) -> Iterable[Sequence[_Item]]:
    return (ids[i : i + IN_CHUNK] for i in range(0, len(ids), IN_CHUNK))


def _model_items(conn: sqlite3.Connection, ids: Sequence[str], account_id: int | None = None) -> list[Body]:
    """The wire items of ``ids``, in that order (models.py's ``_model_item``)."""
    rows: dict[str, tuple[str, str | None, str, int, int]] = {}
    for batch in _chunked(ids):
        marks = ", ".join("?" * len(batch))
        mine = "" if account_id is None else " AND account_id = ?"
        found = conn.execute(
            "SELECT id, name, category, create_time, version_count, latest_version "
            f"FROM models WHERE id IN ({marks}){mine}",
            [*batch, *([] if account_id is None else [account_id])],
        )
        rows.update((row[0], (row[1], row[2], row[3], int(row[4]), int(row[5]))) for row in found)
    items: list[Body] = []
    for model_id in ids:
        if model_id not in rows:
            continue
        name, category, created, count, highest = rows[model_id]
        item: Body = {"ModelID": model_id, "ModelName": name}
        if category is not None:
            item["ModelCategory"] = category
        item["CreateTime"] = _wire_time(created)
        item["ModelVersionsCount"] = count
        if count:
            item["LatestVersion"] = str(highest)
        items.append(item)
    return items


def _wire_time(stored: str) -> str:
    """A stored naive-UTC time (SQLAlchemy's SQLite text form) as ``ids.wire_time`` writes it."""
    return datetime.fromisoformat(stored).replace(tzinfo=UTC, microsecond=0).isoformat()
