"""``activekd serve RUN`` as the CLI will run it, for the tests: ``python serve_main.py RUN PORT RETRAIN_EVERY``.

Logs go to stderr in the CLI's format; a refused start exits 2 with one ``activekd: error:`` line.
"""

import logging
import sys
from pathlib import Path

from activekd.serve import serve

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("activekd").setLevel(logging.INFO)
    run, port, every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    try:
        serve(Path(run), host="127.0.0.1", port=port, retrain_every=every, connect=True)
    except (ValueError, KeyError, OSError, ImportError) as e:
        print(f"activekd: error: {e}", file=sys.stderr)
        sys.exit(2)
