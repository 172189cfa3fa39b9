"""Run the app under gunicorn from inside the CLI."""
from __future__ import annotations

from flask import Flask
from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, app: Flask, options: dict) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def _post_fork(_server, _worker) -> None:
    # connections opened in the master must not be shared by the forked workers
    from server.runtime import current

    current().engine.dispose(close=False)


def run_gunicorn(app: Flask, *, host: str, port: int, workers: int, threads: int) -> None:
    """Serve `app` (already built and checked) on host:port."""
    _Gunicorn(app, {
        "bind": f"{host}:{port}", "workers": workers, "threads": threads, "worker_class": "gthread",
        "post_fork": _post_fork, "accesslog": "-", "timeout": 60, "graceful_timeout": 5,
    }).run()
