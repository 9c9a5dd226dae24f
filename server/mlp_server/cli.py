"""``mlp serve`` and ``mlp account``: run and administer a local platform."""

from __future__ import annotations

import argparse
import json
import logging
import sys
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

    account = sub.add_parser("account", help="administer the local platform's accounts and keys")
    account_sub = account.add_subparsers(dest="account_command", required=True)
    add = account_sub.add_parser("add", help="create an account (or add a key to one) and print its keys")
    add.add_argument("--account-id", type=int, required=True)
    add.add_argument("--user-id", type=int, default=1)
    add.add_argument("--name", default="")
    add.add_argument("--admin", action="store_true", help="allow AdminGetSecureToken with these keys")
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


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .platform import build_app

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    tls = _tls_files(args, settings)
    app = build_app(settings)
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
    if len(configs) == 1:
        uvicorn.Server(configs[0]).run()
    else:
        from .serving import serve_all

        serve_all(configs)
    return 0


def cmd_account_add(args: argparse.Namespace) -> int:
    from .store import Store

    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.db_url)
    try:
        store.create_account(args.account_id, args.user_id, args.name, is_admin=args.admin, exist_ok=True)
        ak, sk = store.add_access_key(args.account_id, args.user_id, is_admin=args.admin)
    finally:
        store.close()
    print(
        json.dumps(
            {"account_id": args.account_id, "user_id": args.user_id, "ak": ak, "sk": sk, "admin": args.admin},
            indent=2,
        )
    )
    return 0


def cmd_account_list(args: argparse.Namespace) -> int:
    from .store import Store

    store = Store(_settings(args).db_url)
    try:
        for acc in store.list_accounts():
            print(f"{acc.account_id}\tuser {acc.user_id}\t{'admin' if acc.is_admin else '-'}\t{acc.name}")
    finally:
        store.close()
    return 0
