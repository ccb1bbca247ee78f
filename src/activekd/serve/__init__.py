"""activekd as Label Studio's machine-learning backend: suggestions on every task, a queue the strategy orders,
and a student that retrains in the background as the team labels (``activekd serve``, see docs/serve.md)."""

from ._app import create_app
from ._inbox import Inbox
from ._protocol import Event, Guess, PayloadError, parse_webhook, predictions
from ._queue import Snapshot, queue_order, serve_version, snapshot
from ._server import serve

__all__ = [
           "Event",
           "Guess",
           "Inbox",
           "PayloadError",
           "Snapshot",
           "create_app",
           "parse_webhook",
           "predictions",
           "queue_order",
           "serve",
           "serve_version",
           "snapshot",
]
