"""The rollup facts of one local day, computed from the raw rows (server/models/rollups.py: their meaning).

Each source (scans, vouchers, share links, redemptions, their clerk rewards) is one GROUP BY query over the
day's UTC interval, grouped by the grain's dimensions (and for the hourly table by the local hour, a CASE
over the day's hour boundaries computed with zoneinfo, so the same SQL is right on SQLite and PostgreSQL
and on DST days). The
sources' aggregated rows are merged in Python by dimension key: a row's measures come from one source
each, so nothing distinct is ever summed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, case, cast, exists, func, literal, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from server.models import (
    AlertCode,
    Batch,
    BatchRange,
    Code,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Redemption,
    Referral,
    Scan,
    Store,
    User,
    Voucher,
)
from server.models.base import UTCDateTime
from server.models.ops import Alert
from server.models.rollups import DAY_DIMENSIONS, DAY_MEASURES, HOUR_DIMENSIONS, HOUR_MEASURES
from server.services.regions import outside_regions

Key = tuple
Rows = dict[Key, dict[str, int]]


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where local `day` starts and the next one starts."""
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start, end


def local_day(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def compute_day(session: Session, day: date, tz: ZoneInfo) -> tuple[Rows, Rows]:
    """({day dimensions: measures}, {(hour, hour dimensions): measures}) for local `day`."""
    start, end = day_bounds(day, tz)
    days: Rows = defaultdict(lambda: dict.fromkeys(DAY_MEASURES, 0))
    hours: Rows = defaultdict(lambda: dict.fromkeys(HOUR_MEASURES, 0))
    hour = _hour_case(start, end, tz)
    for grain, target in ((DAY_DIMENSIONS, days), (HOUR_DIMENSIONS, hours)):
        for query in _sources(start, end, grain, hour if target is hours else None):
            for row in session.execute(query).mappings():
                key = tuple(row[d] for d in ((("hour",) if target is hours else ()) + grain))
                for name, value in row.items():
                    if name.startswith("m_") and name[2:] in target[key]:
                        target[key][name[2:]] += int(value or 0)
    for key, diverted in _diverted(session, start, end).items():
        days[key]["diverted_scans"] += diverted
    return _nonzero(days), _nonzero(hours)


def _nonzero(rows: Rows) -> Rows:
    return {k: v for k, v in rows.items() if any(v.values())}


def _hour_case(start: datetime, end: datetime, tz: ZoneInfo):
    """A function of a timestamp column: the local hour (0–23) it falls in, as a CASE over boundaries."""
    bounds, t = [], start
    while t < end:
        t = t + timedelta(hours=1)
        bounds.append((min(t, end), (t - timedelta(hours=1)).astimezone(tz).hour))

    def hour_of(column) -> ColumnElement:
        return case(*((column < literal(b, UTCDateTime()), h) for b, h in bounds), else_=23)

    return hour_of


def _sources(start, end, grain, hour) -> Iterable:
    yield _scans(start, end, grain, hour)
    yield _vouchers(start, end, grain, hour)
    if hour is None:
        yield _shares(start, end, grain)
    yield _redemptions(start, end, grain, hour)
    yield _redemption_rewards(start, end, grain, hour)


def _range_of(batch_id, serial):
    """The activated range a (batch, serial) falls in."""
    return (
        select(BatchRange.distributor)
        .where(
            BatchRange.batch_id == batch_id,
            BatchRange.kind == "activate",
            BatchRange.first_serial <= serial,
            BatchRange.last_serial >= serial,
        )
        .order_by(BatchRange.id)
        .limit(1)
        .scalar_subquery()
    )


def _first_scan_place(code_id, column):
    first = aliased(Scan)
    return (
        select(func.coalesce(column(first), ""))
        .where(first.code_id == code_id)
        .order_by(first.scanned_at, first.id)
        .limit(1)
        .scalar_subquery()
    )


def _select(dims: dict, grain, hour_col, measures: dict):
    columns = [dims[d].label(d) for d in grain]
    if hour_col is not None:
        columns.insert(0, hour_col.label("hour"))
    return columns, [c for c in columns], [m.label(f"m_{n}") for n, m in measures.items()]


def _grouped(query_from, dims, grain, hour_col, measures, where):
    if hour_col is not None:  # the hourly table keeps fewer measures: compute only those
        measures = {name: m for name, m in measures.items() if name in HOUR_MEASURES}
    cols, group, ms = _select(dims, grain, hour_col, measures)
    return query_from(select(*cols, *ms)).where(*where).group_by(*[c.element for c in group])


def _earlier(alias, column, row) -> ColumnElement:
    return exists().where(
        getattr(alias, column) == getattr(row, column),
        alias.outcome == "ok",
        or_(alias.scanned_at < row.scanned_at, and_(alias.scanned_at == row.scanned_at, alias.id < row.id)),
    )


def _scans(start, end, grain, hour):
    s, b, u = Scan, Batch, aliased(User)
    ok = s.outcome == "ok"
    earlier_code, earlier_consumer = aliased(Scan), aliased(Scan)
    tied = exists().where(
        AlertCode.code_id == s.code_id, Alert.id == AlertCode.alert_id, Alert.status != "dismissed"
    )
    dims = _dims(
        b.campaign_id,
        s.batch_id,
        b.product_id,
        _range_of(s.batch_id, s.serial),
        s.province,
        s.city,
        u.store_id,
        s.clerk_id,
    )
    measures = {
        "scans": func.sum(case((ok, 1), else_=0)),
        "scans_blocked": func.sum(case((s.outcome.in_(("inactive", "blacklisted")), 1), else_=0)),
        "first_scans": func.sum(case((and_(ok, ~_earlier(earlier_code, "code_id", s)), 1), else_=0)),
        "consumers": func.count(func.distinct(case((ok, s.consumer_id)))),
        "new_consumers": func.count(
            func.distinct(case((and_(ok, ~_earlier(earlier_consumer, "consumer_id", s)), s.consumer_id)))
        ),
        "alert_scans": func.sum(case((and_(ok, tied), 1), else_=0)),
    }
    return _grouped(
        lambda q: q.select_from(s).join(b, b.id == s.batch_id).outerjoin(u, u.id == s.clerk_id),
        dims,
        grain,
        hour(s.scanned_at) if hour else None,
        measures,
        (s.scanned_at >= start, s.scanned_at < end, s.batch_id.is_not(None)),
    )


def _dims(campaign, batch, product, distributor, province, city, store, clerk) -> dict:
    return {
        "campaign_id": func.coalesce(campaign, 0),
        "batch_id": func.coalesce(batch, 0),
        "product_id": func.coalesce(product, 0),
        "distributor": func.coalesce(distributor, ""),
        "province": func.coalesce(province, ""),
        "city": func.coalesce(city, ""),
        "store_id": func.coalesce(store, 0),
        "clerk_id": func.coalesce(clerk, 0),
    }


def _money(key_prefix: str, row_id, kind: str, unit: str = "fen"):
    """Net credits to accounts of `kind` by the transaction keyed `<prefix><row id>` and its reversal."""
    original, txn = aliased(LedgerTransaction), aliased(LedgerTransaction)
    # one level deep, so that row_id correlates with the enclosing query's row
    return (
        select(func.coalesce(func.sum(LedgerEntry.amount), 0))
        .select_from(original)
        .join(txn, or_(txn.id == original.id, txn.reverses_id == original.id))
        .join(LedgerEntry, LedgerEntry.transaction_id == txn.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(
            original.key == literal(key_prefix) + cast(row_id, String),
            LedgerAccount.kind == kind,
            LedgerAccount.unit == unit,
        )
        .scalar_subquery()
    )


def _origin(v):
    """(referral, sharer's voucher, code) aliases: a pack voucher's own code, a friend voucher's sharer's."""
    r, sv, c = aliased(Referral), aliased(Voucher), aliased(Code)
    return r, sv, c, func.coalesce(v.code_id, sv.code_id)


def _vouchers(start, end, grain, hour):
    v, b, u = Voucher, Batch, aliased(User)
    r, sv, c, code_id = _origin(v)
    pack = v.kind == "pack"
    dims = _dims(
        v.campaign_id,
        c.batch_id,
        b.product_id,
        _range_of(c.batch_id, c.serial),
        _first_scan_place(c.id, lambda a: a.province),
        _first_scan_place(c.id, lambda a: a.city),
        u.store_id,
        v.clerk_id,
    )
    measures = {
        "claims": func.sum(case((pack, 1), else_=0)),
        "friend_vouchers": func.sum(case((pack, 0), else_=1)),
        "claim_seconds": func.sum(case((pack, func.coalesce(v.scan_to_claim_s, 0)), else_=0)),
        "claims_timed": func.sum(case((and_(pack, v.scan_to_claim_s.is_not(None)), 1), else_=0)),
        "rewards_fen": func.sum(_money("claim:", v.id, "clerk")),
    }
    return _grouped(
        lambda q: (
            q.select_from(v)
            .outerjoin(r, r.id == v.referral_id)
            .outerjoin(sv, sv.id == r.voucher_id)
            .outerjoin(c, c.id == code_id)
            .outerjoin(b, b.id == c.batch_id)
            .outerjoin(u, u.id == v.clerk_id)
        ),
        dims,
        grain,
        hour(v.issued_at) if hour else None,
        measures,
        (v.issued_at >= start, v.issued_at < end),
    )


def _shares(start, end, grain):
    r, sv, c, b, u = Referral, aliased(Voucher), aliased(Code), Batch, aliased(User)
    dims = _dims(
        sv.campaign_id,
        c.batch_id,
        b.product_id,
        _range_of(c.batch_id, c.serial),
        _first_scan_place(c.id, lambda a: a.province),
        _first_scan_place(c.id, lambda a: a.city),
        u.store_id,
        sv.clerk_id,
    )
    return _grouped(
        lambda q: (
            q.select_from(r)
            .join(sv, sv.id == r.voucher_id)
            .outerjoin(c, c.id == sv.code_id)
            .outerjoin(b, b.id == c.batch_id)
            .outerjoin(u, u.id == sv.clerk_id)
        ),
        dims,
        grain,
        None,
        {"shares": func.count()},
        (r.created_at >= start, r.created_at < end),
    )


def _redemptions(start, end, grain, hour):
    """Live redemptions under the store and the clerk (if any) that redeemed them at the till."""
    rd, v = Redemption, Voucher
    friend = v.kind == "friend"
    measures = {
        "redemptions": func.count(),
        "friend_redemptions": func.sum(case((friend, 1), else_=0)),
        "redeemed_value_fen": func.sum(v.value_fen),
        "redeem_seconds": func.sum(func.coalesce(rd.claim_to_redeem_s, 0)),
        "redemptions_timed": func.count(rd.claim_to_redeem_s),
        "payouts_fen": func.sum(_money("redemption:", rd.id, "store")),
        "points": func.sum(_money("redemption:", rd.id, "consumer", "points")),
    }
    return _redeemed(start, end, grain, hour, measures, attributed=False)


def _redemption_rewards(start, end, grain, hour):
    """The clerk reward of each live redemption, under the clerk it is paid to — the voucher's attributed
    clerk, and that clerk's store (as for claims) — not whoever operated the till."""
    measures = {"rewards_fen": func.sum(_money("redemption:", Redemption.id, "clerk"))}
    return _redeemed(start, end, grain, hour, measures, attributed=True)


def _redeemed(start, end, grain, hour, measures, *, attributed: bool):
    """Live redemptions in [start, end) at the redemption's place; under the redeeming store and clerk, or
    (`attributed`) only those of attributed vouchers, under the attributed clerk and that clerk's store."""
    rd, v, b, st, u = Redemption, Voucher, Batch, Store, aliased(User)
    r, sv, c, code_id = _origin(v)
    dims = _dims(
        v.campaign_id,
        c.batch_id,
        b.product_id,
        _range_of(c.batch_id, c.serial),
        func.coalesce(rd.province, st.province),
        func.coalesce(rd.city, st.city),
        u.store_id if attributed else rd.store_id,
        v.clerk_id if attributed else rd.clerk_id,
    )

    def query(q):
        q = (
            q.select_from(rd)
            .join(v, v.id == rd.voucher_id)
            .join(st, st.id == rd.store_id)
            .outerjoin(r, r.id == v.referral_id)
            .outerjoin(sv, sv.id == r.voucher_id)
            .outerjoin(c, c.id == code_id)
            .outerjoin(b, b.id == c.batch_id)
        )
        return q.join(u, u.id == v.clerk_id) if attributed else q

    return _grouped(
        query,
        dims,
        grain,
        hour(rd.redeemed_at) if hour else None,
        measures,
        (rd.redeemed_at >= start, rd.redeemed_at < end, rd.reversed_at.is_(None)),
    )


def _diverted(session: Session, start, end) -> dict[Key, int]:
    """'ok' scans placed outside their range's intended regions, by day dimensions (decided in Python, where
    the province names are compared as regions.outside_regions does for the diversion alert)."""
    s, b, u, br = Scan, Batch, aliased(User), BatchRange
    dims = _dims(
        b.campaign_id, s.batch_id, b.product_id, br.distributor, s.province, s.city, u.store_id, s.clerk_id
    )
    rows = (
        session.execute(
            select(
                *[dims[d].label(d) for d in DAY_DIMENSIONS], br.id.label("range_id"), func.count().label("n")
            )
            .select_from(s)
            .join(b, b.id == s.batch_id)
            .join(
                br,
                and_(
                    br.batch_id == s.batch_id,
                    br.kind == "activate",
                    br.first_serial <= s.serial,
                    br.last_serial >= s.serial,
                ),
            )
            .outerjoin(u, u.id == s.clerk_id)
            .where(s.scanned_at >= start, s.scanned_at < end, s.outcome == "ok", s.province.is_not(None))
            .group_by(*[dims[d] for d in DAY_DIMENSIONS], br.id)
        )
        .mappings()
        .all()
    )
    ids = {row["range_id"] for row in rows}
    regions = dict(session.execute(select(br.id, br.regions).where(br.id.in_(ids))).all()) if ids else {}
    out: dict[Key, int] = defaultdict(int)
    for row in rows:
        if outside_regions(row["province"], row["city"], regions.get(row["range_id"]) or []):
            out[tuple(row[d] for d in DAY_DIMENSIONS)] += row["n"]
    return out
