"""The ``mlp`` program's entry point: :func:`volcengine_ml_platform.cli.main` with the garbage collector
tuned for a short-lived process.

Start-up creates a few hundred thousand objects that live until exit (modules, classes, SQLAlchemy's
constructs), and the cyclic collector walks them again and again while they are made, then once more
at exit: about a sixth of an embedded ``mlp models list``. So the collector is paused while the command
starts, and what exists by then is frozen (``gc.freeze``: never walked again, as a forking server does
before it forks). A long command (``mlp serve``, a big upload) gets the collector back after
:data:`START_SECONDS`, for whatever it allocates from then on. ``main`` itself, which tests call in their
own process, leaves the collector alone.

Importing the command line itself (argparse, the client, perhaps the platform) takes a noticeable
moment, so it happens inside :func:`run`, where Ctrl-C during it ends ``mlp`` quietly with status 130
instead of a traceback of the import. Only the package's own small ``__init__`` runs before that.
"""

from __future__ import annotations

import gc
import sys
import threading
from typing import NoReturn

START_SECONDS = 1.0
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command ended by Ctrl-C


def _resume() -> None:
    gc.freeze()
    gc.enable()


def run() -> NoReturn:
    gc.disable()
    timer = threading.Timer(START_SECONDS, _resume)
    timer.daemon = True
    timer.start()
    try:
        try:
            from .cli import main
        except KeyboardInterrupt:
            sys.exit(EXIT_INTERRUPTED)  # nothing started yet: nothing to report
        code = main()
    finally:  # also when argparse exits (`mlp --version`, a usage error)
        timer.cancel()
        gc.freeze()  # nothing left to collect before the process ends: the exit skips walking it all
    sys.exit(code)
