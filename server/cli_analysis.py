"""`codeloop rollups …` and `codeloop alerts run`: the channel-analysis jobs by hand."""

from __future__ import annotations

from datetime import date

import click
from flask import current_app
from flask.cli import AppGroup

from server.models import utcnow


def _runtime():
    return current_app.extensions["codeloop"]


@click.group(cls=AppGroup)
def rollups() -> None:
    """Report rollups."""


def _day(_ctx, _param, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("must be a date like 2026-01-31") from None


@rollups.command("rebuild")
@click.option("--from", "start", required=True, callback=_day, help="First local day (YYYY-MM-DD).")
@click.option("--to", "end", required=True, callback=_day, help="Last local day, inclusive.")
def rollups_rebuild(start: date, end: date) -> None:
    """Recompute the rollups of every local day from --from to --to from the raw rows."""
    from server.services import rollups as service

    if end < start:
        raise click.BadParameter("--to is before --from")
    rt = _runtime()
    rows = service.rebuild(rt.sessions, start=start, end=end, tz=rt.config.tz)
    click.echo(f"rebuilt {(end - start).days + 1} days ({start} to {end}, {rt.config.timezone}): {rows} rows")


@rollups.command("refresh")
def rollups_refresh() -> None:
    """Recompute the days touched by events since the last refresh (what the periodic job does)."""
    from server.services import rollups as service

    rt, total = _runtime(), 0
    while True:
        with rt.sessions() as session, session.begin():
            days = service.refresh(session, tz=rt.config.tz, now=utcnow())
        total += len(days)
        if not days:
            break
    click.echo(f"recomputed {total} days")


@click.group(cls=AppGroup)
def alerts() -> None:
    """Fraud and diversion alerts."""


@alerts.command("run")
def alerts_run() -> None:
    """Drain the forged-scan counters and run every alert rule over new events."""
    from server.forgeries import drain
    from server.services.alerts import run_rules

    rt = _runtime()
    drain(rt.forgeries, rt.sessions, utcnow())
    results = run_rules(
        rt.sessions, thresholds=rt.config.alerts, tz=rt.config.tz, now=utcnow(), secret=rt.secret
    )
    for name, ids in results.items():
        click.echo(f"{name}: {len(ids)} alerts raised or updated")


COMMANDS = (rollups, alerts)  # added to the `codeloop` group by server/cli.py
