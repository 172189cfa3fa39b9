"""Periodic jobs, loaded by `codeloop cron` (RQ's CronScheduler config-file form).

Every job here is idempotent, so an interval that fires twice, or a scheduler restarted mid-way,
does no harm: settlement is unique per (account, period end), the sweeper only enqueues owed work
that each job claims, retention only clears addresses past the window.
"""

from rq import cron

from workers import alerts, maintenance, settlement, sweeper

cron.register(sweeper.sweep, queue_name="default", interval=10, job_timeout=120)  # what pokes and Redis lost
cron.register(settlement.run_daily, queue_name="default", interval=3600, job_timeout=1800)
cron.register(maintenance.check_invariants, queue_name="reports", interval=86400, job_timeout=1800)
cron.register(maintenance.drop_old_addresses, queue_name="default", interval=3600, job_timeout=1800)
# forged-scan counters live in Redis until drained: no row says they are owed, so they are drained on a clock
cron.register(alerts.drain_forgeries, queue_name="reports", interval=60, job_timeout=600)
