"""gunicorn hooks for `codeloop serve`, loaded with `--config python:server.gunicorn_config`."""

from __future__ import annotations

import gc


def post_worker_init(_worker) -> None:
    """Hide the freshly built app from the garbage collector."""
    # The app, its libraries and their caches live as long as the worker. Left in view, every full
    # collection walks them (~150,000 objects) and stalls all of the worker's requests at once: 71 ms,
    # once every ~3,000 scans, which is the scan page's p99. Frozen, a full collection walks a few thousand.
    gc.freeze()
