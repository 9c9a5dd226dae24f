"""``mlp serve`` and ``mlp account``: run and administer a local platform."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from volcengine_ml_platform.data_dir import resolve as resolve_data_dir

from .settings import ServerSettings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from .store import Store

# ``mlp gc --endpoint URL``: asks a running server, signed with the client's configured keys. The
# client passes it in, so that the server never imports the client's configuration. Called with the
# endpoint named on the command line (or None, for ``--profile`` alone); None back means the profile
# names no endpoint, so the data folder is swept.
RemoteGc = Callable[[argparse.Namespace, float, "str | None"], "int | None"]


def add_commands(
    sub: argparse._SubParsersAction[Any],
    output_option: Callable[[argparse.ArgumentParser], None] | None = None,
    remote_gc: RemoteGc | None = None,
) -> None:
    """``serve``, ``gc``, ``worker``, ``db`` and ``account`` under ``sub``; ``output_option`` adds ``-o``
    to the account commands; ``remote_gc`` runs ``mlp gc --endpoint``."""
    serve_help = "run a local ml_platform server over HTTP (one uvicorn worker)"
    serve = sub.add_parser("serve", help=serve_help, description=serve_help)
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on, for the API and the deployed services' endpoints (default 127.0.0.1; "
        "their EndpointURL names $MLP_SERVING_HOST, else this address, else the hostname for 0.0.0.0)",
    )
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="data folder (default $VOLC_ML_PLATFORM_DATA_DIR or ~/.volc/ml_platform)",
    )
    serve.add_argument(
        "--database-url", default=None, help="SQLAlchemy URL (default: SQLite in the data folder)"
    )
    serve.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"], help="default info"
    )
    serve.add_argument(
        "--perf-workers",
        type=int,
        default=None,
        help="perf worker processes to run beside the server (default $MLP_PERF_WORKERS or 1; 0 for none)",
    )
    serve.add_argument(
        "--migrate",
        action="store_true",
        help="apply pending database schema migrations at start (default: refuse to start and say so)",
    )
    tls = serve.add_argument_group("HTTPS (SDK inner clients call https://{ML_PLATFORM_HOST})")
    tls.add_argument("--tls-cert", type=Path, default=None, help="PEM certificate chain to serve HTTPS with")
    tls.add_argument("--tls-key", type=Path, default=None, help="PEM private key of --tls-cert")
    tls.add_argument(
        "--tls-self-signed",
        action="store_true",
        help="make (once) a local CA and a certificate in <data dir>/tls and serve HTTPS with them; "
        "prints the CA file for clients (REQUESTS_CA_BUNDLE / SSL_CERT_FILE)",
    )
    tls.add_argument(
        "--tls-port",
        type=int,
        default=None,
        help="serve HTTPS on this port and plain HTTP on --port (default: HTTPS only, on --port)",
    )
    serve.set_defaults(func=cmd_serve)

    gc = sub.add_parser(
        "gc",
        help="reclaim storage: upload prefixes no version references, and temporary files",
        description="Finish the deletes a crash interrupted (the objects of deleted versions whose Path "
        "no version uses, whatever the grace period), remove the upload prefixes that no model version "
        "references and that are older than the grace period, and the folder store's temporary files "
        "older than that; report the objects and bytes reclaimed.",
    )
    gc.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS, help="the platform's data folder")
    gc.add_argument(
        "--endpoint",
        dest="gc_endpoint",
        default=None,
        help="ask a running mlp serve at this URL (administrator keys from VOLC_ACCESSKEY/VOLC_SECRETKEY "
        "or ~/.volc/config) instead of opening the data folder; mlp's own --endpoint, or a --profile "
        "that names one, does the same",
    )
    gc.add_argument("--database-url", default=argparse.SUPPRESS, help="SQLAlchemy URL of its database")
    gc.add_argument(
        "--grace",
        default=None,
        help="keep what is younger than this: seconds or 30m, 24h, 2d (default $MLP_GC_GRACE or 24h)",
    )
    gc.add_argument("--dry-run", action="store_true", help="only report what would be removed")
    gc.set_defaults(func=cmd_gc, remote_gc=remote_gc)

    from .workers.cli import add_arguments, run_worker

    worker_help = "run one perf worker on a platform's data folder or database (add perf capacity)"
    worker = sub.add_parser("worker", help=worker_help, description=worker_help)
    add_arguments(worker)
    worker.set_defaults(func=run_worker)

    # No reclaim turn (store.reclaim_turns) for these: they remove no objects and no migration rewrites a
    # version's Path, so a registration or a sweep cannot be misled by one running beside it.
    db_help = "the local platform's database schema: show it, upgrade it"
    db = sub.add_parser("db", help=db_help, description=db_help)
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="SUBCOMMAND")
    for name, func, text in (
        ("current", cmd_db_current, "print the database's schema revision and whether it is up to date"),
        ("upgrade", cmd_db_upgrade, "apply pending schema migrations (back the database up first)"),
    ):
        cmd = db_sub.add_parser(name, help=text, description=text)
        cmd.add_argument(
            "--data-dir", type=Path, default=argparse.SUPPRESS, help="the platform's data folder"
        )
        cmd.add_argument("--database-url", default=argparse.SUPPRESS, help="SQLAlchemy URL of its database")
        cmd.set_defaults(func=func)

    account_help = "administer the local platform's accounts and keys"
    account = sub.add_parser("account", help=account_help, description=account_help)
    account_sub = account.add_subparsers(dest="account_command", required=True, metavar="SUBCOMMAND")
    add_help = (
        "create an account (or add a key to one); the key pair is written to a credentials file "
        "(mode 0600) in the data folder, and the secret key is printed masked"
    )
    add = account_sub.add_parser("add", help=add_help, description=add_help)
    add.add_argument("--account-id", type=int, required=True, help="the account's numeric ID")
    add.add_argument("--user-id", type=int, default=1, help="the user's numeric ID (default 1)")
    add.add_argument("--name", default="", help="the account's display name")
    add.add_argument(
        "--admin",
        action="store_true",
        help="an administrator account (AdminGetSecureToken); promotes an existing account and all its keys",
    )
    add.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS, help="the platform's data folder")
    add.add_argument("--database-url", default=argparse.SUPPRESS, help="SQLAlchemy URL of its database")
    add.set_defaults(func=cmd_account_add)
    list_help = "list accounts"
    lst = account_sub.add_parser("list", help=list_help, description=list_help)
    lst.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS, help="the platform's data folder")
    lst.add_argument("--database-url", default=argparse.SUPPRESS, help="SQLAlchemy URL of its database")
    lst.set_defaults(func=cmd_account_list)
    revoke_help = (
        "revoke an access key: requests signed with it are refused (by a running mlp serve within "
        "MLP_KEY_CACHE_SECONDS, 2 s by default)"
    )
    revoke = account_sub.add_parser("revoke-key", help=revoke_help, description=revoke_help)
    revoke.add_argument("access_key", metavar="ACCESS_KEY", help="the access key (AK) to revoke")
    revoke.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS, help="the platform's data folder")
    revoke.add_argument("--database-url", default=argparse.SUPPRESS, help="SQLAlchemy URL of its database")
    revoke.set_defaults(func=cmd_account_revoke_key)
    if output_option is not None:
        output_option(add)
        output_option(lst)
        output_option(revoke)


def _settings(args: argparse.Namespace) -> ServerSettings:
    """The settings of every server command (``MLP_*`` variables read and checked alike); a bad value
    ends the command with exit 2, naming the variable and what it takes."""
    # --data-dir may come before the subcommand (a str) or after it (a Path), or not at all
    data_dir, _ = resolve_data_dir(getattr(args, "data_dir", None))
    data_dir = data_dir.absolute()  # what it prints (CA file, credentials file) works from any folder
    database_url = getattr(args, "database_url", None)
    overrides = {"database_url": database_url} if database_url else {}
    try:
        return ServerSettings.from_env(data_dir, **overrides)
    except ValueError as exc:
        print(f"mlp: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _open_store(settings: ServerSettings) -> Store:
    """The store of an administration command, waiting for another process's SQLite lock as long as
    ``mlp serve`` does (``MLP_SQLITE_BUSY_TIMEOUT``)."""
    from .store import Store

    return Store(settings.db_url, busy_timeout=settings.sqlite_busy_timeout)


def _store_engine(settings: ServerSettings) -> Engine:
    from .store.engine import create_store_engine

    return create_store_engine(settings.db_url, busy_timeout=settings.sqlite_busy_timeout)


def _lock_waits(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``command``, with a database that stayed locked past its wait said plainly (exit 1) rather than
    as an unexpected error: another process holds it, and the write that waited was rolled back."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        from .storage_errors import LOCKED, UNREACHABLE, database_trouble, storage_error

        try:
            return command(args)
        except Exception as exc:
            known = storage_error(exc)
            if known is None or known.message not in (LOCKED, UNREACHABLE):
                raise
            from sqlalchemy import make_url

            settings = _settings(args)
            url = make_url(settings.db_url)
            if known.message == UNREACHABLE:
                print(
                    f"mlp: error: the database {url.render_as_string(hide_password=True)} cannot be "
                    f"reached: {database_trouble(exc)}",
                    file=sys.stderr,
                )
                return 1
            wait = ""
            if url.get_backend_name() == "sqlite":
                most = f"{settings.sqlite_busy_timeout:g}"
                wait = f" (a write waits for it at most MLP_SQLITE_BUSY_TIMEOUT={most} s)"
            shown = url.render_as_string(hide_password=True)
            print(
                f"mlp: error: the database {shown} is locked by another process{wait}; the write was not "
                "made, try again",
                file=sys.stderr,
            )
            return 1

    return run


def _tls_files(args: argparse.Namespace, settings: ServerSettings) -> tuple[Path, Path] | None:
    """(certificate, key) to serve HTTPS with, or None for plain HTTP; exits 2 on a bad combination."""
    given = args.tls_cert is not None or args.tls_key is not None
    if args.tls_self_signed and given:
        sys.exit("mlp serve: --tls-self-signed makes its own certificate; drop --tls-cert/--tls-key")
    if given and (args.tls_cert is None or args.tls_key is None):
        sys.exit("mlp serve: --tls-cert and --tls-key go together")
    if args.tls_self_signed:
        from .tls import self_signed

        files = self_signed(settings.data_dir, args.host)
        if files.note:
            print(f"mlp: {files.note}", file=sys.stderr)
        print(
            f"mlp: CA certificate for clients: {files.ca} (e.g. REQUESTS_CA_BUNDLE={files.ca})",
            file=sys.stderr,
        )
        return files.cert, files.key
    if given:
        for option, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
            if not path.is_file():
                sys.exit(f"mlp serve: {option}: no such file {path}")
        return args.tls_cert, args.tls_key
    if args.tls_port is not None:
        sys.exit("mlp serve: --tls-port needs --tls-cert/--tls-key or --tls-self-signed")
    return None


def _schema_refusal(exc: Exception) -> int:
    print(f"mlp: error: {exc}", file=sys.stderr)
    return 1


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .lifecycle import DEFAULT_INTERVAL_SECONDS, grace_from_env, parse_duration, start_background_sweep
    from .platform import build_app
    from .settings import DataFolderError
    from .storage_errors import disk_problem
    from .store.migrate import SchemaError
    from .store.services import LIVE
    from .workers.pool import PerfWorkerPool

    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,  # `mlp` configured logging for client commands before it got here
    )

    # The service endpoints listen where the API does (see `serving/endpoints.py`).
    settings = replace(_settings(args), migrate=args.migrate, serving_bind_host=args.host)
    if args.perf_workers is not None and args.perf_workers < 0:
        print("mlp serve: error: --perf-workers must be 0 or more", file=sys.stderr)
        return 2
    size = settings.perf_workers if args.perf_workers is None else args.perf_workers
    pool = PerfWorkerPool(settings, size)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        tls = _tls_files(args, settings)
        app = build_app(settings)
        # Reclaims what deletes and crashed clients left (deletes themselves reclaim in the request).
        interval = parse_duration(os.environ.get("MLP_GC_INTERVAL") or str(DEFAULT_INTERVAL_SECONDS))
        start_background_sweep(app.state.platform, interval=interval, grace_seconds=grace_from_env())
        pool.ensure_started()
        serving = app.state.platform.serving
        serving_started = serving.ensure_started()  # brings back the services that were live
    except SchemaError as exc:
        return _schema_refusal(exc)
    except DataFolderError as exc:
        print(f"mlp serve: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        pool.stop()
        if (problem := disk_problem(exc, settings.data_dir)) is None:
            raise
        print(
            f"mlp serve: error: cannot start: the disk of the data folder {settings.data_dir} is "
            f"{problem[0]} ({problem[1]}); free space or make it writable, then start again",
            file=sys.stderr,
        )
        return 1
    if serving_started:
        live = [row for row in app.state.platform.store.serving_rows() if row.status in LIVE]
        if live:
            print(f"mlp: serving {len(live)} deployed service(s)", file=sys.stderr)
    else:
        serving.keep_trying()
        print(
            "mlp: another platform process serves the deployed services; this server takes them over "
            "when that process ends (it looks every few seconds)",
            file=sys.stderr,
        )
    # One worker: uvicorn's multi-worker mode adds ~40 ms per request here (toolchain notes).
    from .head_limit import bounded_protocol

    # httptools, with each request's head bounded in size and time (head_limit: uvicorn's is not).
    http = bounded_protocol(settings.region, settings.body_read_timeout)
    common = {"host": args.host, "log_level": args.log_level, "access_log": False, "http": http}
    configs: list[uvicorn.Config] = []
    if tls is None or args.tls_port is not None:
        configs.append(uvicorn.Config(app, port=args.port, **common))
    if tls is not None:
        port = args.port if args.tls_port is None else args.tls_port
        # A client that gave up on the certificate may leave its connection open; shutdown waits for
        # connections, so bound the wait rather than hang on a stranger's socket.
        configs.append(
            uvicorn.Config(
                app, port=port, ssl_certfile=tls[0], ssl_keyfile=tls[1], timeout_graceful_shutdown=5, **common
            )
        )
    for config in configs:
        scheme = "https" if config.ssl_certfile else "http"
        # Port 0: the OS picks one when uvicorn binds (uvicorn's "running on" line names it).
        port_text = str(config.port) if config.port else "<a free port, named below>"
        print(f"mlp: serving {settings.data_dir} on {scheme}://{args.host}:{port_text}", file=sys.stderr)
    print(f"mlp: {size} perf worker(s)", file=sys.stderr)
    # uvicorn ends a graceful shutdown by raising the signal again with the handler it found: make
    # that handler an exit through ``finally`` so that the workers and the replicas are stopped, not
    # orphaned. (Where the signal ends the process outright, they stop by themselves once their owner
    # is gone.)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        if len(configs) == 1:
            uvicorn.Server(configs[0]).run()
        else:
            from .servers import serve_all

            serve_all(configs)
    finally:
        pool.stop()
        serving.close()  # replicas stopped; Running records are brought back on the next start
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    from .lifecycle import grace_from_env, parse_duration, sweep
    from .platform import open_platform

    try:
        grace = parse_duration(args.grace) if args.grace is not None else grace_from_env()
    except ValueError as exc:
        print(f"mlp gc: {exc}", file=sys.stderr)
        return 2
    # `mlp --endpoint URL gc` and `mlp --profile NAME gc` name a platform as every other command's
    # options do: sweeping the local data folder instead would act on another platform than the one asked.
    endpoint: str | None = args.gc_endpoint or getattr(args, "endpoint", None)
    profile: str | None = getattr(args, "profile", None)
    if endpoint or profile:
        # A signed request with the user's keys: the client's business (``add_commands``'s remote_gc).
        remote: RemoteGc | None = args.remote_gc
        if remote is None:
            print("mlp gc: --endpoint needs the client (volcengine_ml_platform)", file=sys.stderr)
            return 2
        status = remote(args, grace, endpoint)
        if status is not None:
            return status
    from .store.migrate import SchemaError

    try:
        platform = open_platform(_settings(args))
    except SchemaError as exc:  # an older release's database (or a newer one's): say what to run
        return _schema_refusal(exc)
    from .store.reclaim_turns import TurnFileError

    try:
        report = sweep(platform, grace_seconds=grace, dry_run=args.dry_run).as_dict()
    except TurnFileError as exc:  # a link in the data folder, say: the file and what to do, no traceback
        print(f"mlp: error: {exc}", file=sys.stderr)
        return 1
    finally:
        platform.store.close()
    print_gc(report)
    return 0


def print_gc(report: dict[str, object]) -> None:
    verb = "would remove" if report["DryRun"] else "removed"
    prefixes = report["Prefixes"]
    assert isinstance(prefixes, list)
    for prefix in prefixes:
        print(f"{verb} {prefix}")
    folders = report.get("ServingCacheFolders") or []  # absent from an older server's answer
    assert isinstance(folders, list)
    for folder in folders:
        print(f"{verb} {folder} (the serving cache's copy of a deleted version)")
    print(
        f"{verb} {report['Objects']} objects ({report['Bytes']} bytes) under {len(prefixes)} unreferenced "
        f"upload prefixes, and {report['TempFiles']} temporary files ({report['TempBytes']} bytes)"
    )


@_lock_waits
def cmd_db_current(args: argparse.Namespace) -> int:
    from sqlalchemy import make_url

    from .store.migrate import HEAD_REVISION, current_revision, known_revision

    settings = _settings(args)
    engine = _store_engine(settings)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    url = make_url(settings.db_url).render_as_string(hide_password=True)
    if current is None:
        print(f"{url}: empty (the schema is created at first start, at revision {HEAD_REVISION})")
    elif current == HEAD_REVISION:
        print(f"{url}: revision {current} (up to date)")
    elif not known_revision(current):
        print(
            f"{url}: revision {current}, which this release does not know (was it written by a newer "
            f"release?); this release needs {HEAD_REVISION} and cannot use it"
        )
    else:
        print(f"{url}: revision {current}; this release needs {HEAD_REVISION}: run `mlp db upgrade`")
    return 0


@_lock_waits
def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from .store.migrate import HEAD_REVISION, SchemaError, prepare

    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = _store_engine(settings)
    try:
        before = prepare(engine, upgrade=True)
    except SchemaError as exc:
        return _schema_refusal(exc)
    finally:
        engine.dispose()
    if before == HEAD_REVISION:
        print(f"already at revision {HEAD_REVISION}")
    elif before is None:
        print(f"created the schema at revision {HEAD_REVISION}")
    else:
        print(f"upgraded from revision {before} to {HEAD_REVISION}")
    return 0


@_lock_waits
def cmd_account_add(args: argparse.Namespace) -> int:
    from .store.migrate import SchemaError

    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        store = _open_store(settings)
    except SchemaError as exc:
        return _schema_refusal(exc)
    try:
        # A new folder: the administrator account first, as the first start would make it (the
        # platform makes it only when it finds no account, so after this add it never would).
        made_admin = store.is_empty()
        if made_admin:
            from .platform import bootstrap

            bootstrap(settings, store)
        # Admin is a property of the account: every key of an account can do what the account can,
        # so `mlp account list` always tells what its keys can do.
        account = store.create_account(
            args.account_id, args.user_id, args.name, is_admin=args.admin, exist_ok=True
        )
        promoted = args.admin and not account.is_admin
        if promoted:
            account = store.promote_account(args.account_id)
        ak, sk = store.add_access_key(args.account_id, args.user_id, is_admin=account.is_admin)
    finally:
        store.close()
    if made_admin:
        from .platform import CREDENTIALS_FILE, DEFAULT_ACCOUNT_ID

        keys = (
            " with the keys from VOLC_ACCESSKEY / VOLC_SECRETKEY"
            if settings.bootstrap_access_key and settings.bootstrap_secret_key
            else f"; its keys are in {settings.data_dir / CREDENTIALS_FILE}"
        )
        print(f"mlp: created the administrator account {DEFAULT_ACCOUNT_ID}{keys}", file=sys.stderr)
    if promoted:
        print(f"mlp: account {args.account_id} is now an administrator (all its keys)", file=sys.stderr)
    # The secret never goes to a terminal or a log: it is written once, for its owner only, in the
    # same {"ak", "sk"} form as the administrator's credentials.json.
    keys_file = settings.data_dir / f"credentials-{args.account_id}-{args.user_id}-{ak[-8:]}.json"
    fd = os.open(keys_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"ak": ak, "sk": sk}, f)
    _print(
        args,
        {
            "AccountID": args.account_id,
            "UserID": args.user_id,
            "Admin": account.is_admin,
            "AccessKey": ak,
            "SecretKey": "****" + sk[-4:],
            "CredentialsFile": str(keys_file),
        },
    )
    return 0


def _print(args: argparse.Namespace, data: Any) -> None:
    """JSON under ``-o json``, else ``Key  value`` lines (one record) or a table with a header line,
    its columns aligned, as the client's commands print them."""
    if getattr(args, "output", None) == "json":
        print(json.dumps(data, indent=2))
    elif isinstance(data, dict):
        width = max(len(k) for k in data)
        for key, value in data.items():
            print(f"{key.ljust(width)}  {value}")
    elif data:
        lines = [list(data[0])] + [[str(v) for v in row.values()] for row in data]
        widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
        for line in lines:
            print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


@_lock_waits
def cmd_account_revoke_key(args: argparse.Namespace) -> int:
    from .store.migrate import SchemaError

    try:
        store = _open_store(_settings(args))
    except SchemaError as exc:
        return _schema_refusal(exc)
    try:
        revoked = store.revoke_access_key(args.access_key)
    finally:
        store.close()
    if revoked is None:
        print(f"mlp: error: access key {args.access_key} is not known", file=sys.stderr)
        return 1
    _print(
        args,
        {
            "AccountID": revoked.account_id,
            "UserID": revoked.user_id,
            "AccessKey": revoked.ak,
            "Revoked": True,
        },
    )
    return 0


@_lock_waits
def cmd_account_list(args: argparse.Namespace) -> int:
    from .store.migrate import SchemaError

    try:
        store = _open_store(_settings(args))
    except SchemaError as exc:
        return _schema_refusal(exc)
    try:
        accounts = [
            {"AccountID": a.account_id, "UserID": a.user_id, "Admin": a.is_admin, "Name": a.name}
            for a in store.list_accounts()
        ]
    finally:
        store.close()
    _print(args, accounts)
    return 0
