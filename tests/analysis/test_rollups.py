"""Rollups equal a recomputation from the raw rows, whatever happened and in whatever order (hypothesis).

The reference below recomputes every fact in plain Python from the ORM rows, independently of
server/services/rollups/facts.py's SQL; the refresh job runs between batches of events (so days are
recomputed incrementally, including days touched again by late reversals, alerts and enrichment).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from server.models import (
    Alert,
    AlertCode,
    Batch,
    BatchRange,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Redemption,
    Referral,
    RollupDay,
    RollupHour,
    Scan,
    Store,
    User,
    Voucher,
    utcnow,
)
from server.models.rollups import DAY_DIMENSIONS, DAY_MEASURES, HOUR_DIMENSIONS, HOUR_MEASURES
from server.services import rollups
from server.services.regions import outside_regions
from tests.analysis.world import BASE, TZ, World

# ---- the reference: facts recomputed in Python ------------------------------------------------------------


def reference(s):  # noqa: C901 — every measure of every source, spelled out
    scans = list(s.scalars(select(Scan).where(Scan.batch_id.is_not(None))))
    batches = {b.id: b for b in s.scalars(select(Batch))}
    ranges = list(s.scalars(select(BatchRange).where(BatchRange.kind == "activate").order_by(BatchRange.id)))
    store_of = {u.id: u.store_id for u in s.scalars(select(User))}
    stores = {st.id: st for st in s.scalars(select(Store))}
    tied = set(
        s.scalars(
            select(AlertCode.code_id)
            .join(Alert, Alert.id == AlertCode.alert_id)
            .where(Alert.status != "dismissed")
        )
    )
    order = lambda x: (x.scanned_at, x.id)  # noqa: E731
    ok = sorted((x for x in scans if x.outcome == "ok"), key=order)
    first_of_code, first_of_consumer, first_any = {}, {}, {}
    for x in ok:
        first_of_code.setdefault(x.code_id, x.id)
        first_of_consumer.setdefault(x.consumer_id, x.id)
    for x in sorted(scans, key=order):
        first_any.setdefault(x.code_id, x)

    def rng(batch_id, serial):
        return next(
            (r for r in ranges if r.batch_id == batch_id and r.first_serial <= serial <= r.last_serial), None
        )

    def dist(batch_id, serial):
        r = rng(batch_id, serial) if batch_id else None
        return (r.distributor or "") if r else ""

    days = defaultdict(lambda: dict.fromkeys(DAY_MEASURES, 0))
    hours = defaultdict(lambda: dict.fromkeys(HOUR_MEASURES, 0))
    consumers, hour_consumers = defaultdict(set), defaultdict(set)
    local = lambda t: t.astimezone(TZ)  # noqa: E731

    def add(dims, at, **measures):
        key = (local(at).date(), *[dims[d] for d in DAY_DIMENSIONS])
        hkey = (local(at).date(), local(at).hour, *[dims[d] for d in HOUR_DIMENSIONS])
        for name, value in measures.items():
            days[key][name] += value
            if name in HOUR_MEASURES:
                hours[hkey][name] += value
        return key, hkey

    def dims_of(batch_id, serial, province, city, clerk, campaign=None):
        b = batches.get(batch_id)
        return {
            "campaign_id": campaign if campaign is not None else (b.campaign_id if b else 0),
            "batch_id": batch_id or 0,
            "product_id": b.product_id if b else 0,
            "distributor": dist(batch_id, serial),
            "province": province or "",
            "city": city or "",
            "store_id": store_of.get(clerk, 0) or 0 if clerk else 0,
            "clerk_id": clerk or 0,
        }

    for x in scans:
        good = x.outcome == "ok"
        r = rng(x.batch_id, x.serial)
        key, hkey = add(
            dims_of(x.batch_id, x.serial, x.province, x.city, x.clerk_id),
            x.scanned_at,
            scans=int(good),
            scans_blocked=int(x.outcome in ("inactive", "blacklisted")),
            first_scans=int(good and first_of_code[x.code_id] == x.id),
            new_consumers=int(good and first_of_consumer[x.consumer_id] == x.id),
            diverted_scans=int(
                good and r is not None and outside_regions(x.province, x.city, r.regions or [])
            ),
            alert_scans=int(good and x.code_id in tied),
        )
        if good:
            consumers[key].add(x.consumer_id)
            hour_consumers[hkey].add(x.consumer_id)

    money = _money(s)
    vouchers = {v.id: v for v in s.scalars(select(Voucher))}
    referrals = {r.id: r for r in s.scalars(select(Referral))}
    codes = {x.code_id: (x.batch_id, x.serial) for x in scans}

    def origin(v):
        return v.code_id if v.kind == "pack" else vouchers[referrals[v.referral_id].voucher_id].code_id

    for v in vouchers.values():
        code = origin(v)
        batch_id, serial = codes.get(code, (None, None))
        first = first_any.get(code)
        pack = v.kind == "pack"
        add(
            dims_of(
                batch_id,
                serial,
                first.province if first else "",
                first.city if first else "",
                v.clerk_id,
                v.campaign_id,
            ),
            v.issued_at,
            claims=int(pack),
            friend_vouchers=int(not pack),
            claim_seconds=(v.scan_to_claim_s or 0) if pack else 0,
            claims_timed=int(pack and v.scan_to_claim_s is not None),
            rewards_fen=money(f"claim:{v.id}", "clerk"),
        )
    for r in referrals.values():
        sv = vouchers[r.voucher_id]
        batch_id, serial = codes.get(sv.code_id, (None, None))
        first = first_any.get(sv.code_id)
        add(
            dims_of(
                batch_id,
                serial,
                first.province if first else "",
                first.city if first else "",
                sv.clerk_id,
                sv.campaign_id,
            ),
            r.created_at,
            shares=1,
        )
    for rd in s.scalars(select(Redemption).where(Redemption.reversed_at.is_(None))):
        v = vouchers[rd.voucher_id]
        batch_id, serial = codes.get(origin(v), (None, None))
        store = stores[rd.store_id]
        dims = dims_of(
            batch_id, serial, rd.province or store.province, rd.city or store.city, None, v.campaign_id
        )
        dims.update(store_id=rd.store_id, clerk_id=rd.clerk_id or 0)
        key = f"redemption:{rd.id}"
        add(
            dims,
            rd.redeemed_at,
            redemptions=1,
            friend_redemptions=int(v.kind == "friend"),
            redeemed_value_fen=v.value_fen,
            redeem_seconds=rd.claim_to_redeem_s or 0,
            redemptions_timed=int(rd.claim_to_redeem_s is not None),
            payouts_fen=money(key, "store"),
            points=money(key, "consumer", "points"),
        )
        if v.clerk_id:  # the reward, under the attributed clerk who earns it and that clerk's store
            dims.update(store_id=store_of.get(v.clerk_id, 0) or 0, clerk_id=v.clerk_id)
            add(dims, rd.redeemed_at, rewards_fen=money(key, "clerk"))
    for key, ids in consumers.items():
        days[key]["consumers"] = len(ids)
    for key, ids in hour_consumers.items():
        hours[key]["consumers"] = len(ids)
    return (
        {k: v for k, v in days.items() if any(v.values())},
        {k: v for k, v in hours.items() if any(v.values())},
    )


def _money(s):
    rows = s.execute(
        select(
            LedgerTransaction.id,
            LedgerTransaction.key,
            LedgerTransaction.reverses_id,
            LedgerAccount.kind,
            LedgerAccount.unit,
            LedgerEntry.amount,
        )
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
    ).all()
    key_of = {tid: key for tid, key, *_ in rows}
    totals = defaultdict(int)
    for _tid, key, reverses, kind, unit, amount in rows:
        totals[(key_of.get(reverses, key) if reverses else key, kind, unit)] += amount
    return lambda key, kind, unit="fen": totals[(key, kind, unit)]


def stored(s):
    days = {
        (r.day, *[getattr(r, d) for d in DAY_DIMENSIONS]): {m: getattr(r, m) for m in DAY_MEASURES}
        for r in s.scalars(select(RollupDay))
    }
    hours = {
        (r.day, r.hour, *[getattr(r, d) for d in HOUR_DIMENSIONS]): {m: getattr(r, m) for m in HOUR_MEASURES}
        for r in s.scalars(select(RollupHour))
    }
    return days, hours


# ---- randomised runs --------------------------------------------------------------------------------------

event = st.one_of(
    st.tuples(
        st.just("scan"),
        st.integers(0, 1),
        st.sampled_from([3, 7, 600, 601]),
        st.integers(0, 3),
        st.integers(0, 4),
        st.integers(-600, 4000),
        st.one_of(st.none(), st.integers(0, 1)),
        st.sampled_from(["ok", "ok", "ok", "inactive", "blacklisted"]),
        st.booleans(),
    ),
    st.tuples(
        st.just("claim"),
        st.integers(0, 50),
        st.integers(0, 3),
        st.integers(0, 4000),
        st.one_of(st.none(), st.integers(0, 1)),
    ),
    st.tuples(st.just("share"), st.integers(0, 50), st.integers(0, 4000)),
    st.tuples(st.just("friend"), st.integers(0, 50), st.integers(0, 3), st.integers(0, 4000)),
    st.tuples(
        st.just("redeem"),
        st.integers(0, 50),
        st.integers(0, 1),
        st.integers(0, 4000),
        st.one_of(st.none(), st.integers(0, 1)),
    ),
    st.tuples(st.just("reverse"), st.integers(0, 50), st.integers(0, 4000)),
    st.tuples(st.just("alert"), st.integers(0, 50), st.sampled_from(["open", "dismissed", "confirmed"])),
    st.tuples(
        st.just("enrich"),
    ),
    st.tuples(
        st.just("refresh"),
    ),
)


def _apply(s, w: World, ev, state) -> None:  # noqa: C901 — one branch per kind of event
    kind, *a = ev
    at = lambda minutes: BASE + timedelta(minutes=minutes)  # noqa: E731
    pick = lambda items, i: items[i % len(items)] if items else None  # noqa: E731
    if kind == "scan":
        batch, serial, consumer, place, minutes, clerk, outcome, pending = a
        w.scan(batch, serial, consumer, place, at(minutes), clerk=clerk, outcome=outcome, pending=pending)
    elif kind == "claim":
        free = [c for c in w.codes.values() if c.id not in state["claimed"]]
        code = pick(free, a[0])
        if code is not None:
            state["claimed"].add(code.id)
            state["vouchers"].append(
                w.claim(code, a[1], at(a[2]), clerk=a[3], seconds=a[2] * 7 % 500 or None)
            )
    elif kind == "share":
        packs = [v for v in state["vouchers"] if v.kind == "pack" and v.id not in state["shared"]]
        voucher = pick(packs, a[0])
        if voucher is not None:
            state["shared"].add(voucher.id)
            state["referrals"].append(w.share(voucher, at(a[1])))
    elif kind == "friend":
        referral = pick(state["referrals"], a[0])
        if referral is not None and (referral.id, a[1]) not in state["friends"]:
            state["friends"].add((referral.id, a[1]))
            state["vouchers"].append(w.friend(referral, a[1], at(a[2])))
    elif kind == "redeem":
        issued = [v for v in state["vouchers"] if v.status == "issued"]
        voucher = pick(issued, a[0])
        if voucher is not None:
            state["redemptions"].append(w.redeem(voucher, a[1], at(a[2]), clerk=a[3], seconds=a[2] or None))
    elif kind == "reverse":
        live = [r for r in state["redemptions"] if r.reversed_at is None]
        redemption = pick(live, a[0])
        if redemption is not None:
            w.reverse(redemption, max(redemption.redeemed_at, at(a[1])))
    elif kind == "alert":
        code = pick(list(w.codes.values()), a[0])
        if code is not None:
            w.alert_on(code, BASE, a[1])
            rollups.mark_times(
                s, s.scalars(select(Scan.scanned_at).where(Scan.code_id == code.id)), TZ, utcnow()
            )
    elif kind == "enrich":
        for scan in s.scalars(select(Scan).where(Scan.geo_status == "pending")):
            scan.geo_status, scan.province, scan.city = "done", "江苏省", "南京"
        s.flush()
    elif kind == "refresh":
        s.commit()
        _refresh(s)


def _refresh(s) -> None:
    while rollups.refresh(s, tz=TZ, now=utcnow()):
        s.commit()
    s.commit()


@pytest.mark.parametrize("seed", [0])
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=(Phase.explicit, Phase.reuse, Phase.generate),  # rows pile up across examples: shrinking is slow
)
@given(events=st.lists(event, min_size=5, max_size=40))
def test_rollups_equal_a_recomputation_from_raw_rows(sessions, seed, events):
    with sessions() as s:
        w = World(s)
        state = {
            "claimed": set(),
            "vouchers": [],
            "shared": set(),
            "referrals": [],
            "friends": set(),
            "redemptions": [],
        }
        for ev in events:
            _apply(s, w, ev, state)
        _apply(s, w, ("enrich",), state)  # every scan is eventually enriched
        s.commit()
        _refresh(s)
        want_days, want_hours = reference(s)
        got_days, got_hours = stored(s)
        assert got_days == want_days
        assert got_hours == want_hours


def test_rebuild_equals_refresh_and_is_idempotent(sessions):
    with sessions() as s:
        w = World(s)
        w.scan(0, 1, 0, 1, BASE + timedelta(hours=23, minutes=50))
        v = w.claim(w.codes[(0, 1)], 0, BASE + timedelta(hours=24, minutes=5), clerk=0)
        w.redeem(v, 0, BASE + timedelta(hours=30), clerk=1)
        s.commit()
        _refresh(s)
        first = stored(s)
        assert first == reference(s)
        assert {k[0] for k in first[0]} == {BASE.date(), (BASE + timedelta(days=1)).date()}  # local days
        by_clerk = defaultdict(lambda: defaultdict(int))
        for key, measures in first[0].items():
            for m in ("redemptions", "rewards_fen"):
                by_clerk[key[1 + DAY_DIMENSIONS.index("clerk_id")]][m] += measures[m]
        # clerk 1 redeemed at the till; clerk 0, whose promo code was scanned, earned both rewards
        assert by_clerk[w.clerks[1].id] == {"redemptions": 1, "rewards_fen": 0}
        assert by_clerk[w.clerks[0].id] == {"redemptions": 0, "rewards_fen": 100 + 50}
    for _ in range(2):
        rollups.rebuild(
            sessions, start=BASE.date() - timedelta(days=1), end=BASE.date() + timedelta(days=2), tz=TZ
        )
        with sessions() as s:
            assert stored(s) == first


def test_a_late_scan_dated_before_the_first_moves_the_first_scan_and_the_new_consumer(sessions):
    """A scan that arrives after a refresh but is dated before its code's (and its consumer's) first scan
    takes over as the first: the old first scan's day no longer counts a first scan or a new consumer."""
    with sessions() as s:
        w = World(s)
        w.scan(0, 7, 0, 1, BASE + timedelta(days=2))
        s.commit()
        _refresh(s)
        w.scan(0, 7, 0, 1, BASE)  # two days earlier, e.g. a device's queued scan synced late
        s.commit()
        _refresh(s)
        assert stored(s) == reference(s)
        first_scans = {k[0]: m["first_scans"] for k, m in stored(s)[0].items()}
        assert first_scans == {BASE.date(): 1, (BASE + timedelta(days=2)).date(): 0}
