"""Periodic jobs, loaded by `codeloop cron` (RQ's CronScheduler config-file form).

Every job here is idempotent, so an interval that fires twice, or a scheduler restarted mid-way,
does no harm: settlement is unique per (account, period end), enrichment skips done scans.
"""

from rq import cron

from server.jobs import QUEUE_NAME
from workers import alerts, geo, maintenance, rollups, settlement

cron.register(settlement.run_daily, queue_name=QUEUE_NAME, interval=3600, job_timeout=1800)
cron.register(
    geo.enrich_scans, queue_name=QUEUE_NAME, interval=10, job_timeout=600
)  # what the web's pokes missed
cron.register(maintenance.check_invariants, queue_name=QUEUE_NAME, interval=86400, job_timeout=1800)
cron.register(
    rollups.refresh_rollups, queue_name=QUEUE_NAME, interval=60, job_timeout=1800
)  # days touched by new scans, claims, shares, redemptions, reversals and alert decisions
cron.register(
    alerts.run_alert_rules, queue_name=QUEUE_NAME, interval=60, job_timeout=1800
)  # drains the forged-scan counters first
