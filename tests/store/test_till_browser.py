"""The till in real Chromium: sign in, redeem by typing, by a wedge scanner's burst, by the camera
(a fake camera showing the voucher's QR, decoded by the vendored jsQR), and see why a voucher is refused."""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from server.models import Redemption
from server.services.invariants import run_checks
from tests.store.world import PASSWORD, build

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


@pytest.fixture
def server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def qr_y4m(text: str, path: Path, size: int = 480, frames: int = 30) -> Path:
    """A short Y4M video of a QR code for Chromium's fake camera (4:2:0, the format it reads)."""
    import qrcode
    from PIL import Image

    image = qrcode.make(text, border=4).convert("L").resize((size // 2, size // 2), Image.NEAREST)
    canvas = Image.new("L", (size, size), 255)
    canvas.paste(image, (size // 4, size // 4))
    y = canvas.tobytes()
    chroma = bytes([128]) * (size * size // 4)
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{size} H{size} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            fh.write(b"FRAME\n" + y + chroma + chroma)
    return path


def banner(page) -> str:
    page.wait_for_selector("#result .banner")
    return page.inner_text("#result .banner")


def sign_in(page, server: str, username: str, start: str = "/clerk") -> None:
    """Sign in from `start` (the till sends an anonymous visitor to the login page) and land on the till."""
    page.goto(server + start)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/clerk")


def test_clerk_redeems_by_typing_by_wedge_scan_and_camera(server, sessions, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    world = build(sessions, vouchers=4)
    ARTIFACTS.mkdir(exist_ok=True)
    video = qr_y4m(f"https://q.example.cn/v/{world.vouchers[2]}", tmp_path / "qr.y4m")
    args = ARGS + [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=args)
        try:
            context = browser.new_context(
                viewport={"width": 390, "height": 800}, locale="zh-CN"
            )  # a cheap phone
            context.grant_permissions(["camera"], origin=server)
            page = context.new_page()
            blocked = []  # the app-wide CSP (server/headers.py) must not block anything the till uses
            page.on("console", lambda m: blocked.append(m.text) if "Security Policy" in m.text else None)
            sign_in(page, server, "clerk0")
            assert page.evaluate("document.activeElement.id") == "voucher"  # ready for the scanner

            # 1. typed by hand, in lower case with a dash
            page.keyboard.type(world.vouchers[0].lower()[:2] + "-" + world.vouchers[0].lower()[2:], delay=60)
            page.keyboard.press("Enter")
            assert "已核销" in banner(page)
            assert page.inner_text("#today-count") == "1"
            page.screenshot(path=str(ARTIFACTS / "till-typed.png"), full_page=True)

            # 2. a wedge scanner: a burst of keys and Enter, and its repeat within 2 s ignored. The page's
            # clock stands still meanwhile (timers keep running), so a slow machine cannot stretch the repeat
            # past the till's 2-second window.
            assert (
                page.evaluate("document.activeElement.id") == "voucher" and page.input_value("#voucher") == ""
            )
            posted = []
            page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
            scanned_at = datetime.now(UTC)
            page.clock.set_fixed_time(scanned_at)
            page.keyboard.type(world.vouchers[1], delay=5)
            page.keyboard.press("Enter")
            # waits by selector, not by a JavaScript predicate: the till's CSP forbids eval
            expect(page.locator("#today-count")).to_have_text("2", timeout=30000)
            assert "已核销" in banner(page)
            page.keyboard.type(world.vouchers[1], delay=5)
            page.keyboard.press("Enter")  # same value again within 2 s: ignored, not refused
            page.wait_for_function("document.getElementById('voucher').value === ''")
            assert "已核销" in banner(page) and page.inner_text("#today-count") == "2"
            page.screenshot(path=str(ARTIFACTS / "till-wedge.png"), full_page=True)

            # 3. the same voucher scanned again later: refused, with the reason in words
            page.clock.set_fixed_time(scanned_at + timedelta(seconds=2.1))
            page.keyboard.type(world.vouchers[1], delay=5)
            page.keyboard.press("Enter")
            page.wait_for_selector("#result .banner.bad")
            text = banner(page)
            assert "未核销" in text and "一号店" in text and "核销" in text
            assert len(posted) == 2  # the scan and this one: the repeat was never sent
            page.screenshot(path=str(ARTIFACTS / "till-refused.png"), full_page=True)

            # 4. the camera: a fake device showing the voucher's QR, decoded in the page
            page.click("#camera")
            expect(page.locator("#today-count")).to_have_text("3", timeout=20000)
            assert "已核销" in banner(page) and blocked == []
            page.screenshot(path=str(ARTIFACTS / "till-camera.png"), full_page=True)

            # 5. the answer is lost on the way back (the server did redeem): Enter again replays, never twice
            state = {"dropped": False}

            def drop_first_answer(route):
                if route.request.method == "POST" and not state["dropped"]:
                    state["dropped"] = True
                    route.fetch()  # the request reaches the server and is committed...
                    route.abort()  # ...but the till never sees the answer
                else:
                    route.continue_()

            page.route("**/clerk", drop_first_answer)
            page.keyboard.type(world.vouchers[3], delay=5)
            page.keyboard.press("Enter")
            page.wait_for_selector("#result .banner.bad")
            assert page.input_value("#voucher") == world.vouchers[3]  # kept for the retry
            with sessions() as s:  # the server had redeemed it already
                assert s.scalar(select(func.count()).select_from(Redemption)) == 4
            page.focus("#voucher")
            page.keyboard.press("Enter")
            page.wait_for_selector("#result .banner.good")
            assert "已核销" in banner(page) and page.inner_text("#today-count") == "4"
            page.unroute("**/clerk")

            # 6. a till PC in English
            desktop = browser.new_context(
                viewport={"width": 1280, "height": 800},
                locale="en-US",
                extra_http_headers={"Accept-Language": "en"},
            )
            pc = desktop.new_page()
            sign_in(pc, server, "clerk1", start="/login?next=/clerk")
            pc.keyboard.type(world.vouchers[0], delay=5)
            pc.keyboard.press("Enter")
            pc.wait_for_selector("#result .banner.bad")
            text = banner(pc)
            assert "Not redeemed" in text and "another store" in text and "一号店" not in text
            pc.screenshot(path=str(ARTIFACTS / "till-desktop-en.png"), full_page=True)
        finally:
            browser.close()
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Redemption)) == 4
        assert run_checks(s) == []
