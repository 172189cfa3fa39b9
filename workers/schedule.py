"""Periodic jobs, loaded by `codeloop cron` (RQ's CronScheduler config-file form).

Every job here is idempotent, so an interval that fires twice, or a scheduler restarted mid-way,
does no harm: settlement is unique per (account, period end), the sweeper only enqueues owed work
that each job claims, retention only clears addresses past the window.
"""

from rq import cron

from workers import alerts, maintenance, rollups, settlement, sweeper

cron.register(sweeper.sweep, queue_name="default", interval=10, job_timeout=120)  # what pokes and Redis lost
cron.register(settlement.run_daily, queue_name="default", interval=3600, job_timeout=1800)
cron.register(maintenance.check_invariants, queue_name="reports", interval=86400, job_timeout=1800)
cron.register(maintenance.drop_old_addresses, queue_name="default", interval=3600, job_timeout=1800)
# days touched by new scans, claims, shares, redemptions, reversals and alert decisions
cron.register(rollups.refresh_rollups, queue_name="reports", interval=60, job_timeout=1800)
cron.register(alerts.run_alert_rules, queue_name="reports", interval=60, job_timeout=1800)  # forged counts first
