"""Real Chromium: scan → claim → voucher in zh-CN and en, screenshots in test-artifacts/, and the scan page's
transferred bytes (≤ 50 KB, nothing from any other host)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from tests.conftest import make_config
from tests.consumer.conftest import build_world

# served by a thread of this process: the app and the test commit, each on its own connections
pytestmark = [pytest.mark.browser, pytest.mark.commits]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
BUDGET = 50 * 1024


@pytest.fixture
def live(database_url, tmp_path):
    from server.app import create_app

    app = create_app(make_config(database_url, tmp_path, public_url="http://127.0.0.1:5000"))
    world = build_world(app, voucher_min_spend_fen=3000, name="春季尝鲜")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", world
    server.shutdown()
    app.extensions["codeloop"].engine.dispose()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        yield browser
        browser.close()


@pytest.mark.parametrize(
    "locale,verdict,button,valid",
    [
        ("zh-CN", "正品，首次查询", "领取优惠券", "有效期至"),
        ("en-US", "Genuine, first check", "Claim voucher", "Valid until"),
    ],
)
def test_scan_claim_voucher_in_a_real_browser(browser, live, locale, verdict, button, valid):
    base, world = live
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(
        locale=locale, viewport={"width": 390, "height": 844}, device_scale_factor=2
    )
    page = context.new_page()
    responses = []
    page.on("requestfinished", lambda request: responses.append(request))
    serial = 1 if locale == "zh-CN" else 2
    page.goto(f"{base}/S/{world.code(serial)}", wait_until="load")
    assert verdict in page.inner_text("h1")
    scan_requests = list(responses)
    transferred = 0
    for request in scan_requests:
        sizes = request.sizes()
        transferred += sizes["responseBodySize"] + sizes["responseHeadersSize"]
    hosts = {urlsplit(r.url).netloc for r in scan_requests}
    assert hosts == {urlsplit(base).netloc}, hosts
    assert 0 < transferred <= BUDGET, transferred
    (ARTIFACTS / f"scan-size-{locale}.txt").write_text(
        f"{transferred} bytes in {len(scan_requests)} requests\n"
    )
    page.screenshot(path=str(ARTIFACTS / f"scan-{locale}.png"), full_page=True)

    page.get_by_role("button", name=button).click()
    page.wait_for_url("**/v/**")
    assert valid in page.content() and page.locator("svg.qr").count() == 1
    page.screenshot(path=str(ARTIFACTS / f"voucher-{locale}.png"), full_page=True)

    page.goto(f"{base}/S/{world.code(serial)}")  # the second scan: the count and the link to my voucher
    text = page.inner_text("main")
    assert ("该码已被查询 2 次" in text) if locale == "zh-CN" else ("checked 2 times" in text)
    page.screenshot(path=str(ARTIFACTS / f"scan-again-{locale}.png"), full_page=True)
    assert all(urlsplit(r.url).netloc == urlsplit(base).netloc for r in responses)
    context.close()
