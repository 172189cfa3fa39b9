"""The README's demo walked as a person would: `codeloop demo` on a port other than 5000, then real Chromium
(phone 390×844 and desktop) through scan → claim → share → a friend's claim in a second browser → the clerk
redeems by typing → the same voucher refused as already redeemed → the owner's balance → the admin pages.
Every link followed answers 200, no asset fails and the console stays clean; screenshots of every page at
both sizes go to test-artifacts/demo-walk/ (git-ignored; the test prints the folder). The same demo through
the JSON API alone, and the tour's printed links, come after."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from codegen.codes import Codec
from tests.conftest import codeloop_env
from tests.health import wait_for_health

pytestmark = pytest.mark.browser
CODELOOP = str(Path(sys.executable).with_name("codeloop"))
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "demo-walk"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 860}
PASSWORD = "codeloop-demo"


def free_port() -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port != 5000:
            return port


@dataclass
class Demo:
    base: str
    instance: Path
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        """What `codeloop demo` printed before gunicorn took over (its access log follows)."""
        text = "".join(self.lines)
        end = text.find("--out ./print-package")
        return text[: end + len("--out ./print-package")] if end >= 0 else text

    def printed(self, pattern: str) -> str:
        match = re.search(pattern, self.output)
        assert match, f"{pattern!r} not in the demo's output:\n{self.output}"
        return match.group(1)

    def pack(self, serial: int) -> str:
        secret = (self.instance / "secret_key").read_text().strip().encode()
        return Codec(secret).encode(1, serial)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`codeloop demo --port N` from an empty folder with no configuration, as the README says."""
    cwd = tmp_path_factory.mktemp("demo")
    port = free_port()
    proc = subprocess.Popen(
        [CODELOOP, "demo", "--port", str(port)],
        cwd=cwd,
        env=codeloop_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    running = Demo(f"http://127.0.0.1:{port}", cwd / "instance")
    reader = threading.Thread(
        target=lambda: running.lines.extend(iter(proc.stdout.readline, "")), daemon=True
    )
    reader.start()
    try:
        wait_for_health(running.base, proc=proc, output=lambda: running.output)
        yield running
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        yield browser
        browser.close()


class Walk:
    """Browser contexts that record failed responses and console errors; link following; screenshots."""

    def __init__(self, browser, base: str) -> None:
        self.browser, self.base = browser, base
        self.problems: list[str] = []
        self.followed: dict[str, int] = {}
        self.shots = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob("*.png"):
            old.unlink()

    def context(self, viewport: dict, locale: str = "zh-CN"):
        context = self.browser.new_context(locale=locale, viewport=viewport, device_scale_factor=2)
        context.on("page", self._watch)
        return context

    def _watch(self, page) -> None:
        page.on(
            "console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text} ({page.url})")
        )
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e} ({page.url})"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"{r.status} {r.url}"))

    def snap(self, page, name: str) -> None:
        """The page at phone and desktop size (then back to where it was)."""
        size = page.viewport_size
        self.shots += 1
        for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            page.set_viewport_size(viewport)
            page.screenshot(path=str(ARTIFACTS / f"{self.shots:02d}-{name}-{label}.png"), full_page=True)
        page.set_viewport_size(size)

    def follow_links(self, page) -> None:
        """GET every same-site link on the page with the page's cookies: each must answer 200."""
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
            href = href.split("#")[0]
            if urlsplit(href).netloc != urlsplit(self.base).netloc or href in self.followed:
                continue
            self.followed[href] = page.context.request.get(href, max_redirects=5).status
        dead = {href: status for href, status in self.followed.items() if status != 200}
        assert not dead, dead


def sign_in(page, base: str, username: str, start: str) -> None:
    page.goto(base + start)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + start + "**")


def redeem(page, code: str, amount: str) -> str:
    page.fill("#purchase", amount)
    page.fill("#voucher", code)
    before = page.locator("#result .banner").count() and page.inner_text("#result")
    page.press("#voucher", "Enter")
    page.wait_for_function(
        "before => { const b = document.querySelector('#result .banner');"
        " return b && b.innerText !== before }",
        arg=before or "",
    )
    return page.inner_text("#result .banner")


