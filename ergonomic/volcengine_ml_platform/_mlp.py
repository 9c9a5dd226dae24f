"""The ``mlp`` console script's entry point.

The script imports this module, then calls :func:`main`. Importing the command line itself (argparse,
the client, perhaps the platform) takes a noticeable moment, so it happens inside :func:`main`, where
Ctrl-C during it ends ``mlp`` quietly with status 130 instead of a traceback of the import. Only the
package's own small ``__init__`` runs before that, as the script loads this module.
"""

from __future__ import annotations

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command ended by Ctrl-C


def main() -> int:
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED  # nothing started yet: nothing to report
    return run()
