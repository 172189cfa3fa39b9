"""Housekeeping jobs."""

from __future__ import annotations

import logging

from server.runtime import current
from server.services.invariants import run_checks

log = logging.getLogger(__name__)


def check_invariants() -> list[dict]:
    """Run the DESIGN.md §6 checks (scheduled nightly); log and return any violation."""
    with current().sessions() as session:
        violations = run_checks(session)
    for v in violations:
        log.error("invariant %s violated: %s: %s", v.invariant, v.description, v.rows)
    return [
        {"invariant": v.invariant, "description": v.description, "rows": [list(map(str, r)) for r in v.rows]}
        for v in violations
    ]
