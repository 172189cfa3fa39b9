"""The rollups and alert rules are durable jobs: owed while new events wait past their deadline (the
sweeper's question), run after enrichment, and inline in the embedded default."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from server.config import ALERT_THRESHOLDS
from server.db import is_postgres
from server.models import Alert, RollupDay, utcnow
from server.services import alerts, rollups
from tests.analysis.world import BASE, TZ, World
from tests.consumer.conftest import build_world

LATER = BASE + timedelta(hours=1)


def test_both_kinds_are_owed_until_their_jobs_ran(sessions):
    with sessions() as s:
        assert rollups.overdue(s, LATER) == [] and alerts.overdue(s, LATER) == []
        w = World(s)
        w.scan(0, 1, 0, 1, BASE)  # 江苏省: a diversion for range 0-499 (meant for 上海市)
        w.scan(0, 2, 0, 0, BASE, pending=True)  # not placed yet: owes nothing
        s.commit()
        assert rollups.overdue(s, LATER) == [()] and alerts.overdue(s, LATER) == [()]
        assert rollups.overdue(s, BASE) == []  # nothing older than the deadline yet
    with sessions.begin() as s:
        rollups.refresh(s, tz=TZ, now=utcnow())
    alerts.run_rules(sessions, thresholds={k: v[0] for k, v in ALERT_THRESHOLDS.items()}, tz=TZ, now=LATER)
    with sessions() as s:
        assert rollups.overdue(s, LATER) == [] and alerts.overdue(s, LATER) == []
        assert s.scalar(select(func.count()).select_from(Alert)) == 1


def test_the_embedded_default_refreshes_after_enrichment(app, client):
    import workers.geo

    workers.geo._ANALYSIS_INLINE._next = 0.0  # this process may have poked already
    world = build_world(app)
    assert client.get(f"/S/{world.code(7)}", environ_base={"REMOTE_ADDR": "202.96.209.5"}).status_code == 200
    with world.session() as s:  # enriched inline, then the rollups and the rules ran in the same request
        if is_postgres(s):  # there the cursors leave rows of the last 5 s to the next run
            rollups.refresh(s, tz=app.extensions["codeloop"].config.tz, now=utcnow() + timedelta(seconds=10))
            s.commit()
        rows = s.scalars(select(RollupDay)).all()
        assert [(r.batch_id, r.scans, r.first_scans) for r in rows] == [(world.batch_id, 1, 1)]


def test_cursors_stop_before_rows_a_slower_transaction_may_still_precede(sessions):
    """On PostgreSQL concurrent transactions commit out of id order: a cursor never passes a row made in the
    last few seconds, so a row with a lower id that commits late is still read. SQLite has one writer."""
    from server.services.alerts.base import RuleContext, scans_past
    from server.services.cursors import read_cursor

    now = utcnow()
    with sessions() as s:
        w = World(s)
        old = w.scan(0, 1, 0, 0, now - timedelta(minutes=5))
        young = w.scan(0, 2, 0, 0, now - timedelta(seconds=1))
        later = w.scan(0, 3, 0, 0, now - timedelta(minutes=4))  # older time, higher id: still waits
        s.commit()
        read = scans_past(s, "alerts:test", RuleContext(thresholds={}, tz=TZ, now=now))
        if is_postgres(s):
            assert [x.id for x in read] == [old.id] and read_cursor(s, "alerts:test") == old.id
        else:
            assert [x.id for x in read] == [old.id, young.id, later.id]
