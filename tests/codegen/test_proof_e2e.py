"""End to end: the QR symbols in the actual proof.svg decode (zxing-cpp) to URLs whose codes verify."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zxingcpp
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from PIL import Image

from codegen.codes import INNER, OUTER, Codec
from codegen.package import BatchSpec, write_package
from codegen.urls import UrlTemplate

pytestmark = pytest.mark.browser
SECRET = b"test-secret-0123456789abcdef"
CODEC = Codec(SECRET)
GTIN = "06901234567892"
SCALE = 4  # device pixels per CSS pixel: a 0.4 mm module is ~6 px


@pytest.fixture(scope="module")
def rasterize() -> Iterator[Callable[[Path], Image.Image]]:
    """SVG file -> PIL image, with Debian's chromium through Playwright (or cairosvg if present)."""
    try:
        import cairosvg  # type: ignore[import-not-found]

        yield lambda path: Image.open(io.BytesIO(cairosvg.svg2png(url=str(path), scale=SCALE * 1.0)))
        return
    except (ImportError, OSError):
        pass
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium is not None, "needs Debian's chromium (apt-get install -y chromium; .ci/run installs it)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(device_scale_factor=SCALE)

        def render(path: Path) -> Image.Image:
            page.goto(path.resolve().as_uri())
            return Image.open(io.BytesIO(page.locator("svg").screenshot()))

        yield render
        browser.close()


def decoded_urls(image: Image.Image) -> list[str]:
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return sorted(b.text for b in found)


def test_short_form_proof_sheet_decodes(tmp_path: Path, rasterize: Callable) -> None:
    spec = BatchSpec(
        batch=21,
        quantity=500,
        paired=False,
        urls=UrlTemplate("https://q.brand.cn"),
        product="奶粉",
        created_at="2025-03-01T08:00:00+08:00",
    )
    write_package(tmp_path, SECRET, spec, roll_size=200, processes=1, proof_count=20)
    urls = decoded_urls(rasterize(tmp_path / "proof.svg"))
    expected = sorted(f"HTTPS://Q.BRAND.CN/S/{c}" for c in CODEC.encode_range(21, 0, 20))
    assert urls == expected
    serials = []
    for url in urls:
        code = CODEC.decode(url.rsplit("/", 1)[1])
        assert (code.batch, code.kind) == (21, OUTER)
        serials.append(code.serial)
    assert sorted(serials) == list(range(20))


def test_paired_gs1_proof_sheet_decodes(tmp_path: Path, rasterize: Callable) -> None:
    spec = BatchSpec(
        batch=22,
        quantity=50,
        paired=True,
        urls=UrlTemplate("https://q.brand.cn", "gs1", GTIN),
        gtin14=GTIN,
        created_at="2025-03-01",
    )
    write_package(tmp_path, SECRET, spec, roll_size=50, processes=1, proof_count=6)
    urls = decoded_urls(rasterize(tmp_path / "proof.svg"))
    assert len(urls) == 12
    pairs: dict[int, set[int]] = {}
    for url in urls:
        parsed = {e.ai.ai: e.value for e in GS1DigitalLinkURI.parse(url).element_strings}
        assert parsed["01"] == GTIN
        code = CODEC.decode(parsed["21"])
        assert code.batch == 22
        pairs.setdefault(code.serial, set()).add(code.kind)
    assert pairs == {serial: {OUTER, INNER} for serial in range(6)}
