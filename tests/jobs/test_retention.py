"""Raw IP addresses are dropped after CODELOOP_IP_RETENTION_DAYS; the hashes and the place stay, so what
reads them — places, first cities, the referral network check — does not change."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from server.app import create_app
from server.config import Config
from server.models import AuditLog, Code, Scan, Voucher, utcnow
from server.services.consumers import network_hash
from tests.conftest import SECRET, make_config
from tests.consumer.conftest import build_world
from tests.jobs.helpers import add_pending_scans
from workers.geo import enrich_scans
from workers.maintenance import drop_old_addresses


def _ages(world, days_by_serial: dict[int, int]) -> None:
    with world.session() as s:
        for serial, days in days_by_serial.items():
            s.execute(
                update(Scan).where(Scan.serial == serial).values(scanned_at=utcnow() - timedelta(days=days))
            )
        s.commit()


def _kept(world):
    with world.session() as s:
        return s.execute(
            select(
                Scan.serial, Scan.ip_hash, Scan.net_hash, Scan.province, Scan.city, Scan.lat, Scan.local_hour
            ).order_by(Scan.serial)
        ).all()


def test_addresses_older_than_the_window_are_dropped_and_nothing_else(database_url, tmp_path):
    app = create_app(make_config(database_url, tmp_path, ip_retention_days=30))
    world = build_world(app)
    add_pending_scans(world, 4)
    with world.session() as s:
        s.execute(update(Scan).values(ip_hash="h"))
        s.commit()
    enrich_scans()
    _ages(world, {0: 45, 1: 31, 2: 29, 3: 1})
    before = _kept(world)
    with world.session() as s:
        first_cities = s.execute(select(Code.first_city).order_by(Code.id)).scalars().all()
    assert drop_old_addresses() == 2
    with world.session() as s:
        ips = dict(s.execute(select(Scan.serial, Scan.ip)).all())
        assert ips == {0: None, 1: None, 2: "114.114.114.114", 3: "114.114.114.114"}
        assert s.execute(select(Code.first_city).order_by(Code.id)).scalars().all() == first_cities
        runs = s.execute(
            select(AuditLog.details).where(AuditLog.action == "retention.ip_addresses")
        ).scalars()
        assert [r["dropped"] for r in runs] == [2]
    assert _kept(world) == before  # hashes, place and time unchanged
    assert all(row.net_hash == network_hash(SECRET, "114.114.114.1") for row in before)
    assert drop_old_addresses() == 0  # idempotent
    app.extensions["codeloop"].engine.dispose()


def test_the_next_run_starts_where_the_last_one_stopped(database_url, tmp_path):
    app = create_app(make_config(database_url, tmp_path, ip_retention_days=30))
    world = build_world(app)
    add_pending_scans(world, 2)
    enrich_scans()
    _ages(world, {0: 400, 1: 31})
    with world.session() as s:  # a run a year ago cut off at 335 days: the scan of 400 days was before it
        cut_off = (utcnow() - timedelta(days=335)).isoformat()
        s.add(AuditLog(action="retention.ip_addresses", object_type="scans",
                       details={"before": cut_off, "dropped": 0}))  # fmt: skip
        s.commit()
    assert drop_old_addresses() == 1  # only what aged out since (a day's overlap)
    with world.session() as s:
        assert dict(s.execute(select(Scan.serial, Scan.ip)).all())[1] is None
    app.extensions["codeloop"].engine.dispose()


def test_the_referral_network_evidence_holds_after_the_address_is_gone(app, client):
    from tests.consumer.test_referral_api import REFERRAL, api_consumer, share_token

    world = build_world(app, **REFERRAL)
    sharer = api_consumer(client, "202.96.209.5")
    token, _ = share_token(app, world, client, sharer, ip="202.96.209.5")
    enrich_scans()
    with world.session() as s:
        s.execute(update(Scan).values(ip=None))  # as retention leaves it
        s.commit()
    friend = api_consumer(client, "202.96.209.77")  # the sharer's public /24
    claimed = client.post(
        f"/api/v1/referrals/{token}/claim", headers=friend, environ_base={"REMOTE_ADDR": "202.96.209.77"}
    )
    assert claimed.status_code == 201  # a shared network is evidence, not a refusal
    with world.session() as s:
        assert s.execute(select(Voucher.same_network).where(Voucher.kind == "friend")).scalar_one() is True


def test_the_window_is_a_setting(tmp_path):
    assert Config.from_env({"CODELOOP_INSTANCE_DIR": str(tmp_path)}).ip_retention_days == 30
    days = Config.from_env({"CODELOOP_INSTANCE_DIR": str(tmp_path), "CODELOOP_IP_RETENTION_DAYS": "7"})
    assert days.ip_retention_days == 7
