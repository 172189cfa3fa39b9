"""The hour × weekday heatmap of the period (rollup_hours): scans, claims and redemptions per local hour of
each ISO weekday (1 = Monday)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.services.reports import Context, Filters, hours_table, rows, sums, where

MEASURES = ("scans", "claims", "redemptions")


def report(session: Session, f: Filters, ctx: Context) -> dict:
    """{filters, measures, cells: [{weekday, hour, scans, claims, redemptions}] for all 7 × 24 cells, max}."""
    hours = hours_table(f)
    found = {
        (r["weekday"], r["hour"]): r
        for r in rows(
            session,
            select(hours.weekday, hours.hour, *sums(hours, MEASURES))
            .where(*where(hours, f))
            .group_by(hours.weekday, hours.hour),
        )
    }
    cells = [
        {"weekday": weekday, "hour": hour, **{m: found.get((weekday, hour), {}).get(m, 0) for m in MEASURES}}
        for weekday in range(1, 8)
        for hour in range(24)
    ]
    return {
        "filters": f.json(),
        "measures": list(MEASURES),
        "cells": cells,
        "max": {m: max(c[m] for c in cells) for m in MEASURES},
    }
