"""The periodic jobs `codeloop cron` schedules, and the daily settlement job they include."""

from rq.cron import CronScheduler
from sqlalchemy import func, select

from server.app import create_app
from server.models import Settlement
from tests.conftest import make_config


def test_schedule_registers_the_periodic_jobs(redis_url):
    import redis

    scheduler = CronScheduler(connection=redis.Redis.from_url(redis_url))
    scheduler.load_config_from_file("workers.schedule")
    jobs = {f"{j.func.__module__}.{j.func.__name__}": j.interval for j in scheduler.get_jobs()}
    assert jobs == {
        "workers.sweeper.sweep": 10,
        "workers.settlement.run_daily": 3600,
        "workers.maintenance.check_invariants": 86400,
        "workers.maintenance.drop_old_addresses": 3600,
        "workers.alerts.drain_forgeries": 60,
    }
    enqueued = scheduler.enqueue_jobs()  # first tick: every job is due
    assert len(enqueued) == 5


def test_daily_settlement_closes_yesterday_once(database_url, tmp_path, sessions):
    from datetime import timedelta

    from server.models import utcnow
    from server.services import ledger
    from server.services.ledger import Account, Posting
    from workers.settlement import run_daily

    create_app(make_config(database_url, tmp_path))  # the job's runtime
    two_days_ago = utcnow() - timedelta(days=2)
    with sessions.begin() as s:
        ledger.post(
            s,
            key="redemption:1",
            event="redemption",
            now=two_days_ago,
            postings=[Posting(Account("campaign", 1), -550), Posting(Account("store", 3), 550)],
        )
    first = run_daily()
    assert len(first) == 1 and run_daily() == []  # idempotent: a second tick settles nothing new
    with sessions() as s:
        statement = s.get(Settlement, first[0])
        assert statement.total == 550 and s.scalar(select(func.count()).select_from(Settlement)) == 1


def test_cron_needs_redis(cli_env):
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run(
        [str(Path(sys.executable).with_name("codeloop")), "cron"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "periodic jobs need Redis" in result.stderr
