"""Tables. Every tenant-owned row carries ``account_id``; the indexes serve the list queries.

Resource rows do not reference ``accounts``: the inner API acts for accounts named by a secure
token, which need not have access keys here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def _text(length: int) -> String:
    """A string column that sorts and compares by code point on every database: SQLite's default
    (BINARY), and ``COLLATE "C"`` on PostgreSQL, whose default follows the server's locale (en-US
    sorts "a" < "B" < "b" and skips "-"), so that lists sort alike on both and indexes serve them."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


_ID = _text(64)
_VERSION_ID = _text(96)
_NAME = _text(255)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (microseconds kept, sorts as text on SQLite), returns aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, Any: JSON}


class ModelRow(Base):
    __tablename__ = "models"
    __table_args__ = (
        Index("ix_models_account_time", "account_id", "create_time", "id"),
        # Serves both SortBy=ModelName and an exact ModelName filter sorted by CreateTime.
        Index("ix_models_account_name", "account_id", "name", "create_time", "id"),
    )

    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(_NAME)
    category: Mapped[str | None] = mapped_column(String(64))
    dataset_id: Mapped[str | None] = mapped_column(_NAME)
    # The number the next registration gets; only ever incremented, so numbers are never reused.
    next_version: Mapped[int] = mapped_column(Integer)
    create_time: Mapped[datetime]
    # How many versions the model has and the highest of their numbers (0: none), kept in the
    # transaction of every version create and delete (:mod:`.version_stats`): GetModel and ListModels
    # read them instead of counting the versions.
    version_count: Mapped[int] = mapped_column(Integer, server_default="0")
    latest_version: Mapped[int] = mapped_column(Integer, server_default="0")
    # The create time of the latest version registered, while every version's create time follows the
    # order of the numbers (NULL once that is not known): then a CreateTime page of the versions is a
    # page of their numbers (:mod:`.version_positions`).
    last_version_time: Mapped[datetime | None]


class ModelCountRow(Base):
    """Models per account, kept with every create and delete: an unfiltered list's Total.

    ``generation`` goes up with every create, delete and rename of one of the account's models (and
    every recount), in the same transaction, which logs the change under it (:class:`ModelChangeRow`):
    lists cache what they computed under one generation (:mod:`.list_cache`), read the generation in
    their own snapshot, and carry what they kept forward through the logged changes, so a changed
    account is never answered from a stale cache.
    """

    __tablename__ = "model_counts"

    account_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    models: Mapped[int] = mapped_column(BigInteger)
    generation: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class ModelGramRow(Base):
    """How many of the account's models have ``gram`` (1 or 2 characters, ASCII letters folded) in
    their name, kept with every create, delete and rename: the Total of a short ModelNameContains
    (:mod:`.model_grams`)."""

    __tablename__ = "model_grams"

    account_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    gram: Mapped[str] = mapped_column(_text(2), primary_key=True)
    models: Mapped[int] = mapped_column(BigInteger)


class ModelChangeRow(Base):
    """One create, delete or rename of an account's model, under the list generation it moved the
    account to (written in the same transaction): a filtered list kept under an older generation is
    carried forward through these rows instead of computed again (:mod:`.model_changes`).

    ``name_before`` is NULL for a create, ``name_after`` for a delete. Generations are consecutive per
    account, so a missing row (pruned, or a recount, which logs none) is seen as a gap.
    """

    __tablename__ = "model_changes"

    account_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    model_id: Mapped[str] = mapped_column(_ID)
    create_time: Mapped[datetime]
    name_before: Mapped[str | None] = mapped_column(_NAME)
    name_after: Mapped[str | None] = mapped_column(_NAME)


class ModelRankRow(Base):
    """Stretches of an account's models in one list order, each with how many models it holds: the
    position of any page is found by adding up these counts, not by skipping rows (:mod:`.model_ranks`).

    A stretch starts at its key (``name`` is empty in CreateTime order) and ends where the next one
    starts; the first one also holds every model before its key.
    """

    __tablename__ = "model_ranks"

    account_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sort_by: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(_NAME, primary_key=True)
    create_time: Mapped[datetime] = mapped_column(primary_key=True)
    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    models: Mapped[int] = mapped_column(BigInteger)


class VersionHoleRow(Base):
    """A run of a model's version numbers that no version has (deleted, or left by rows written around the
    store), ``low`` to ``high``, and how many versions are below it: the version at a position is found
    from the run just below it (:mod:`.version_positions`)."""

    __tablename__ = "model_version_holes"
    # The run just below a position: one seek.
    __table_args__ = (Index("ix_model_version_holes_below", "model_id", "versions_below"),)

    model_id: Mapped[str] = mapped_column(_ID, ForeignKey("models.id", ondelete="CASCADE"), primary_key=True)
    low: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    high: Mapped[int] = mapped_column(Integer)
    # How many of the model's versions have a number below ``low``.
    versions_below: Mapped[int] = mapped_column(Integer)


class VersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),
        Index("ix_model_versions_model_time", "model_id", "create_time", "version"),
        # CreateModel is idempotent by Path: a resent registration finds its version here.
        Index("ix_model_versions_account_path", "account_id", "path"),
    )

    id: Mapped[str] = mapped_column(_VERSION_ID, primary_key=True)
    model_id: Mapped[str] = mapped_column(_ID, ForeignKey("models.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)
    model_format: Mapped[str] = mapped_column(String(64))
    model_type: Mapped[str] = mapped_column(String(128))
    path: Mapped[str] = mapped_column(Text)
    source_type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    tensor_config: Mapped[Any | None]
    metrics_list: Mapped[Any | None]
    model_tags: Mapped[Any | None]
    base_model_version_id: Mapped[str | None] = mapped_column(_VERSION_ID)
    source_id: Mapped[str | None] = mapped_column(_ID)
    dataset_id: Mapped[str | None] = mapped_column(_NAME)
    create_time: Mapped[datetime]


class PendingReclaimRow(Base):
    """A deleted version's Path whose objects are still to be removed, written in the delete's own
    transaction and dropped once they are (:mod:`.reclaims`): a server killed in between leaves this
    row, and the storage sweep finishes it, since nothing else refers to those objects any more."""

    __tablename__ = "pending_reclaims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(Text)
    create_time: Mapped[datetime]
    # Until when a sweep works on it: another sweep leaves it alone until then (a sweep killed
    # meanwhile leaves it to the next one once this has passed).
    claimed_until: Mapped[datetime | None]


class SweptUploadRow(Base):
    """An upload prefix (GetTOSUploadPath's) that the storage sweep decided to remove, written in the
    transaction of its pending-reclaim record and kept for a week (:mod:`.reclaims`): a client may still
    have been writing files to it, and a CreateModel of it is then refused rather than recording only
    the files written after the removal (``lifecycle.swept_upload``)."""

    __tablename__ = "swept_uploads"
    __table_args__ = (
        Index("ix_swept_uploads_account_prefix", "account_id", "prefix"),
        # the sweep forgets decisions by age (a scan of a large table, under SQLite's write lock, without it)
        Index("ix_swept_uploads_create_time", "create_time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(BigInteger)
    # The prefix's tos:// URL, as the sweep's record names it (``tos://bucket/.../{stamp}-{tag}/``).
    prefix: Mapped[str] = mapped_column(Text)
    create_time: Mapped[datetime]


class PerfJobRow(Base):
    __tablename__ = "perf_jobs"
    __table_args__ = (
        Index("ix_perf_jobs_account_time", "account_id", "create_time", "id"),
        Index("ix_perf_jobs_account_version", "account_id", "model_version_id"),
    )

    # No foreign key to model_versions: a job's history outlives the version it measured.
    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger)
    model_version_id: Mapped[str] = mapped_column(_VERSION_ID)
    job_type: Mapped[str] = mapped_column(String(32))
    tensor_config: Mapped[Any]
    tensor_config_id: Mapped[str] = mapped_column(_ID)
    job_params: Mapped[Any]
    create_time: Mapped[datetime]


class PerfTaskRow(Base):
    __tablename__ = "perf_tasks"
    __table_args__ = (
        Index("ix_perf_tasks_job_status", "job_id", "status"),
        Index("ix_perf_tasks_account_time", "account_id", "create_time", "id"),
        Index("ix_perf_tasks_status_time", "status", "create_time", "id"),
    )

    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    job_id: Mapped[str] = mapped_column(_ID, ForeignKey("perf_jobs.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(BigInteger)
    model_version_id: Mapped[str] = mapped_column(_VERSION_ID)
    task_type: Mapped[str] = mapped_column(String(32))
    flavor_id: Mapped[str] = mapped_column(String(64))
    convert_type: Mapped[str] = mapped_column(String(64))
    convert_precision: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    # The worker holding the task and until when (it renews the lease while it runs the task): a task
    # whose lease has expired goes to the next worker that claims (its worker died).
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires: Mapped[datetime | None]
    # How many times a worker has claimed the task (more than 1: an earlier worker died or stopped).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Filled by the perf worker when the task ends.
    result_json: Mapped[Any | None]
    message: Mapped[str | None] = mapped_column(Text)
    create_time: Mapped[datetime]
    update_time: Mapped[datetime]


class ServiceRow(Base):
    __tablename__ = "services"
    __table_args__ = (
        UniqueConstraint("account_id", "name", name="uq_services_account_name"),
        Index("ix_services_account_time", "account_id", "create_time", "id"),
    )

    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(_NAME)
    service_version_id: Mapped[str] = mapped_column(_ID)
    # What was deployed, copied at deploy time: it stays describable if the version is deleted.
    model_id: Mapped[str] = mapped_column(_ID)
    model_version_id: Mapped[str] = mapped_column(_VERSION_ID)
    model_version: Mapped[int] = mapped_column(Integer)
    model_type: Mapped[str] = mapped_column(String(128))
    model_path: Mapped[str] = mapped_column(Text)
    model_name: Mapped[str] = mapped_column(_NAME)
    flavor_id: Mapped[str] = mapped_column(String(64))
    image_id: Mapped[str] = mapped_column(Text)
    envs: Mapped[Any]
    replicas: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    endpoint_url: Mapped[str] = mapped_column(Text)
    # Why the status is what it is (a Failed reason, a GPU flavor served on the CPU), from the supervisor
    status_message: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The endpoint's port, kept so that a service brought back after a restart keeps its URL
    endpoint_port: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    create_time: Mapped[datetime]
    update_time: Mapped[datetime]


class AccountRow(Base):
    __tablename__ = "accounts"

    account_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(_NAME)
    is_admin: Mapped[bool] = mapped_column(Boolean)
    created: Mapped[datetime]


class AccessKeyRow(Base):
    __tablename__ = "access_keys"
    __table_args__ = (Index("ix_access_keys_account", "account_id"),)

    ak: Mapped[str] = mapped_column(String(128), primary_key=True)
    # Kept in clear: verifying an HMAC signature needs the secret itself.
    sk: Mapped[str] = mapped_column(String(256))
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.account_id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger)
    is_admin: Mapped[bool] = mapped_column(Boolean)
    created: Mapped[datetime]