def one_line_each(page, selector: str) -> bool:
    """Every cell's text is laid out on one line (no name wrapped a character per line)."""
    return page.eval_on_selector_all(
        selector,
        "cells => cells.every(td => { const r = document.createRange(); r.selectNodeContents(td);"
        " return r.getClientRects().length <= 1 })",
    )


def test_walk_the_demo_in_a_browser(demo, browser):
    base, walk = demo.base, Walk(browser, demo.base)
    print(f"\nscreenshots: {ARTIFACTS}")

    # the customer at the counter: the clerk's promo code, then a genuine pack
    customer = walk.context(PHONE).new_page()
    customer.goto(demo.printed(r"(http://\S+/C/\w+)"))
    assert "欢迎光临 静安旗舰店" in customer.inner_text("main")
    walk.snap(customer, "promo")
    customer.goto(demo.printed(r"(http://\S+/S/\w+)\n\s+a genuine pack"))
    assert "正品，首次查询" in customer.inner_text("h1")
    walk.snap(customer, "scan")
    walk.follow_links(customer)
    customer.get_by_role("button", name="领取优惠券").click()
    customer.wait_for_url("**/v/**")
    voucher = customer.inner_text(".vcode").strip()
    share = customer.input_value("input.share")
    assert share.startswith(base + "/r/"), share  # the port the demo serves on, not 5000
    assert customer.locator("svg.qr").count() == 1 and "有效期至" in customer.inner_text("main")
    walk.snap(customer, "voucher")
    walk.follow_links(customer)

    # a friend, on another phone (a second browser context on the same machine)
    friend = walk.context(PHONE).new_page()
    friend.goto(share)
    offer = friend.inner_text("main")
    assert "¥3" in offer and "消费满 ¥20" in offer
    walk.snap(friend, "referral")
    friend.get_by_role("button", name="领取优惠券").click()
    friend.wait_for_url("**/v/**")
    gift = friend.inner_text(".vcode").strip()
    assert "好友券" in friend.inner_text("main")
    walk.snap(friend, "friend-voucher")

    # the clerk types both codes at the till, then the first again
    till = walk.context(DESKTOP).new_page()
    sign_in(till, base, "clerk1", "/clerk")
    walk.snap(till, "till")
    assert "已核销" in redeem(till, voucher, "25")
    assert "已核销" in redeem(till, gift, "25")
    refused = redeem(till, voucher.lower(), "")  # typed again, without an amount
    assert "未核销" in refused and "该券已于" in refused and "静安旗舰店" in refused, refused
    assert "VOUCHER_ALREADY_REDEEMED" not in till.inner_text("body")  # the sentence, not the code
    walk.snap(till, "till-refused")

    # the sharer sees their voucher used and the bonus the friend's earned them
    customer.reload()
    page = customer.inner_text("main")
    assert "在 静安旗舰店 核销" in page and "+100 积分" in page and "你共获得 100 积分" in page, page
    assert "used" in customer.get_attribute("main .card", "class")
    walk.snap(customer, "voucher-used")

    # the store owner: today's money held, last week's paid
    owner_context = walk.context(PHONE)
    owner = owner_context.new_page()
    sign_in(owner, base, "owner1", "/owner")
    page = owner.inner_text("main")
    assert "¥9.00" in page and "DEMO-TRANSFER-0001" in page and voucher in page, page
    assert one_line_each(owner, "#redemptions td, #statements td")
    walk.snap(owner, "owner")
    walk.follow_links(owner)

    # the brand manager: every admin page, each link on it, and closing the period
    admin = walk.context(DESKTOP).new_page()
    sign_in(admin, base, "admin", "/admin")
    for path in (
        "/admin/batches",
        "/admin/batches/1",
        "/admin/stores",
        "/admin/clerks",
        "/admin/settlements",
    ):
        admin.goto(base + path)
        walk.snap(admin, path.strip("/").replace("/", "-"))
        walk.follow_links(admin)
    admin.goto(base + "/admin/clerks")
    assert "None" not in admin.inner_text("main")  # both clerks have a promo code
    admin.goto(base + "/admin/settlements")
    admin.get_by_role("button", name="立即结算本期").click()
    admin.wait_for_load_state()
    assert "冻结期" in admin.inner_text("main")
    walk.snap(admin, "settlement-run")

    assert not walk.problems, walk.problems
    assert any(re.search(r"/admin/clerks/\d+/card$", url) for url in walk.followed), walk.followed


