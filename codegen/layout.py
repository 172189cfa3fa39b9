"""Package layout shared by the directory writer and the ZIP stream: roll plan, manifest and checksum
files (the batch spec is codegen/spec.py's)."""

from __future__ import annotations

import hashlib
import json

from . import __version__
from .codes import Codec
from .proof import EC_LEVEL, MODULE_MM, QUIET_ZONE, proof_svg, symbol_info
from .rolls import HEADER, PAIRED_HEADER
from .spec import BatchSpec

PACKAGE_FORMAT = "codeloop-code-package/1"


def roll_plan(quantity: int, roll_size: int) -> list[tuple[str, int, int]]:
    """(file name, first serial, stop serial) of every roll file."""
    if roll_size < 1:
        raise ValueError("roll_size must be at least 1")
    n = -(-quantity // roll_size)
    width = max(5, len(str(n)))
    return [
        (f"roll-{k + 1:0{width}d}.csv", k * roll_size, min((k + 1) * roll_size, quantity)) for k in range(n)
    ]


def roll_entry(name: str, start: int, stop: int, data: bytes) -> dict:
    """The manifest's description of one roll file."""
    return {
        "name": name,
        "first_seq": start + 1,
        "last_seq": stop,
        "first_serial": start,
        "last_serial": stop - 1,
        "rows": stop - start,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def build_manifest(spec: BatchSpec, roll_size: int, rolls: list[dict], proof: dict, sample_code: str) -> dict:
    """The manifest.json content (a plain dict); QR figures are those of ``sample_code``'s URL."""
    first_url = spec.urls.url(sample_code)
    return {
        "format": PACKAGE_FORMAT,
        "generator": f"codeloop.codegen {__version__}",
        "created_at": spec.created_at,
        "batch": spec.batch,
        "product": spec.product,
        "gtin14": spec.gtin14,
        "campaign": spec.campaign,
        "quantity": spec.quantity,
        "paired": spec.paired,
        "roll_size": roll_size,
        "columns": (PAIRED_HEADER if spec.paired else HEADER).split(","),
        "url_template": spec.urls.template_string(),
        "url_form": spec.urls.form,
        "code": {"length": 20, "alphabet": "crockford-base32", "version": 1},
        "qr": {
            "error_correction": EC_LEVEL,
            "quiet_zone_modules": QUIET_ZONE,
            "module_size_mm": MODULE_MM,
            **symbol_info(first_url),
        },
        "files": rolls,
        "proof": proof,
    }


def finish_files(
    codec: Codec,
    spec: BatchSpec,
    roll_size: int,
    rolls: list[dict],
    proof_count: int,
    proof: bytes | None = None,
) -> tuple[list[tuple[str, bytes]], dict]:
    """(proof.svg, manifest.json and SHA256SUMS covering every other file, in that order; manifest)."""
    if proof is None:
        proof = proof_svg(codec, spec, proof_count)
    proof_entry = {
        "name": "proof.svg",
        "count": min(proof_count, spec.quantity),
        "sha256": hashlib.sha256(proof).hexdigest(),
    }
    manifest = build_manifest(spec, roll_size, rolls, proof_entry, codec.encode(spec.batch, 0))
    manifest_bytes = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    sums = [(r["sha256"], r["name"]) for r in rolls]
    sums += [
        (proof_entry["sha256"], "proof.svg"),
        (hashlib.sha256(manifest_bytes).hexdigest(), "manifest.json"),
    ]
    sums_bytes = "".join(f"{digest}  {name}\n" for digest, name in sums).encode("ascii")
    files = [("proof.svg", proof), ("manifest.json", manifest_bytes), ("SHA256SUMS", sums_bytes)]
    return files, manifest
