"""gunicorn hooks for `codeloop serve`, loaded with `--config python:server.gunicorn_config`."""

from __future__ import annotations

import gc

# gunicorn answers a request line over its limit (default 4094 bytes) itself, with a plain English page;
# at 8190, its highest bounded value, a long path reaches the app and gets our own 404 page
limit_request_line = 8190


def post_worker_init(_worker) -> None:
    """Hide the freshly built app from the garbage collector."""
    # The app, its libraries and their caches live as long as the worker. Left in view, every full
    # collection walks them (~150,000 objects) and stalls all of the worker's requests at once: 71 ms,
    # once every ~3,000 scans, which is the scan page's p99. Frozen, a full collection walks a few thousand.
    gc.freeze()
