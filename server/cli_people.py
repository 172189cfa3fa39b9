"""`codeloop store …` and `codeloop clerk …`: stores and their clerks from the command line, with the same
service the admin pages and the API use (server/services/people.py)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from server.models import utcnow


def _runtime():
    return current_app.extensions["codeloop"]


@click.group(cls=AppGroup)
def store() -> None:
    """Stores."""


@store.command("create")
@click.argument("name")
@click.option("--province", default="", help="e.g. 广东省 or 广东.")
@click.option("--city", default="", help="e.g. 深圳 (its province is filled in).")
@click.option("--address", default="")
@click.option("--lat", type=float)
@click.option("--lng", type=float)
@click.option("--owner", default="", help="The store owner's username.")
def store_create(name: str, **values) -> None:
    """Create a store; province and city are matched to the canonical names."""
    from server.services.people import create_store

    with _runtime().sessions.begin() as session:
        made = create_store(session, values={"name": name, **values}, now=utcnow())
        click.echo(f"created store {made.id} ({made.name}, {made.province}{made.city})")


@store.command("list")
def store_list() -> None:
    """List stores: id, name, province, city, owner id, active."""
    from server.services.people import stores

    with _runtime().sessions() as session:
        for s in stores(session):
            state = "active" if s.active else "inactive"
            click.echo(f"{s.id}\t{s.name}\t{s.province}\t{s.city}\towner {s.owner_id or '-'}\t{state}")


@click.group(cls=AppGroup)
def clerk() -> None:
    """Clerks (导购): a login at one store and a promo code."""


@clerk.command("create")
@click.argument("username")
@click.option("--store", "store", required=True, help="The clerk's store: its id or exact name.")
@click.option("--name", "display_name", default="")
@click.password_option(prompt="Password")
def clerk_create(username: str, store: str, display_name: str, password: str) -> None:
    """Create a clerk with a promo code (导购码)."""
    from server.services.people import create_clerk

    values = {"username": username, "store": store, "display_name": display_name, "password": password}
    with _runtime().sessions.begin() as session:
        made = create_clerk(
            session, values=values, now=utcnow(), promo_for=lambda n: _runtime().ids.encode("promo", n)
        )
        click.echo(
            f"created clerk {made.username} (id {made.id}, store {made.store_id}, promo {made.promo_code})"
        )


@clerk.command("list")
@click.option("--store", "store_id", type=int, help="Only this store's clerks.")
def clerk_list(store_id: int | None) -> None:
    """List clerks: id, username, name, store id, promo code, active."""
    from server.services.people import clerks

    with _runtime().sessions() as session:
        for c in clerks(session, store_id=store_id):
            state = "active" if c.active else "inactive"
            click.echo(
                f"{c.id}\t{c.username}\t{c.display_name or '-'}\t{c.store_id}\t{c.promo_code}\t{state}"
            )


COMMANDS = (store, clerk)  # added to the `codeloop` group by server/cli.py
