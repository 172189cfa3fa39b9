"""`codeloop campaign …`: campaigns and their reward rules from the command line, with the service the admin
pages and the API use (server/services/catalog.py)."""

from __future__ import annotations

from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup

from server.models import utcnow
from server.services.catalog import CAMPAIGN_INTS


def _runtime():
    return current_app.extensions["codeloop"]


class IsoTime(click.ParamType):
    """An ISO 8601 time with a time zone, e.g. 2026-06-01T00:00+08:00."""

    name = "ISO-TIME"

    def convert(self, value, param, ctx):
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            self.fail(
                f"{value!r} is not an ISO 8601 time with a time zone (2026-06-01T00:00+08:00)", param, ctx
            )
        return parsed


@click.group(cls=AppGroup)
def campaign() -> None:
    """Campaigns (reward rules in integer fen)."""


def _amount_options(command):
    for name in reversed(CAMPAIGN_INTS):
        command = click.option(f"--{name.replace('_', '-')}", name, type=int, help=f"{name} (whole number).")(
            command
        )
    return command


@campaign.command("create")
@click.argument("name")
@click.option("--starts", "starts_at", type=IsoTime(), required=True, help="Start, with a time zone.")
@click.option("--ends", "ends_at", type=IsoTime(), required=True, help="End, with a time zone.")
@click.option("--rotating-token", is_flag=True, help="The voucher QR is a token renewed every minute.")
@_amount_options
def campaign_create(name: str, starts_at, ends_at, rotating_token: bool, **amounts) -> None:
    """Create a campaign: --voucher-value-fen, --cap and --budget-fen are needed; the rest default."""
    from server.services.catalog import create_campaign

    given = {k: v for k, v in amounts.items() if v is not None}
    with _runtime().sessions.begin() as session:
        made = create_campaign(
            session,
            name=name,
            starts_at=starts_at,
            ends_at=ends_at,
            rotating_token=rotating_token,
            now=utcnow(),
            **given,
        )
        click.echo(
            f"created campaign {made.id} ({made.name}, voucher {made.voucher_value_fen} fen, "
            f"cap {made.cap}, budget {made.budget_fen} fen)"
        )


@campaign.command("list")
def campaign_list() -> None:
    """List campaigns: id, name, period, voucher value, issued/cap, spent/budget."""
    from server.services.catalog import list_campaigns

    with _runtime().sessions() as session:
        for c in list_campaigns(session):
            click.echo(
                f"{c.id}\t{c.name}\t{c.starts_at.isoformat()} → {c.ends_at.isoformat()}\t"
                f"{c.voucher_value_fen} fen\t{c.issued_count}/{c.cap} issued\t"
                f"{c.spent_fen}/{c.budget_fen} fen"
            )


COMMANDS = (campaign,)  # added to the `codeloop` group by server/cli.py
