"""`codeloop worker`, `codeloop cron` and `codeloop jobs`: the background half (server/jobs.py)."""

from __future__ import annotations

import json
import logging
import time

import click
import redis
from flask import current_app
from flask.cli import with_appcontext
from rq import Worker

from server.config import Config, ConfigError
from server.jobs import QUEUE_NAMES

log = logging.getLogger(__name__)
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)


class CodeloopWorker(Worker):
    """RQ's worker, retrying a lost Redis every 10 s at most (RQ's default backs off to 60 s)."""

    max_connection_wait_time = 10.0


def _keep_up(run, what: str) -> None:
    """Run `run()` again, after a pause, whenever Redis goes away under it; return when it ends normally."""
    pause = 1.0
    while True:
        try:
            if run():
                return
        except REDIS_DOWN as exc:
            log.error("%s: Redis is unreachable (%s); retrying in %.0f s", what, exc, pause)
        time.sleep(pause)
        pause = min(pause * 2, 10.0)


@click.command()
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option(
    "--queue",
    "queue_names",
    multiple=True,
    type=click.Choice(QUEUE_NAMES),
    help="Listen on this queue (repeatable); default: all, in the order " + ", ".join(QUEUE_NAMES) + ".",
)
def worker(burst: bool, queue_names: tuple[str, ...]) -> None:
    """Run an RQ worker (with its scheduler) on CODELOOP_REDIS_URL; carries on when Redis comes back."""
    from server import runtime

    rt = runtime.build(Config.from_env())
    if rt.config.inline_jobs:
        raise ConfigError(
            "CODELOOP_REDIS_URL is not set: jobs run inline in the web process, "
            "there is nothing for a worker to do"
        )

    def run() -> bool:
        rq_worker = CodeloopWorker(rt.queues.pick(queue_names), connection=rt.queues.connection)
        rq_worker.work(with_scheduler=True, burst=burst)
        # work() also returns after an error it logged (Redis gone mid-job): start again unless asked to stop
        return burst or rq_worker._stop_requested

    _keep_up(run, "worker")


@click.command()
def cron() -> None:
    """Run RQ's cron scheduler with codeloop's periodic jobs (workers/schedule.py) on CODELOOP_REDIS_URL."""
    from rq.cron import CronScheduler

    from server import runtime

    rt = runtime.build(Config.from_env())
    if rt.config.inline_jobs:
        raise ConfigError("CODELOOP_REDIS_URL is not set: periodic jobs need Redis and a `codeloop worker`")

    def run() -> bool:
        scheduler = CronScheduler(connection=rt.queues.connection)
        scheduler.load_config_from_file("workers.schedule")  # by dotted path: server never imports workers
        scheduler.start()  # returns on SIGINT/SIGTERM; raises when Redis goes away
        return True

    _keep_up(run, "cron")


@click.command()
@with_appcontext
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--limit", default=20, show_default=True, help="Failed rows shown per kind.")
def jobs(as_json: bool, limit: int) -> None:
    """Background work per kind — owed, overdue, failed with their error — and RQ's failed jobs; exit 1
    when anything is overdue or failed."""
    from server.models import utcnow
    from server.services.jobs_status import job_status

    rt = current_app.extensions["codeloop"]
    with rt.sessions() as session:
        status = job_status(session, rt.queues, utcnow(), limit)
    if as_json:
        click.echo(json.dumps(status, default=str, ensure_ascii=False, indent=2))
    else:
        _print(status)
    raise SystemExit(0 if status["ok"] else 1)


def _print(status: dict) -> None:
    click.echo(f"jobs ({status['mode']}): {'ok' if status['ok'] else 'ATTENTION'}")
    for kind in status["kinds"]:
        click.echo(
            f"  {kind['kind']:<11} queue {kind['queue']:<8} owed {kind['owed']:>7}"
            f"  overdue {kind['overdue']:>7}  failed {len(kind['failed']):>3}"
            + (f"  oldest {kind['oldest']}" if kind["oldest"] else "")
        )
        for row in kind["failed"]:
            click.echo(f"    failed #{row['id']} at {row['at']}: {row['error']}")
    for queue in status["queues"]:
        if "error" in queue:
            click.echo(f"  queue {queue['queue']}: {queue['error']}")
            continue
        click.echo(
            f"  queue {queue['queue']:<8} queued {queue['queued']:>6}  failed {queue['failed_count']:>4}"
        )
        for job in queue["failed"]:
            click.echo(f"    failed {job['job']}({', '.join(job['args'])}) at {job['at']}: {job['error']}")


COMMANDS = (worker, cron, jobs)  # added to the `codeloop` group by server/cli.py
