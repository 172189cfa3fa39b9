"""The brand manager's reports, one module per report, each reading the rollups (server/models/rollups.py),
never the raw scans: only figures that are no rollup come from their own tables (printed and activated packs
from batches and ranges, money held and paid from the ledger, alerts from alerts).

Every report takes the same `Filters` (campaign, batch, product, province, a range of local days) and returns
a JSON-ready dict; `table(name, body)` turns a report's body into the header and rows its CSV/XLSX exports
carry. `REPORTS` lists them by the name used in URLs (/api/v1/reports/<name>).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from server.db import is_postgres
from server.formats import is_id
from server.models import Batch, BatchRange, RollupHour, RollupHourSlice
from server.models.slices import ALL_BATCHES

REPORTS = (
    "summary",
    "funnel",
    "timeseries",
    "heatmap",
    "geo",
    "stores",
    "clerks",
    "referrals",
    "payouts",
    "diversion",
)
DEFAULT_DAYS = 30
MAX_DAYS = 731
FILTER_IDS = ("campaign", "batch", "product")


@dataclass(frozen=True)
class Filters:
    """What every report is filtered by; `start`..`end` are local days, both included."""

    start: date
    end: date
    campaign_id: int | None = None
    batch_id: int | None = None
    product_id: int | None = None
    province: str | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Filters:
        """The period of the same length just before this one."""
        return replace(self, start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1))

    def query(self) -> dict:
        """These filters as query-string values (for links and exports)."""
        out = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        for name in FILTER_IDS:
            if getattr(self, f"{name}_id") is not None:
                out[name] = str(getattr(self, f"{name}_id"))
        if self.province:
            out["province"] = self.province
        return out

    def json(self) -> dict:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "campaign_id": self.campaign_id,
            "batch_id": self.batch_id,
            "product_id": self.product_id,
            "province": self.province,
        }


@dataclass(frozen=True)
class Context:
    """The deployment's time zone (local days) and the moment the reports are read at."""

    tz: ZoneInfo
    now: datetime


def run(session: Session, name: str, f: Filters, ctx: Context, **options) -> dict:
    """Report `name` (one of REPORTS) for filters `f`."""
    if name not in REPORTS:
        raise KeyError(name)
    if is_postgres(session):  # JIT would spend longer compiling these aggregates than running them
        session.execute(text("SET LOCAL jit = off"))
    return importlib.import_module(f"server.services.reports.{name}").report(session, f, ctx, **options)


def parse_filters(args: Mapping[str, str], today: date) -> tuple[Filters, list[str]]:
    """Filters from query-string values: campaign, batch, product (ids), province, from and to (YYYY-MM-DD)
    or days (the last N days to today). Returns the filters and the names of values it did not understand,
    which are left out (default: the last 30 days)."""
    problems: list[str] = []
    ids = {}
    for name in FILTER_IDS:
        raw = (args.get(name) or "").strip()
        if raw.isdigit() and is_id(int(raw)):
            ids[f"{name}_id"] = int(raw)
        elif raw:
            problems.append(name)
    province = (args.get("province") or "").strip()[:80] or None
    end = _day(args.get("to"), "to", problems) or today
    start = _day(args.get("from"), "from", problems)
    days = (args.get("days") or "").strip()
    if start is None and days:
        if days.isdigit() and 1 <= int(days) <= MAX_DAYS:
            start = end - timedelta(days=int(days) - 1)
        else:
            problems.append("days")
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end or (end - start).days >= MAX_DAYS:
        problems.append("from")
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    return Filters(start=start, end=end, province=province, **ids), problems


def _day(raw: str | None, name: str, problems: list[str]) -> date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
    except ValueError:
        pass
    problems.append(name)
    return None


def where(model, f: Filters, *, dates: bool = True, part: str | None = None) -> list:
    """The filters as conditions on a rollup table (RollupSlice, RollupHour or RollupDay); on rollup_slices
    `part` picks the slice ('' the totals, 'city', 'store', 'clerk', 'distributor')."""
    conditions = [model.day >= f.start, model.day <= f.end] if dates else []
    for name in FILTER_IDS:
        value = getattr(f, f"{name}_id")
        if value is not None:
            conditions.append(getattr(model, f"{name}_id") == value)
    if f.province is not None:
        conditions.append(model.province == f.province)
    if part is not None:
        conditions.append(model.slice == (f"{part}:all" if part in ALL_BATCHES and all_batches(f) else part))
    return conditions


def all_batches(f: Filters) -> bool:
    """No campaign, batch or product chosen: the all-batches slices hold the same sums in fewer rows."""
    return f.campaign_id is None and f.batch_id is None and f.product_id is None


def hours_table(f: Filters):
    """The hourly facts to read for `f`: summed over batches when none is chosen."""
    return RollupHourSlice if all_batches(f) else RollupHour


def sums(model, measures) -> list:
    """SUM(measure) AS measure for each measure, 0 when there are no rows."""
    return [func.coalesce(func.sum(getattr(model, m)), 0).label(m) for m in measures]


def rows(session: Session, query: Select) -> list[dict]:
    """The query's rows as dicts with plain ints (PostgreSQL sums arrive as Decimal)."""
    return [{k: _plain(v) for k, v in r.items()} for r in session.execute(query).mappings()]


def _plain(value):
    return int(value) if hasattr(value, "as_integer_ratio") and not isinstance(value, float) else value


def batches_of(f: Filters) -> Select:
    """Ids of the batches the filters select (campaign, batch, product; province and dates do not apply)."""
    q = select(Batch.id)
    if f.campaign_id is not None:
        q = q.where(Batch.campaign_id == f.campaign_id)
    if f.batch_id is not None:
        q = q.where(Batch.id == f.batch_id)
    if f.product_id is not None:
        q = q.where(Batch.product_id == f.product_id)
    return q


def packs(session: Session, f: Filters) -> dict:
    """Printed and activated packs of the selected batches (not rollups: they come from batches and ranges).
    Activated counts each serial of an activated range once, less the blacklisted ones inside it."""
    chosen = batches_of(f).subquery()
    printed = session.execute(
        select(func.coalesce(func.sum(Batch.quantity), 0)).where(Batch.id.in_(select(chosen.c.id)))
    ).scalar()
    spans = session.execute(
        select(BatchRange.batch_id, BatchRange.kind, BatchRange.first_serial, BatchRange.last_serial).where(
            BatchRange.batch_id.in_(select(chosen.c.id))
        )
    ).all()
    return {"printed": int(printed), "activated": _activated(spans)}


def _activated(spans) -> int:
    """Serials in an activated range and outside every blacklisted one (ranges of a kind never overlap)."""
    total = 0
    for batch_id, kind, first, last in spans:
        if kind != "activate":
            continue
        total += last - first + 1
        for b, k, bf, bl in spans:
            if b == batch_id and k == "blacklist":
                total -= max(0, min(last, bl) - max(first, bf) + 1)
    return total


def ratio(numerator: int, denominator: int, digits: int = 4) -> float | None:
    return round(numerator / denominator, digits) if denominator else None
