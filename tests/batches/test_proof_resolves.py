"""End to end: the proof sheet of a batch made through the API decodes (zxing-cpp) to URLs that the
server resolves to that batch and serial."""

import io
import shutil
import zipfile
from urllib.parse import urlsplit

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import sync_playwright

pytestmark = pytest.mark.browser


def _rasterise(svg: bytes, tmp_path) -> Image.Image:
    path = tmp_path / "proof.svg"
    path.write_bytes(svg)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=shutil.which("chromium"),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(device_scale_factor=4)
        page.goto(path.as_uri())
        png = page.locator("svg").screenshot()
        browser.close()
    return Image.open(io.BytesIO(png))


def test_proof_sheet_urls_resolve_to_their_batch_and_serial(client, auth, catalogue, tmp_path):
    made = client.post(
        "/api/v1/batches",
        json={"product_id": catalogue["product"], "campaign_id": catalogue["campaign"], "quantity": 300},
        headers=auth,
    ).get_json()
    client.post(
        f"/api/v1/batches/{made['id']}/activate", json={"first_serial": 0, "last_serial": 299}, headers=auth
    )
    package = zipfile.ZipFile(
        io.BytesIO(client.get(f"/api/v1/batches/{made['id']}/package.zip", headers=auth).data)
    )
    urls = sorted(
        b.text
        for b in zxingcpp.read_barcodes(
            _rasterise(package.read("proof.svg"), tmp_path), formats=zxingcpp.BarcodeFormat.QRCode
        )
    )
    assert len(urls) == 20
    serials = set()
    for url in urls:
        parts = urlsplit(url)
        assert parts.scheme == "https" and parts.netloc == "Q.EXAMPLE.CN"  # printed in uppercase
        code = parts.path.rsplit("/", 1)[1]
        state = client.get(f"/api/v1/codes/{code}", headers=auth).get_json()
        assert (state["outcome"], state["batch_id"]) == ("ok", made["id"])
        serials.add(state["serial"])
        page = client.get(parts.path)  # the printed path itself, in uppercase, reaches the scan page
        assert page.status_code == 200 and "Spring water" in page.get_data(as_text=True)
    assert serials == set(range(20))
