"""Enumeration: forged-code attempts (codes whose MAC fails) at a rate that means someone is guessing codes.

Reads the per-minute counts of forged_scans (drained from server/forgeries.py) for minutes closed since the
last run. Fires when one minute's attempts exceed `enum_ip_per_minute` from one address,
`enum_net_per_minute` from one /24 (or /48), or `enum_all_per_minute` overall; one alert per subject and
local day, its evidence the worst minutes. No money is involved (a forged code earns nothing).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import ForgedScans
from server.services.alerts.base import Finding, RuleContext, raise_alert
from server.services.cursors import read_cursor, set_cursor

NAME = "enumeration"
THRESHOLD = {"ip": "enum_ip_per_minute", "net": "enum_net_per_minute", "all": "enum_all_per_minute"}
WORDS = {"ip": "one address", "net": "one network (/24 or /48)", "all": "all addresses"}


def run(session: Session, ctx: RuleContext) -> list[int]:
    last = read_cursor(session, f"alerts:{NAME}")  # a Unix minute
    closed = int(ctx.now.timestamp()) // 60  # minutes before this one are complete
    rows = session.execute(
        select(ForgedScans).where(
            ForgedScans.minute > datetime.fromtimestamp(last * 60, UTC),
            ForgedScans.minute < datetime.fromtimestamp(closed * 60, UTC),
        )
    ).scalars()
    over: dict[tuple, list[tuple[datetime, int]]] = defaultdict(list)
    for row in rows:
        attempts = row.redis_count + row.memory_count
        if attempts > ctx.thresholds[THRESHOLD[row.scope]]:
            over[(row.scope, row.key, row.minute.astimezone(ctx.tz).date())].append((row.minute, attempts))
    set_cursor(session, f"alerts:{NAME}", max(last, closed - 1), ctx.now)
    raised = []
    for (scope, key, day), minutes in sorted(over.items()):
        minutes.sort(key=lambda m: -m[1])
        finding = Finding(
            kind=NAME,
            dedupe_key=f"{NAME}:{scope}:{key}:{day.isoformat()}",
            summary=f"{minutes[0][1]} forged codes in one minute from {WORDS[scope]}",
            severity="critical" if scope == "all" else "warning",
            evidence={
                "scope": scope,
                "network": key[:12],
                "threshold_per_minute": ctx.thresholds[THRESHOLD[scope]],
                "peak_per_minute": minutes[0][1],
                "minutes": [
                    {"minute": m.astimezone(ctx.tz).isoformat(timespec="minutes"), "attempts": n}
                    for m, n in minutes[:30]
                ],
            },
        )
        raised.append(raise_alert(session, finding, ctx))
    return raised
