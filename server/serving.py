"""Hand the process over to gunicorn, whose workers each build the app."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import NoReturn

from server.config import Config, ConfigError, served_url
from server.db import POOL_SIZE

WORKER_CLASSES = ("auto", "gevent", "gthread")
WORKER_CONNECTIONS = (
    2 * POOL_SIZE
)  # per gevent worker: a request holds a database connection only for its statements


def worker_class(choice: str, database_url: str) -> str:
    """The gunicorn worker class for `choice`: `auto` is gevent on PostgreSQL and gthread on SQLite."""
    sqlite = database_url.startswith("sqlite")
    if choice == "auto":
        return "gthread" if sqlite else "gevent"
    if choice == "gevent" and sqlite:
        # SQLite waits for its write lock inside C, which would stall every greenlet of the worker
        raise ConfigError("gevent workers need PostgreSQL; on SQLite use --worker-class gthread (or auto)")
    return choice


def serve_public_url(config: Config, host: str, port: int) -> Config:
    """`config` with its public URL at the address served on when CODELOOP_PUBLIC_URL is not set, and that
    URL exported for the gunicorn workers (each builds its own config from the environment)."""
    if config.public_url_set:
        return config
    url = served_url(host, port)
    os.environ["CODELOOP_PUBLIC_URL"] = url
    return dataclasses.replace(config, public_url=url, public_url_set=True)


SOCKET_PATH_MAX = 100  # a Unix socket's path fits in 108 bytes (sun_path), with room to spare


def control_socket_args(instance_dir: Path | None) -> list[str]:
    """gunicorn's control socket (gunicornc) in this deployment's instance folder, so that two deployments
    on one host never share gunicorn's per-user default (~/.gunicorn/gunicorn.ctl); none when that
    folder's path is too long for a Unix socket."""
    if instance_dir is None:
        return ["--no-control-socket"]
    path = Path(instance_dir).resolve() / "gunicorn.ctl"
    if len(os.fsencode(path)) > SOCKET_PATH_MAX:
        return ["--no-control-socket"]
    path.parent.mkdir(parents=True, exist_ok=True)
    return ["--control-socket", str(path)]


def gunicorn_argv(
    *,
    host: str,
    port: int,
    workers: int,
    worker_class: str,
    threads: int,
    connections: int,
    instance_dir: Path | None = None,
) -> list[str]:
    """The gunicorn command line that serves the app; its control socket lives in `instance_dir`."""
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:server.gunicorn_config",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--access-logfile",
        "-",
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
        *control_socket_args(instance_dir),
    ]
    if worker_class == "gevent":
        argv += ["--worker-connections", str(connections)]
    else:
        argv += ["--threads", str(threads)]
    return [*argv, "server.app:create_app()"]


def exec_gunicorn(
    database_url: str,
    *,
    host: str,
    port: int,
    workers: int = 2,
    kind: str = "auto",
    threads: int = 4,
    connections: int = WORKER_CONNECTIONS,
    instance_dir: Path | None = None,
) -> NoReturn:
    """Replace this process with gunicorn serving the app (the configuration travels in the environment).

    Nothing is preloaded: a gevent worker patches the standard library before it imports the app, and
    psycopg chooses how it waits for the server when it is first imported, so an app built here first
    would block each worker on every query."""
    argv = gunicorn_argv(
        host=host,
        port=port,
        workers=workers,
        worker_class=worker_class(kind, database_url),
        threads=threads,
        connections=connections,
        instance_dir=instance_dir,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)
