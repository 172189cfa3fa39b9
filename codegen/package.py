"""The printer's code package: per-roll CSVs, manifest.json, SHA256SUMS and proof.svg.

Everything in a package is a function of (secret, spec, roll size, proof count), so a
re-export is byte-identical (reprints are exact); nothing reads the clock.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from .codes import Codec
from .layout import finish_files, roll_entry, roll_plan
from .proof import proof_svg, render_code_images
from .rolls import roll_bytes
from .spec import BatchSpec
from .streams import iter_codes_csv, iter_package_zip

# fork: workers need nothing but this module's pure functions, start instantly and do not
# depend on how __main__ was started (spawn/forkserver re-run __main__ and hang on <stdin>).
START_METHOD = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"

__all__ = [
    "BatchSpec",
    "write_package",
    "iter_codes_csv",
    "iter_package_zip",
    "render_code_images",
]


def _write_roll(task: tuple) -> dict:
    """Worker: generate one roll, write it, return its manifest entry."""
    out_dir, secret, spec, name, start, stop = task
    data = roll_bytes(Codec(secret), spec.batch, spec.urls.prefix(), spec.paired, start, stop)
    with open(os.path.join(out_dir, name), "wb", buffering=0) as fh:
        fh.write(data)
    return roll_entry(name, start, stop, data)


def _run_rolls(
    tasks: list[tuple], processes: int, progress: Callable[[int], None] | None, meanwhile: Callable[[], None]
) -> list[dict]:
    """Write every roll, in parallel when asked (calling ``meanwhile`` in the parent while the
    workers run); returns the manifest entries in roll order."""
    done, entries = 0, []
    if processes <= 1 or len(tasks) <= 1:
        results: Iterable[dict] = map(_write_roll, tasks)
        pool = None
    else:
        ctx = multiprocessing.get_context(START_METHOD)
        pool = ProcessPoolExecutor(min(processes, len(tasks)), mp_context=ctx)
        results = (f.result() for f in as_completed([pool.submit(_write_roll, t) for t in tasks]))
    try:
        meanwhile()
        for entry in results:
            entries.append(entry)
            done += entry["rows"]
            if progress is not None:
                progress(done)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return sorted(entries, key=lambda e: e["first_serial"])


def write_package(
    out_dir: Path,
    secret: bytes,
    spec: BatchSpec,
    *,
    roll_size: int = 10_000,
    processes: int | None = None,
    proof_count: int = 20,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Write the code package into ``out_dir`` (rolls in parallel) and return its manifest."""
    codec = Codec(secret)
    out = Path(out_dir)
    plan = roll_plan(spec.quantity, roll_size)
    out.mkdir(parents=True, exist_ok=True)
    tasks = [(str(out), bytes(secret), spec, name, a, b) for name, a, b in plan]
    proof: list[bytes] = []
    rolls = _run_rolls(
        tasks,
        processes or os.cpu_count() or 1,
        progress,
        lambda: proof.append(proof_svg(codec, spec, proof_count)),
    )
    files, manifest = finish_files(codec, spec, roll_size, rolls, proof_count, proof[0])
    for name, data in files:
        (out / name).write_bytes(data)
    return manifest
