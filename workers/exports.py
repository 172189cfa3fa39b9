"""Write a batch's print package on the worker, reporting progress to the admin page."""

from __future__ import annotations

import shutil
from pathlib import Path

from codegen.package import write_package
from server.db import transaction
from server.models import utcnow
from server.runtime import current
from server.services import exports
from server.services.batches import batch_spec, get_batch


def run_export(export_id: int) -> str | None:
    """Idempotent: a finished or failed export is left alone, a running one too while its run's lease lasts;
    one whose run died is rewritten from scratch (the package is deterministic)."""
    rt = current()
    with transaction(rt.sessions) as session:
        if not exports.start(session, export_id, utcnow()):
            return None  # done, failed, missing, or held by a live run
        export = session.get(exports.BatchExport, export_id)
        spec, roll_size = (
            batch_spec(get_batch(session, export.batch_id), rt.config.public_url),
            export.roll_size,
        )
    out = Path(rt.config.instance_dir) / "exports" / f"batch-{spec.batch}-export-{export_id}"
    shutil.rmtree(out, ignore_errors=True)

    def report(done: int) -> None:
        with transaction(rt.sessions) as session:
            exports.progress(session, export_id, done, utcnow())

    try:
        write_package(out, rt.secret, spec, roll_size=roll_size, progress=report)
    except Exception as exc:  # noqa: BLE001 — recorded for the admin page, then re-raised for RQ
        with transaction(rt.sessions) as session:
            exports.finish(session, export_id, path=None, error=str(exc)[:500], now=utcnow())
        raise
    with transaction(rt.sessions) as session:
        exports.progress(session, export_id, spec.quantity, utcnow())
        exports.finish(session, export_id, path=out, error=None, now=utcnow())
    return str(out)
