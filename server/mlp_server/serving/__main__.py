"""A replica process: ``python -m mlp_server.serving --model-dir DIR --name NAME ...``.

It loads the model, listens on 127.0.0.1 (a port of its own), writes ``--hello-file``
(``{"port": ..., "providers": [...]}``, atomically) and serves until SIGTERM (finishing requests in
flight). A model that cannot be loaded is a one-line reason on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
from pathlib import Path

from mlp_server.procs import watch_parent

LOAD_FAILED = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlp_server.serving")
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--name", required=True, help="the model name in /v2/models/{name}")
    parser.add_argument("--version", default="1")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    parser.add_argument("--gpu", action="store_true", help="use CUDA when onnxruntime has it")
    parser.add_argument("--hello-file", type=Path, required=True, help="where to say the port once listening")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    watch_parent()

    import uvicorn

    from .files import ModelLoadError
    from .replica import create_replica_app, load_model

    try:
        model = load_model(args.model_dir, args.name, args.version, max(1, args.threads), args.gpu)
    except ModelLoadError as exc:
        print(f"cannot load the model: {exc}", file=sys.stderr, flush=True)
        return LOAD_FAILED
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP (else Nagle
    # and delayed ACKs add ~40 ms to every answer written in two parts)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.set_inheritable(True)
    tmp = args.hello_file.with_name(f".{args.hello_file.name}.{os.getpid()}")
    tmp.write_text(
        json.dumps({"port": sock.getsockname()[1], "providers": model.providers}), encoding="utf-8"
    )
    os.replace(tmp, args.hello_file)
    config = uvicorn.Config(
        create_replica_app(model),
        log_level="warning",
        access_log=False,
        lifespan="on",  # its shutdown stops the helper process and unlinks the shared memory it kept
        timeout_graceful_shutdown=30,
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
