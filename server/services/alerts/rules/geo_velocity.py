"""Geo-velocity: one code scanned in two places too far apart for the time between them.

Fires when, for two scans of one code within `geo_velocity_minutes`, the great-circle distance minus both
scans' accuracy radii exceeds `geo_velocity_km`: a copied code, or packs' codes photographed and passed on.
Two scans in one city, or places whose radii overlap, never fire. Holds the pack voucher's money.
"""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Scan
from server.services.alerts.base import (
    ALL_PAYEES,
    Finding,
    RuleContext,
    raise_alert,
    scan_json,
    scans_past,
    voucher_of_code,
)

NAME = "geo_velocity"


def distance_km(a: Scan, b: Scan) -> float:
    """Great-circle (haversine) distance between two placed scans, in km."""
    lat1, lng1, lat2, lng2 = map(math.radians, (a.lat, a.lng, b.lat, b.lng))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def slack_km(a: Scan, b: Scan) -> float:
    """How far apart the two scans certainly were: the distance minus both accuracy radii."""
    return distance_km(a, b) - (a.accuracy_km or 0) - (b.accuracy_km or 0)


def run(session: Session, ctx: RuleContext) -> list[int]:
    limit_km, window = (
        ctx.thresholds["geo_velocity_km"],
        timedelta(minutes=ctx.thresholds["geo_velocity_minutes"]),
    )
    raised = []
    for scan in scans_past(session, f"alerts:{NAME}", ctx):
        if scan.lat is None or scan.lng is None:
            continue
        others = session.execute(
            select(Scan).where(
                Scan.code_id == scan.code_id,
                Scan.id != scan.id,
                Scan.lat.is_not(None),
                Scan.outcome == "ok",
                Scan.scanned_at.between(scan.scanned_at - window, scan.scanned_at + window),
            )
        ).scalars()
        far = max(others, key=lambda o: slack_km(scan, o), default=None)
        if far is None or slack_km(scan, far) <= limit_km:
            continue
        first, second = sorted((scan, far), key=lambda s: (s.scanned_at, s.id))
        minutes = (second.scanned_at - first.scanned_at).total_seconds() / 60
        voucher = voucher_of_code(session, scan.code_id)
        finding = Finding(
            kind=NAME,
            dedupe_key=f"{NAME}:{scan.code_id}",
            summary=f"{first.city or first.province} → {second.city or second.province}: "
            f"{distance_km(first, second):.0f} km in {minutes:.0f} min",
            evidence={
                "scans": [scan_json(first, ctx.tz), scan_json(second, ctx.tz)],
                "distance_km": round(distance_km(first, second), 1),
                "beyond_radii_km": round(slack_km(first, second), 1),
                "minutes": round(minutes, 1),
                "threshold_km": limit_km,
                "threshold_minutes": ctx.thresholds["geo_velocity_minutes"],
            },
            code_ids=[scan.code_id],
            voucher_ids=[voucher] if voucher else [],
            hold_kinds=ALL_PAYEES,
            batch_id=scan.batch_id,
            code_id=scan.code_id,
        )
        raised.append(raise_alert(session, finding, ctx))
    return raised
