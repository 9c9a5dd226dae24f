"""``mlp serve`` and ``mlp account``: run and administer a local platform."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path

from volcengine_ml_platform.config import resolve_data_dir

from .settings import ServerSettings


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="run a local ml_platform server over HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
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
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
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

    db = sub.add_parser("db", help="the local platform's database schema: show it, upgrade it")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    for name, func, text in (
        ("current", cmd_db_current, "print the database's schema revision and whether it is up to date"),
        ("upgrade", cmd_db_upgrade, "apply pending schema migrations (back the database up first)"),
    ):
        cmd = db_sub.add_parser(name, help=text, description=text)
        cmd.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS)
        cmd.add_argument("--database-url", default=argparse.SUPPRESS)
        cmd.set_defaults(func=func)

    account = sub.add_parser("account", help="administer the local platform's accounts and keys")
    account_sub = account.add_subparsers(dest="account_command", required=True)
    add = account_sub.add_parser("add", help="create an account (or add a key to one) and print its keys")
    add.add_argument("--account-id", type=int, required=True)
    add.add_argument("--user-id", type=int, default=1)
    add.add_argument("--name", default="")
    add.add_argument(
        "--admin",
        action="store_true",
        help="an administrator account (AdminGetSecureToken); promotes an existing account and all its keys",
    )
    add.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS)
    add.add_argument("--database-url", default=argparse.SUPPRESS)
    add.set_defaults(func=cmd_account_add)
    lst = account_sub.add_parser("list", help="list accounts")
    lst.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS)
    lst.add_argument("--database-url", default=argparse.SUPPRESS)
    lst.set_defaults(func=cmd_account_list)


def _settings(args: argparse.Namespace) -> ServerSettings:
    # --data-dir may come before the subcommand (a str) or after it (a Path), or not at all
    data_dir = resolve_data_dir(getattr(args, "data_dir", None)).value
    database_url = getattr(args, "database_url", None)
    overrides = {"database_url": database_url} if database_url else {}
    return ServerSettings.from_env(data_dir, **overrides)


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


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .platform import build_app
    from .store.migrate import SchemaError

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = replace(_settings(args), migrate=args.migrate)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    tls = _tls_files(args, settings)
    try:
        app = build_app(settings)
    except SchemaError as exc:
        return _schema_refusal(exc)
    serving = app.state.platform.serving
    serving.ensure_started()  # brings back the services that were Running
    # One worker: uvicorn's multi-worker mode adds ~40 ms per request here (toolchain notes).
    common = {"host": args.host, "log_level": args.log_level, "access_log": False}
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
        print(f"mlp: serving {settings.data_dir} on {scheme}://{args.host}:{config.port}", file=sys.stderr)
    # uvicorn re-raises the SIGTERM it handled once it has shut down: exit through `finally`, not
    # through the default handler, so that the replicas are stopped.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        if len(configs) == 1:
            uvicorn.Server(configs[0]).run()
        else:
            from .servers import serve_all

            serve_all(configs)
    finally:
        serving.close()  # replicas stopped; Running records are brought back on the next start
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def cmd_db_current(args: argparse.Namespace) -> int:
    from sqlalchemy import make_url

    from .store.engine import create_store_engine
    from .store.migrate import HEAD_REVISION, current_revision

    settings = _settings(args)
    engine = create_store_engine(settings.db_url)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    url = make_url(settings.db_url).render_as_string(hide_password=True)
    if current is None:
        print(f"{url}: empty (the schema is created at first start, at revision {HEAD_REVISION})")
    elif current == HEAD_REVISION:
        print(f"{url}: revision {current} (up to date)")
    else:
        print(f"{url}: revision {current}; this release needs {HEAD_REVISION}: run `mlp db upgrade`")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from .store.engine import create_store_engine
    from .store.migrate import HEAD_REVISION, SchemaError, prepare

    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_store_engine(settings.db_url)
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


def cmd_account_add(args: argparse.Namespace) -> int:
    from .store import Store
    from .store.migrate import SchemaError

    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        store = Store(settings.db_url)
    except SchemaError as exc:
        return _schema_refusal(exc)
    try:
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
    if promoted:
        print(f"mlp: account {args.account_id} is now an administrator (all its keys)", file=sys.stderr)
    result = {"account_id": args.account_id, "user_id": args.user_id, "ak": ak, "sk": sk}
    print(json.dumps({**result, "admin": account.is_admin}, indent=2))
    return 0


def cmd_account_list(args: argparse.Namespace) -> int:
    from .store import Store
    from .store.migrate import SchemaError

    try:
        store = Store(_settings(args).db_url)
    except SchemaError as exc:
        return _schema_refusal(exc)
    try:
        for acc in store.list_accounts():
            print(f"{acc.account_id}\tuser {acc.user_id}\t{'admin' if acc.is_admin else '-'}\t{acc.name}")
    finally:
        store.close()
    return 0
