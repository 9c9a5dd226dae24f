"""``python -m mlp_server.workers --data-dir DIR [--database-url URL]``: one perf worker (what
``mlp worker`` runs, and what ``mlp serve`` and the embedded platform start as child processes)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
