"""QR rendering with the ``qrcode`` library: the proof sheet and per-code images."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from xml.sax.saxutils import escape

import qrcode
import qrcode.constants
import qrcode.image.svg
import qrcode.util

from .codes import INNER, OUTER, Codec
from .spec import BatchSpec

EC_LEVEL = "M"
QUIET_ZONE = 4
MODULE_MM = 0.4
PNG_BOX_PX = 10  # 10 px per 0.4 mm module = 635 dpi
PNG_DPI = round(PNG_BOX_PX / MODULE_MM * 25.4)
IMAGE_LIMIT = 10_000
COLUMNS = 5  # 4 when paired, so outer and inner stay side by side
CELL_W, CAPTION_H, MARGIN = 34.0, 9.0, 10.0


def make_qr(url: str, box_size: int = int(MODULE_MM * 10), factory: type | None = None) -> qrcode.QRCode:
    """A fitted QR symbol for ``url``: EC level M, 4-module quiet zone."""
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=box_size,
        border=QUIET_ZONE,
        image_factory=factory,
    )
    qr.add_data(url)
    qr.make(fit=True)
    return qr


def symbol_info(url: str) -> dict:
    """QR version, modules and printed size (quiet zone included) for a URL of this batch."""
    qr = make_qr(url)
    modes = {
        qrcode.util.MODE_ALPHA_NUM: "alphanumeric",
        qrcode.util.MODE_8BIT_BYTE: "byte",
        qrcode.util.MODE_NUMBER: "numeric",
    }
    return {
        "mode": "+".join(dict.fromkeys(modes.get(d.mode, "other") for d in qr.data_list)),
        "version": qr.version,
        "modules": qr.modules_count,
        "symbol_size_mm": round((qr.modules_count + 2 * QUIET_ZONE) * MODULE_MM, 2),
    }


def _proof_cells(codec: Codec, spec: BatchSpec, count: int) -> list[tuple[str, str]]:
    """(caption, url) for the first ``count`` packs; paired batches show outer then inner."""
    stop = min(count, spec.quantity)
    cells = []
    outer = codec.encode_range(spec.batch, 0, stop, OUTER)
    inner = codec.encode_range(spec.batch, 0, stop, INNER) if spec.paired else [None] * stop
    for serial, (o, i) in enumerate(zip(outer, inner, strict=True)):
        cells.append((f"#{serial + 1}{' outer' if i else ''} {o}", spec.urls.url(o)))
        if i:
            cells.append((f"#{serial + 1} inner {i}", spec.urls.url(i)))
    return cells


def _cell_svg(x: float, y: float, caption: str, url: str) -> tuple[str, float]:
    """One QR symbol (a qrcode SvgPathImage path, in mm) with its caption; returns (svg, height)."""
    img = make_qr(url, factory=qrcode.image.svg.SvgPathImage).make_image()
    size = float(img.units(img.pixel_size, text=False))
    d = img.path.get("d")
    label, _, code = caption.rpartition(" ")
    return (
        f'<g transform="translate({x:g} {y:g})">'
        f'<rect width="{size:g}" height="{size:g}" fill="#fff"/>'
        f'<path d="{d}" fill="#000"/>'
        f'<text x="0" y="{size + 3:g}" font-size="2.4">{escape(label)}</text>'
        f'<text x="0" y="{size + 6:g}" font-size="2.2" font-family="monospace">{escape(code)}</text>'
        "</g>",
        size,
    )


def proof_svg(codec: Codec, spec: BatchSpec, count: int) -> bytes:
    """The proof sheet: the first ``count`` codes as QR symbols at print size (0.4 mm modules)."""
    cells = _proof_cells(codec, spec, count)
    columns = COLUMNS - 1 if spec.paired else COLUMNS
    parts, row_h, y = [], 0.0, MARGIN + 8
    for k, (caption, url) in enumerate(cells):
        col = k % columns
        if k and col == 0:
            y += row_h + CAPTION_H
        svg, size = _cell_svg(MARGIN + col * CELL_W, y, caption, url)
        row_h = max(row_h if col else 0.0, size)
        parts.append(svg)
    width = 2 * MARGIN + columns * CELL_W
    height = y + row_h + CAPTION_H + MARGIN if cells else 2 * MARGIN + 8
    title = f"codeloop proof · batch {spec.batch} · {spec.product} · {spec.campaign}"
    subtitle = (
        f"{spec.quantity} codes · first {len(cells)} symbols · EC {EC_LEVEL} · quiet zone "
        f"{QUIET_ZONE} modules · module {MODULE_MM} mm · print at 100%"
    )
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width:g}mm" '
        f'height="{height:g}mm" viewBox="0 0 {width:g} {height:g}" font-family="sans-serif">'
        f'<rect width="{width:g}" height="{height:g}" fill="#fff"/>'
        f'<text x="{MARGIN:g}" y="{MARGIN:g}" font-size="3.2">{escape(title)}</text>'
        f'<text x="{MARGIN:g}" y="{MARGIN + 4.5:g}" font-size="2.4">{escape(subtitle)}</text>'
    )
    return (head + "".join(parts) + "</svg>\n").encode("utf-8")


def render_code_images(
    secret: bytes, spec: BatchSpec, out_dir: Path, fmt: str = "png", limit: int = IMAGE_LIMIT
) -> list[Path]:
    """Write one QR image per code (``<seq>-<code>.png|svg``); small batches only."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"fmt must be 'png' or 'svg', not {fmt!r}")
    if spec.quantity > limit:
        raise ValueError(
            f"one image per code is offered up to {limit} codes, not {spec.quantity}: "
            "give the printer the CSV package instead"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    codec = Codec(secret)
    width = len(str(spec.quantity))
    written = []
    for name, url in _image_targets(codec, spec, width):
        written.append(_write_image(out_dir / f"{name}.{fmt}", url, fmt))
    return written


def _image_targets(codec: Codec, spec: BatchSpec, width: int) -> Iterable[tuple[str, str]]:
    """(file stem, url) for every code of the batch."""
    outer = codec.encode_range(spec.batch, 0, spec.quantity, OUTER)
    inner = codec.encode_range(spec.batch, 0, spec.quantity, INNER) if spec.paired else None
    for serial, code in enumerate(outer):
        yield f"{serial + 1:0{width}d}-{code}", spec.urls.url(code)
        if inner is not None:
            yield f"{serial + 1:0{width}d}-inner-{inner[serial]}", spec.urls.url(inner[serial])


def _write_image(path: Path, url: str, fmt: str) -> Path:
    """Render one QR to ``path``: PNG at 635 dpi (0.4 mm modules) or an SVG in mm."""
    if fmt == "svg":
        img = make_qr(url, factory=qrcode.image.svg.SvgPathImage).make_image()
        with open(path, "wb") as fh:
            img.save(fh)
    else:
        img = make_qr(url, box_size=PNG_BOX_PX).make_image()
        img.save(path, dpi=(PNG_DPI, PNG_DPI))
    return path
