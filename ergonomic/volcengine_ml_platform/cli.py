"""The ``mlp`` command."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from mlp_server.cli import add_commands

    parser = argparse.ArgumentParser(prog="mlp", description="Volcengine ml_platform model repository")
    sub = parser.add_subparsers(dest="command", required=True)
    add_commands(sub)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
