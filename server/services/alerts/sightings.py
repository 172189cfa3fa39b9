"""Where staff sign in from: the network and the consumer device cookie of a staff login, kept as salted
hashes (staff_sightings) for the clerk self-dealing rule."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from server.db import insert_ignoring_conflicts
from server.models import StaffSighting

DEVICE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def record(session: Session, *, user_id: int, network: str | None, device: str | None, now: datetime) -> int:
    """Remember that `user_id` signed in from `network` (a network hash) with consumer `device`; returns how
    many sightings were new."""
    new = 0
    for kind, value in (
        ("net", network),
        ("device", device if device and DEVICE.fullmatch(device) else None),
    ):
        if not value:
            continue
        stmt = insert_ignoring_conflicts(session, StaffSighting, index_elements=["user_id", "kind", "value"])
        if session.execute(
            stmt.values(user_id=user_id, kind=kind, value=value, first_seen=now, last_seen=now)
        ).rowcount:
            new += 1
        else:
            session.execute(
                update(StaffSighting)
                .where(
                    StaffSighting.user_id == user_id, StaffSighting.kind == kind, StaffSighting.value == value
                )
                .values(last_seen=now)
            )
    return new
