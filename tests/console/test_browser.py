"""The console in real Chromium (Debian's): sign in, open the dashboard and change each filter, open an alert
and a code's history, download a CSV and an XLSX and read them back; no console error, no script run from a
campaign's name, and with JavaScript off every figure is still a table. Screenshots go to
test-artifacts/console/."""

from __future__ import annotations

import csv
import io
import re
import shutil
import threading
from pathlib import Path

import pytest
from openpyxl import load_workbook
from werkzeug.serving import make_server

from tests.conftest import make_config
from tests.console.world import CAMPAIGN_A_NAME, PASSWORD, build

# served by a thread of this process: the app and the test commit, each on its own connections
pytestmark = [pytest.mark.browser, pytest.mark.commits]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PERIOD = "from=2026-05-04&to=2026-05-05"


@pytest.fixture
def live(database_url, tmp_path):
    from server.app import create_app

    app = create_app(make_config(database_url, tmp_path))
    world = build(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
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


def _sign_in(context, base: str):
    page = context.new_page()
    page.goto(f"{base}/admin/")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/?$"))
    return page


def _kpi(page, name: str) -> str:
    return page.inner_text(f'[data-kpi="{name}"] .value').strip()


def _charts_drawn(page) -> int:
    page.wait_for_function("document.querySelectorAll('.chart canvas').length >= 11", timeout=20_000)
    return page.locator(".chart canvas").count()


def _watch(page, problems: list[str]) -> None:
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))


def test_dashboard_filters_alert_code_history_and_exports(browser, live, tmp_path):
    base, world = live
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 1440, "height": 900}, accept_downloads=True
    )
    page = _sign_in(context, base)
    problems: list[str] = []
    _watch(page, problems)

    page.goto(f"{base}/admin/?{PERIOD}")
    assert _charts_drawn(page) >= 11
    assert _kpi(page, "scans") == "7" and _kpi(page, "redemptions") == "3"
    assert page.locator("details.data[open]").count() == 0  # the tables fold under their charts
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    for name, value, scans in [
        ("campaign", str(world.ids["A"]), "6"),
        ("batch", str(world.ids["b1"]), "6"),
        ("product", str(world.ids["P1"]), "6"),
        ("province", "上海市", "3"),
    ]:
        with page.expect_navigation():
            page.select_option(f"#filters select[name={name}]", value)  # a change applies the filter at once
        assert f"{name}=" in page.url and _kpi(page, "scans") == scans, (name, page.url)
        _charts_drawn(page)
    page.screenshot(path=str(ARTIFACTS / "dashboard-filtered.png"), full_page=True)
    page.fill("#filters input[name=from]", "2026-05-05")
    with page.expect_navigation():
        page.click("#filters button[type=submit]")
    assert "from=2026-05-05" in page.url and _kpi(page, "scans") == "0"  # 上海市 on Tuesday: no scan
    page.fill("#filters input[name=from]", "2026-05-04")
    page.fill("#filters input[name=to]", "2026-05-04")
    with page.expect_navigation():
        page.click("#filters button[type=submit]")
    assert "to=2026-05-04" in page.url and _kpi(page, "scans") == "3"  # 上海市 on Monday
    page.goto(f"{base}/admin/?{PERIOD}")
    _charts_drawn(page)

    with page.expect_download() as csv_download:
        page.click("#stores .exports a:text('CSV')")
    rows = list(csv.reader(io.StringIO(Path(csv_download.value.path()).read_bytes().decode("utf-8-sig"))))
    assert rows[0][:3] == ["排名", "门店编号", "门店"] and '\'=HYPERLINK("http://x")' in rows[2]
    with page.expect_download() as xlsx_download:
        page.click("#clerks .exports a:text('XLSX')")
    target = tmp_path / "clerks.xlsx"
    xlsx_download.value.save_as(target)
    sheet = load_workbook(target).active
    assert sheet.cell(1, 3).value == "导购" and sheet.cell(2, 3).value == '=HYPERLINK("http://x")'
    assert sheet.cell(2, 3).data_type == "s"

    page.click(f"#open-alerts a[href$='/alerts/{world.ids['geo_alert']}']")
    page.wait_for_url(f"**/admin/alerts/{world.ids['geo_alert']}")
    assert "上海 → 北京" in page.inner_text("#alert-facts")
    page.screenshot(path=str(ARTIFACTS / "alert.png"), full_page=True)
    page.click("#alert-facts a[href*='/admin/codes?code=']")
    page.wait_for_url("**/admin/codes?code=*")
    scans = page.inner_text("#code-scans")
    assert "北京" in scans and "2026-05-05 09:00" in scans and "2026-05-04 12:00" in scans
    page.screenshot(path=str(ARTIFACTS / "code-history.png"), full_page=True)

    for path in ("/admin/campaigns", f"/admin/campaigns/{world.ids['A']}", "/admin/batches", "/admin/audit"):
        page.goto(base + path)
        assert CAMPAIGN_A_NAME in page.content().replace("&lt;", "<").replace("&gt;", ">")
    page.goto(f"{base}/admin/?{PERIOD}&campaign={world.ids['A']}")
    _charts_drawn(page)
    assert problems == [], problems
    context.close()


def test_without_javascript_every_figure_is_a_table(browser, live):
    base, world = live
    context = browser.new_context(
        locale="en-US", viewport={"width": 1280, "height": 800}, java_script_enabled=False
    )
    page = _sign_in(context, base)
    page.goto(f"{base}/admin/?{PERIOD}")
    assert page.locator(".chart").first.is_hidden() and page.locator("details.data[open]").count() == 11
    for section in ("funnel", "daily", "hourly", "heatmap", "provinces", "cities", "stores", "clerks"):
        assert page.locator(f"#{section} table").first.is_visible(), section
    assert "Shanghai" in page.inner_text("#provinces table")
    page.screenshot(path=str(ARTIFACTS / "dashboard-no-js.png"), full_page=True)
    context.close()