def test_the_json_api_alone(demo):
    """A mini-program's view: claim, read the share link from the voucher's answer, a second consumer on the
    same machine claims the friend voucher."""
    api = demo.base + "/api/v1"
    first = {"X-Consumer-Token": requests.post(f"{api}/consumers", timeout=30).json()["consumer_token"]}
    scanned = requests.get(f"{api}/scan/{demo.pack(5)}", headers=first, timeout=30).json()
    claimed = requests.post(f"{api}/scan/{scanned['claim_token']}/claim", headers=first, timeout=30)
    assert claimed.status_code == 201, claimed.text
    code = claimed.json()["voucher"]["code"]
    mine = requests.get(f"{api}/vouchers/{code}", headers=first, timeout=30).json()["voucher"]
    link = mine["share"]["url"]
    assert link.startswith(demo.base + "/r/"), mine  # the demo's own port
    assert mine["share"]["friends"] == [] and mine["share"]["bonus_points"] == 0
    second = {"X-Consumer-Token": requests.post(f"{api}/consumers", timeout=30).json()["consumer_token"]}
    token = link.rsplit("/", 1)[-1]
    gift = requests.post(f"{api}/referrals/{token}/claim", headers=second, timeout=30)
    assert gift.status_code == 201, gift.text
    assert gift.json()["voucher"]["kind"] == "friend"
    mine = requests.get(f"{api}/vouchers/{code}", headers=first, timeout=30).json()["voucher"]
    assert [f["state"] for f in mine["share"]["friends"]] == ["issued"]


def test_gunicorn_answers_long_paths_and_the_icon_like_the_app(demo):
    long = requests.get(demo.base + "/" + "x" * 5000, timeout=30)
    assert long.status_code == 404 and 'data-error="NOT_FOUND"' in long.text and "<html" in long.text
    icon = requests.get(demo.base + "/favicon.ico", timeout=30)
    assert icon.status_code == 200 and icon.content[:4] == b"\x00\x00\x01\x00"
    assert requests.get(demo.base + "/", timeout=30).status_code == 200


def test_the_tour_names_every_account_and_only_links_to_its_own_port(demo):
    output = demo.output
    for account in ("clerk1", "clerk2", "owner1", "owner2", "admin", PASSWORD):
        assert account in output, output
    urls = re.findall(r"https?://[^\s)]+", output)
    assert urls and all(url.startswith(demo.base) for url in urls), urls
    expected = {"/C/": 200, "/healthz": 200, "/clerk": 200, "/owner": 200, "/admin": 200}
    for url in urls:
        status = next((s for part, s in expected.items() if part in url), None)
        if status is not None:
            assert requests.get(url, timeout=30).status_code == status, url
    for label, status in (("a pack not shipped yet", 409), ("a withdrawn pack", 410), ("a forged code", 404)):
        url = demo.printed(r"(http://\S+/S/\w+)\s+" + label)
        assert requests.get(url, timeout=30).status_code == status, (label, url)


def test_the_demo_scans_are_placed_in_several_provinces(demo):
    """The story's scans, enriched by the bundled GeoIP data (inline jobs) before the server starts."""
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{demo.instance / 'codeloop.sqlite3'}")
    with engine.connect() as conn:
        provinces = set(
            conn.execute(
                text("SELECT province FROM scans WHERE geo_status = 'done' AND ip <> '127.0.0.1'")
            ).scalars()
        )
    engine.dispose()
    assert len(provinces) >= 4, provinces


def test_the_printed_export_command_writes_codes_for_this_port(demo):
    import json

    command = demo.printed(r"\n\s*(CODELOOP_PUBLIC_URL=\S+ codeloop batch export \d+ --out \./print-package)")
    variable, _, *args = command.split()
    env = {**codeloop_env(), variable.split("=")[0]: variable.split("=", 1)[1]}
    done = subprocess.run(
        [CODELOOP, *args], cwd=demo.instance.parent, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    manifest = json.loads((demo.instance.parent / "print-package" / "manifest.json").read_text())
    assert demo.base.upper() in json.dumps(manifest), manifest
