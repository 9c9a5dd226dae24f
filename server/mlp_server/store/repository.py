"""The storage interface the HTTP handlers call: one method per Action."""

from __future__ import annotations

from .accounts import AccountsMixin
from .models import ModelsMixin
from .perf import PerfMixin
from .reclaim_turns import ReclaimTurnsMixin
from .reclaims import ReclaimsMixin
from .resources import ResourcesMixin
from .services import ServicesMixin


class Store(
    ModelsMixin, PerfMixin, ServicesMixin, ResourcesMixin, AccountsMixin, ReclaimsMixin, ReclaimTurnsMixin
):
    """Persistent storage of the local platform, behind any SQLAlchemy URL.

    ``Store(sqlite_url(path))`` or a PostgreSQL URL; the schema is created on first use. Action
    methods take the tenant's ``account_id`` and the request body (wire keys, schema-validated,
    defaults not yet applied) and return the wire ``Result``; another account's objects are
    NotFound. Every write is one transaction. One Store is meant to be shared across threads;
    call :meth:`close` at shutdown.

    Choices where the wire protocol is silent (each documented on its method):
    GetModelNextVersion answers ``{"ModelVersion": n}``; a model without versions lists
    ``ModelVersionsCount: 0`` and no LatestVersion; the ``...Contains`` filters ignore the case of
    ASCII letters only, and text sorts by code point, on SQLite and PostgreSQL alike; list
    ties break on the id (versions: on the number); ListResource pages the flattened catalogue;
    service names are unique per account; job status is derived from the tasks, never stored.
    """
