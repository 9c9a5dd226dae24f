"""``python -m mlp_server.store.migrations "what changed"``: write the next numbered migration."""

import sys

from mlp_server.store.migrate import new_revision

print(new_revision(" ".join(sys.argv[1:]) or "schema change"))
