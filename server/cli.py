"""The `codeloop` command (a Flask CLI group)."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import FlaskGroup

from server import cli_analysis, cli_batch, cli_catalog, cli_jobs, cli_people
from server.config import Config, ConfigError
from server.errors import DomainError
from server.serving import WORKER_CLASSES, WORKER_CONNECTIONS


def _create_app():
    from server.app import create_app

    return create_app()


cli = FlaskGroup(
    name="codeloop",
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    help="codeloop: one-item-one-code platform.",
)
# catalogue, people, batches, analysis and background work: commands of their own modules, added here
for _module in (cli_analysis, cli_batch, cli_catalog, cli_jobs, cli_people):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    """Console-script entry point: configuration problems end in one line, not a traceback."""
    try:
        cli.main(prog_name="codeloop")
    except ConfigError as exc:
        click.echo(f"codeloop: configuration error: {exc}", err=True)
        sys.exit(2)
    except DomainError as exc:
        click.echo(f"codeloop: {exc.code}: {exc.message('en')}", err=True)
        sys.exit(1)


def _runtime():
    return current_app.extensions["codeloop"]


def _now():
    from server.models import utcnow

    return utcnow()


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade", with_appcontext=False)
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest revision."""
    from server.db import make_engine, ping
    from server.migrate import current, upgrade

    config = Config.from_env()
    engine = make_engine(config.database_url)
    ping(engine)
    upgrade(engine)
    click.echo(f"database {engine.url.render_as_string(hide_password=True)} is at revision {current(engine)}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option(
    "--worker-class",
    "worker_class",
    type=click.Choice(WORKER_CLASSES),
    default="auto",
    show_default=True,
    help="auto: gevent on PostgreSQL, gthread on SQLite.",
)
@click.option("--threads", default=4, show_default=True, type=int, help="Threads per gthread worker.")
@click.option(
    "--worker-connections",
    "connections",
    default=WORKER_CONNECTIONS,
    show_default=True,
    type=int,
    help="Connections at once per gevent worker.",
)
def serve(host: str, port: int, workers: int, worker_class: str, threads: int, connections: int) -> None:
    """Serve the app with gunicorn, once it has been built and checked here."""
    from server import serving

    rt = _runtime()
    if not rt.config.public_url_set and rt.config.env == "production":
        click.echo(
            "codeloop: warning: CODELOOP_PUBLIC_URL is not set: printed codes and share links will point at "
            + serving.served_url(host, port),
            err=True,
        )
    serving.serve_public_url(rt.config, host, port)
    rt.engine.dispose()
    serving.exec_gunicorn(
        rt.config.database_url,
        host=host,
        port=port,
        workers=workers,
        kind=worker_class,
        threads=threads,
        connections=connections,
        instance_dir=rt.config.instance_dir,
    )


@cli.group()
def user() -> None:
    """Staff accounts."""


@user.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "owner", "clerk"]), required=True)
@click.option("--store", "store_id", type=int, help="Store id (clerks).")
@click.option("--name", "display_name", default="")
@click.password_option(prompt="Password")
def user_create(username: str, role: str, store_id: int | None, display_name: str, password: str) -> None:
    """Create an admin, store owner or clerk."""
    from server.services.accounts import create_user
    from server.services.attribution import promo_code_for

    with _runtime().sessions.begin() as session:
        created = create_user(
            session,
            username=username,
            password=password,
            role=role,
            store_id=store_id,
            display_name=display_name,
            now=_now(),
        )
        if role == "clerk":  # a clerk's promo code (导购码), as the admin pages give one
            session.flush()
            created.promo_code = promo_code_for(_runtime().ids, created.id)
        click.echo(f"created {created.role} {created.username} (id {created.id})")


@cli.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("username")
@click.option("--store", "store_id", type=int, help="Bind the token to one store (POS).")
@click.option("--name", default="")
def token_create(username: str, store_id: int | None, name: str) -> None:
    """Create an API token for USERNAME and print it (it is shown only once)."""
    from server.services.accounts import create_token, user_by_name

    with _runtime().sessions.begin() as session:
        plain, _ = create_token(
            session, user=user_by_name(session, username), store_id=store_id, name=name, now=_now()
        )
    click.echo(plain)


@cli.command()
def check() -> None:
    """Run the invariant queries (docs/api.md); exit 1 on any violation."""
    from server.services.invariants import CHECKS, run_checks

    with _runtime().sessions() as session:
        violations = run_checks(session)
    for v in violations:
        click.echo(f"VIOLATION of invariant {v.invariant}: {v.description}: {v.rows}", err=True)
    if violations:
        sys.exit(1)
    click.echo(f"ok: {len(CHECKS)} invariant checks passed on {_runtime().engine.dialect.name}")


@cli.command(with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Set up and print, but do not start the server.")
def demo(host: str, port: int, no_serve: bool) -> None:
    """Create the database, seed a demo brand, print what to try, and serve."""
    from server.demo_cli import run_demo

    run_demo(host=host, port=port, serve=not no_serve)
