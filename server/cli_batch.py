"""`codeloop product …` and `codeloop batch …`: codes from the command line."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from server.models import utcnow


def _runtime():
    return current_app.extensions["codeloop"]


@click.group(cls=AppGroup)
def product() -> None:
    """Products."""


@product.command("create")
@click.argument("name")
@click.option("--gtin", help="GTIN-8/12/13/14 (check digit validated).")
@click.option("--gs1", "gs1", is_flag=True, help="Print GS1 Digital Link URLs (/01/<gtin>/21/<code>).")
def product_create(name: str, gtin: str | None, gs1: bool) -> None:
    """Create a product."""
    from server.services.catalog import create_product

    with _runtime().sessions.begin() as session:
        made = create_product(session, name=name, gtin=gtin, url_form="gs1" if gs1 else "short", now=utcnow())
        click.echo(f"created product {made.id} ({made.name}, GTIN {made.gtin or '-'}, {made.url_form} URLs)")


@click.group(cls=AppGroup)
def batch() -> None:
    """Batches of pack codes."""


@batch.command("create")
@click.option("--product", "product_id", type=int, required=True)
@click.option("--campaign", "campaign_id", type=int, required=True)
@click.option("--quantity", type=int, required=True, help="Up to 100,000,000 codes.")
@click.option("--paired", is_flag=True, help="Outer (visible) and inner (hidden, claims) codes per pack.")
@click.option("--note", default="")
def batch_create(product_id: int, campaign_id: int, quantity: int, paired: bool, note: str) -> None:
    """Create a batch (one database row, however many codes)."""
    from server.services.batches import create_batch

    with _runtime().sessions.begin() as session:
        made = create_batch(
            session,
            product_id=product_id,
            campaign_id=campaign_id,
            quantity=quantity,
            paired=paired,
            note=note,
            now=utcnow(),
        )
        click.echo(f"created batch {made.id}: {made.quantity:,} codes{' (paired)' if made.paired else ''}")


def _range(batch_id: int, kind: str, first: int, last: int, **text) -> None:
    from server.services.batches import RangeRequest, add_range

    with _runtime().sessions.begin() as session:
        row = add_range(
            session,
            batch_id=batch_id,
            kind=kind,
            now=utcnow(),
            request=RangeRequest(
                first, last, text.get("distributor"), tuple(text.get("regions", ())), text.get("reason")
            ),
        )
        click.echo(
            f"{kind}d serials {row.first_serial}-{row.last_serial} of batch {batch_id} (range {row.id})"
        )


@batch.command("activate")
@click.argument("batch_id", type=int)
@click.option("--first", type=int, required=True, help="First serial (0-based).")
@click.option("--last", type=int, required=True, help="Last serial, inclusive.")
@click.option("--distributor")
@click.option(
    "--region",
    "regions",
    multiple=True,
    help="Intended province or city (repeatable): 上海市, 上海, Shanghai.",
)
def batch_activate(
    batch_id: int, first: int, last: int, distributor: str | None, regions: tuple[str, ...]
) -> None:
    """Activate a shipped range of serials."""
    _range(batch_id, "activate", first, last, distributor=distributor, regions=regions)


@batch.command("blacklist")
@click.argument("batch_id", type=int)
@click.option("--first", type=int, required=True)
@click.option("--last", type=int, required=True)
@click.option("--reason", required=True)
def batch_blacklist(batch_id: int, first: int, last: int, reason: str) -> None:
    """Blacklist a lost or leaked range of serials."""
    _range(batch_id, "blacklist", first, last, reason=reason)


@batch.command("export")
@click.argument("batch_id", type=int)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--roll-size", default=10_000, show_default=True, type=int)
@click.option("--processes", type=int, help="Parallel roll writers (default: all cores).")
def batch_export(batch_id: int, out_dir: Path, roll_size: int, processes: int | None) -> None:
    """Write the print package: per-roll CSVs, manifest.json, SHA256SUMS, proof.svg."""
    from codegen.package import write_package
    from server.services.batches import batch_spec, get_batch
    from server.services.exports import check_roll_size

    rt = _runtime()
    with rt.sessions() as session:
        spec = batch_spec(get_batch(session, batch_id), rt.config.public_url)
    check_roll_size(roll_size)
    with click.progressbar(
        length=spec.quantity, label=f"batch {batch_id}", show_pos=True, file=click.get_text_stream("stderr")
    ) as bar:
        state = {"done": 0}

        def advance(done: int) -> None:
            bar.update(done - state["done"])
            state["done"] = done

        manifest = write_package(
            out_dir, rt.secret, spec, roll_size=roll_size, processes=processes, progress=advance
        )
    click.echo(
        f"wrote {spec.quantity:,} codes in {len(manifest['files'])} rolls to {out_dir} "
        f"(check with: cd {out_dir} && sha256sum -c SHA256SUMS)"
    )


COMMANDS = (product, batch)  # added to the `codeloop` group by server/cli.py
