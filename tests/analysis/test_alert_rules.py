"""Each alert rule fires on what it is for, and a near miss does not; money it holds is not settled until
the alert is dismissed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from server.config import ALERT_THRESHOLDS
from server.forgeries import Forgeries, drain
from server.models import Alert, AlertCode, LedgerHold, Settlement, SettlementItem
from server.services import settlements
from server.services.alerts import decisions, run_rules, sightings
from server.views.alert_words import tell
from tests.analysis.world import BASE, TZ, World

DEFAULTS = {name: spec[0] for name, spec in ALERT_THRESHOLDS.items()}


def run(sessions, now=BASE + timedelta(hours=6), **thresholds) -> dict[str, list[Alert]]:
    run_rules(sessions, thresholds={**DEFAULTS, **thresholds}, tz=TZ, now=now)
    with sessions() as s:
        found: dict[str, list[Alert]] = {}
        for alert in s.scalars(select(Alert).order_by(Alert.id)):
            found.setdefault(alert.kind, []).append(alert)
            assert tell(alert)  # the console can tell every alert a rule raises from its evidence
        return found


def at(minutes: float):
    return BASE + timedelta(minutes=minutes)


def held(sessions) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(LedgerHold).where(LedgerHold.released_at.is_(None)))


# ---- geo-velocity ------------------------------------------------------------------------------------------


def test_geo_velocity_fires_for_one_code_far_apart_in_little_time(sessions):
    with sessions.begin() as s:
        w = World(s)
        w.scan(0, 1, 0, 0, at(0))  # 上海
        w.scan(0, 1, 1, 3, at(30))  # 北京, ~1070 km later
        v = w.claim(w.codes[(0, 1)], 0, at(31), clerk=0)
        w.redeem(v, 0, at(40), clerk=0)
    alerts = run(sessions)["geo_velocity"]
    assert len(alerts) == 1
    details = alerts[0].details
    assert details["distance_km"] > 1000 and details["minutes"] == 30 and len(details["scans"]) == 2
    assert held(sessions) == 3  # the clerk's claim reward, the store's payout and the clerk's redeem reward


def test_geo_velocity_near_misses(sessions):
    with sessions.begin() as s:
        w = World(s)
        w.scan(0, 1, 0, 0, at(0))  # two scans in one city
        w.scan(0, 1, 1, 0, at(5))
        w.scan(0, 2, 0, 0, at(0), accuracy=600)  # 上海 and 北京, but radii wider than the distance
        w.scan(0, 2, 1, 3, at(30), accuracy=600)
        w.scan(0, 3, 0, 0, at(0))  # 上海 and 北京, too long apart
        w.scan(0, 3, 1, 3, at(500))
    assert "geo_velocity" not in run(sessions)


# ---- diversion ---------------------------------------------------------------------------------------------


def test_diversion_fires_outside_the_intended_region_and_names_the_distributor(sessions):
    with sessions.begin() as s:
        w = World(s)
        w.scan(0, 1, 0, 1, at(0))  # range 0-499 of batch 0 is meant for 上海市; scanned in 江苏省
        w.scan(0, 2, 1, 1, at(5))
    [alert] = run(sessions)["diversion"]
    assert alert.distributor == "D0" and alert.details["province"] == "江苏省"
    assert alert.details["intended_regions"] == ["上海市"] and alert.details["scans_found"] == 2
    with sessions() as s:
        assert (
            s.scalar(select(func.count()).select_from(AlertCode).where(AlertCode.alert_id == alert.id)) == 2
        )


def test_diversion_near_misses(sessions):
    with sessions.begin() as s:
        w = World(s)
        w.scan(0, 1, 0, 0, at(0))  # 上海市, inside
        w.scan(0, 2, 0, 5, at(0))  # "上海": GeoLite's spelling, still inside
        w.scan(0, 600, 0, 1, at(0))  # range 500-999 is meant for 广东省 and "江苏": 江苏省 is inside
        w.scan(1, 3, 0, 1, at(0))  # batch 1's range has no intended regions
        w.scan(0, 4, 0, 4, at(0))  # unplaced
    assert "diversion" not in run(sessions)


# ---- sessions per code -------------------------------------------------------------------------------------


def test_many_sessions_on_one_code(sessions):
    with sessions.begin() as s:
        w = World(s)
        for consumer in range(4):
            w.scan(0, 1, consumer, 0, at(consumer))
        for consumer in range(3):  # exactly the threshold: a near miss
            w.scan(0, 2, consumer, 0, at(consumer))
    [alert] = run(sessions, sessions_per_code=3)["sessions_per_code"]
    assert alert.details["consumers"] == 4
    with sessions() as s:
        assert s.get(Alert, alert.id).code_id == w.codes[(0, 1)].id


# ---- enumeration -------------------------------------------------------------------------------------------


def test_enumeration_per_address_network_and_overall(sessions):
    counters = Forgeries(b"secret", None)
    for _ in range(25):
        counters.count("203.0.113.7", at(0))
    for i in range(20):  # 20 from one address: the threshold, a near miss for that address
        counters.count(f"198.51.100.{i % 2 + 1}", at(1))
    counters.count("203.0.113.7", at(360))  # the current minute: not drained, not read
    drain(counters, sessions, at(360))
    found = run(sessions, now=at(360), enum_ip_per_minute=20, enum_net_per_minute=24, enum_all_per_minute=24)
    scopes = sorted(a.details["scope"] for a in found["enumeration"])
    assert scopes == ["all", "ip", "net"]  # minute 0 only: 203.0.113.7, its /24, and everyone (25 each)
    peaks = {a.details["scope"]: a.details["peak_per_minute"] for a in found["enumeration"]}
    assert peaks == {"ip": 25, "net": 25, "all": 25}


def test_enumeration_near_miss(sessions):
    counters = Forgeries(b"secret", None)
    for _ in range(20):
        counters.count("203.0.113.7", at(0))
    drain(counters, sessions, at(360))
    assert "enumeration" not in run(sessions, now=at(360), enum_ip_per_minute=20)


# ---- clerk self-dealing and bursts -------------------------------------------------------------------------


def test_clerk_self_dealing_from_the_clerks_own_network(sessions):
    with sessions.begin() as s:
        w = World(s)
        sightings.record(s, user_id=w.clerks[0].id, network="net-till", device=None, now=at(0))
        w.scan(0, 1, 0, 0, at(1), clerk=0, net="net-till")  # the clerk scanning packs at the counter
        w.claim(w.codes[(0, 1)], 0, at(2), clerk=0)
        w.scan(0, 2, 1, 0, at(1), clerk=0, net="net-home")  # near miss: a real customer elsewhere
        w.claim(w.codes[(0, 2)], 1, at(2), clerk=0)
    [alert] = run(sessions)["clerk_self_dealing"]
    assert alert.clerk_id == w.clerks[0].id and alert.details["shared"] == ["net"]
    assert held(sessions) == 1  # the clerk's claim reward on that voucher


def test_clerk_self_dealing_from_the_clerks_own_device(sessions):
    with sessions.begin() as s:
        w = World(s)
        sightings.record(s, user_id=w.clerks[1].id, network=None, device="dev2", now=at(0))
        w.scan(0, 1, 2, 0, at(1), net="net-x")
        v = w.claim(w.codes[(0, 1)], 2, at(2))  # not attributed, but redeemed by that clerk
        w.redeem(v, 1, at(3), clerk=1)
    [alert] = run(sessions)["clerk_self_dealing"]
    assert alert.details["shared"] == ["device"] and alert.details["how"] == "redeemed at their till"


def test_clerk_burst(sessions):
    with sessions.begin() as s:
        w = World(s)
        for serial in range(4):  # 4 claims in 4 minutes for clerk 0
            w.scan(0, serial, 0, 0, at(serial))
            w.claim(w.codes[(0, serial)], 0, at(serial), clerk=0)
        for serial in range(10, 13):  # 3 for clerk 1: the threshold, a near miss
            w.scan(0, serial, 1, 0, at(serial))
            w.claim(w.codes[(0, serial)], 1, at(serial), clerk=1)
    [alert] = run(sessions, clerk_burst_count=3, clerk_burst_minutes=10)["clerk_burst"]
    assert alert.clerk_id == w.clerks[0].id and alert.details["count"] == 4
    assert held(sessions) == 4


# ---- store spikes ------------------------------------------------------------------------------------------


def test_store_spike_against_the_stores_own_baseline(sessions):
    with sessions.begin() as s:
        w = World(s)
        serial = 0
        for day in range(1, 29):  # store 1 redeems 2 a day for 28 days: its baseline
            for _ in range(2):
                serial += 1
                w.scan(1, serial, 0, 0, at(-day * 1440))
                w.redeem(w.claim(w.codes[(1, serial)], 0, at(-day * 1440)), 1, at(-day * 1440 + 1))
        for store in (0, 1):  # today both redeem 5: a spike for store 0, ordinary for store 1 (5 ≤ 3 × 2)
            for _ in range(5):
                serial += 1
                w.scan(1, serial, 0, 0, at(60))
                w.redeem(w.claim(w.codes[(1, serial)], 0, at(60)), store, at(61))
    [alert] = run(sessions, store_spike_min=5, store_spike_factor=3)["store_spike"]
    assert alert.store_id == w.stores[0].id and alert.details["redemptions"] == 5
    assert alert.details["baseline_per_day"] == 0
    assert held(sessions) == 5  # the store's five payouts of the day


# ---- referral loops ----------------------------------------------------------------------------------------


def test_referral_loop_on_a_shared_network_holds_the_bonus_even_when_redeemed_later(sessions):
    with sessions.begin() as s:
        w = World(s)
        w.scan(0, 1, 0, 0, at(0), net="net-home")
        referral = w.share(w.claim(w.codes[(0, 1)], 0, at(1)), at(2))
        w.scan(0, 2, 1, 0, at(3), net="net-home")  # the "friend" scans from the sharer's network
        looped = w.friend(referral, 1, at(4))
        w.scan(0, 3, 2, 0, at(3), net="net-far")  # near miss: a friend with nothing in common
        w.friend(referral, 2, at(5))
    [alert] = run(sessions)["referral_loop"]
    assert alert.details["shared"] == ["network"] and alert.consumer_id == w.consumers[0].id
    assert held(sessions) == 0  # nothing earned yet
    with sessions.begin() as s:
        w.s = s
        w.redeem(s.merge(looped), 0, at(10))
    run(sessions, now=at(400))
    assert held(sessions) == 1  # the sharer's bonus points, held when they were earned


# ---- holds and decisions -----------------------------------------------------------------------------------


def _settled(sessions, now) -> int:
    with sessions.begin() as s:
        settlements.run(s, period_end=now, now=now)
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(SettlementItem))


def test_a_held_entry_is_not_settled_until_the_alert_is_dismissed(sessions):
    with sessions.begin() as s:
        w = World(s)
        w.scan(0, 1, 0, 0, at(0))
        w.scan(0, 1, 1, 3, at(30))
        w.redeem(w.claim(w.codes[(0, 1)], 0, at(31), clerk=0), 0, at(40), clerk=1)
        w.scan(0, 2, 0, 0, at(0))
        w.redeem(w.claim(w.codes[(0, 2)], 0, at(31)), 0, at(40))  # an ordinary voucher, paid as usual
    [alert] = run(sessions)["geo_velocity"]
    now = at(2000)
    assert _settled(sessions, now) == 1  # only the ordinary store payout
    with sessions.begin() as s:
        decisions.dismiss(s, alert_id=alert.id, actor_id=None, now=now, tz=TZ)
    assert held(sessions) == 0
    assert _settled(sessions, now + timedelta(seconds=1)) == 4  # the claim reward, payout, redeem reward


def test_confirming_keeps_the_hold_and_voiding_reverses_it(sessions):
    with sessions.begin() as s:
        w = World(s)
        w.scan(0, 1, 0, 0, at(0))
        w.scan(0, 1, 1, 3, at(30))
        w.redeem(w.claim(w.codes[(0, 1)], 0, at(31), clerk=0), 0, at(40))
    [alert] = run(sessions)["geo_velocity"]
    with sessions.begin() as s:
        assert decisions.confirm(s, alert_id=alert.id, actor_id=None, now=at(100))["status"] == "confirmed"
    # the attributed clerk's claim and redemption rewards (redeemed without a clerk), the store's payout
    assert held(sessions) == 3 and _settled(sessions, at(200)) == 0
    with sessions.begin() as s:
        result = decisions.confirm(s, alert_id=alert.id, actor_id=None, now=at(300), void=True)
    assert len(result["voided_transactions"]) == 2 and held(sessions) == 0
    assert _settled(sessions, at(400)) == 6  # each voided credit settles against its reversal: nothing paid
    with sessions() as s:
        totals = s.scalars(select(func.sum(Settlement.total))).all()
    assert totals == [0]
