"""The rollups and alert rules are durable jobs: owed while new events wait past their deadline (the
sweeper's question), run after enrichment, and inline in the embedded default."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from server.config import ALERT_THRESHOLDS
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
        rows = s.scalars(select(RollupDay)).all()
        assert [(r.batch_id, r.scans, r.first_scans) for r in rows] == [(world.batch_id, 1, 1)]
