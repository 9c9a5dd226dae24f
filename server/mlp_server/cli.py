"""``mlp serve`` and ``mlp account``: run and administer a local platform."""

from __future__ import annotations

import argparse
import json
import logging
import signal
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


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .platform import build_app

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = _settings(args)
    app = build_app(settings)
    serving = app.state.platform.serving
    serving.ensure_started()  # brings back the services that were Running
    print(f"mlp: serving {settings.data_dir} on http://{args.host}:{args.port}", file=sys.stderr)
    # uvicorn re-raises the SIGTERM it handled once it has shut down: exit through `finally`, not
    # through the default handler, so that the replicas are stopped.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        # One worker: uvicorn's multi-worker mode adds ~40 ms per request here (toolchain notes).
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    finally:
        serving.close()  # replicas stopped; Running records are brought back on the next start
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


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
