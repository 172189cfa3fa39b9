"""Scan pages: verdict wording, outcomes and statuses, Code rows only for genuine codes,
GS1 form, enrichment."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from server.models import BatchRange, Code, Scan, Voucher
from server.services.scans import sanitize_raw
from tests.conftest import make_config
from tests.consumer.conftest import build_world, csrf_of

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


def count(world, model, *where):
    with world.session() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_first_and_repeat_scan_wording(client, world):
    code = world.code(7)
    first = client.get(f"/S/{code}", headers=ZH)
    assert first.status_code == 200
    page = first.get_data(as_text=True)
    assert "正品，首次查询" in page and "领取优惠券" in page and 'method="post"' in page
    again = client.get(f"/s/{code.lower()}", headers=ZH).get_data(
        as_text=True
    )  # case-insensitive path and code
    assert "该码已被查询 2 次，首次查询于" in again and "如非本人查询，谨防假冒" in again
    en = client.get(f"/S/{code}", headers=EN).get_data(as_text=True)
    assert "This code has been checked 3 times, first on" in en and "beware of counterfeits" in en
    with world.session() as s:
        row = s.execute(select(Code)).scalar_one()
        shown = row.first_scan_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
        assert f"首次查询于 {shown}" in again and f"first on {shown}" in en  # the deployment's time zone
        assert "¥5" in page and "¥5.00" not in page  # the campaign's 500 fen
        assert row.scan_count == 3 and (row.batch_id, row.serial, row.kind) == (world.batch_id, 7, 0)
        scans = s.execute(select(Scan).order_by(Scan.id)).scalars().all()
        assert [sc.outcome for sc in scans] == ["ok"] * 3 and all(sc.code_id == row.id for sc in scans)
        assert scans[0].consumer_id == scans[2].consumer_id is not None  # the cookie identifies the consumer
        assert all(sc.geo_status in ("done", "unknown") for sc in scans)  # inline job ran after commit


def test_security_headers_and_cookies(client, world):
    r = client.get(f"/S/{world.code(1)}")
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    cookies = r.headers.getlist("Set-Cookie")
    assert any(c.startswith("cl_c=") and "HttpOnly" in c for c in cookies)


def test_scan_page_does_not_load_a_staff_user(app, client, world):
    from flask import template_rendered

    seen = []

    def record(sender, template, context, **extra):
        seen.append(context)

    with template_rendered.connected_to(record, app):
        assert client.get(f"/S/{world.code(1)}").status_code == 200
    # Flask-Login's context processor would look the staff user up (and hash the client for session
    # protection) on every page; no template reads current_user
    assert seen and all("current_user" not in context for context in seen)


@pytest.mark.parametrize(
    "outcome,status,wording",
    [
        ("invalid", 404, "这不是有效的防伪码"),
        ("inactive", 409, "该码尚未激活"),
        ("blacklisted", 410, "该码已被停用"),
    ],
)
def test_bad_codes_get_their_page_status_and_a_scan_row_but_no_code_row(
    app, client, outcome, status, wording
):
    """A genuine tag whose code cannot be used. (A forged tag records nothing: test_forged_scans.py.)"""
    world = build_world(app, quantity=100, activate=outcome != "inactive")
    code = world.code(3)
    if outcome == "invalid":
        code = world.codec.encode(world.batch_id + 50, 3)  # its tag verifies, its batch does not exist
    if outcome == "blacklisted":
        with world.session() as s:
            s.add(
                BatchRange(
                    batch_id=world.batch_id,
                    kind="blacklist",
                    first_serial=0,
                    last_serial=10,
                    reason="lost roll",
                )
            )
            s.commit()
    r = client.get(f"/S/{code}", headers=ZH)
    assert r.status_code == status and wording in r.get_data(as_text=True)
    assert "领取" not in r.get_data(as_text=True)
    assert count(world, Code) == 0
    with world.session() as s:
        scan = s.execute(select(Scan)).scalar_one()
        assert scan.outcome == outcome and scan.code_id is None and scan.raw_code == code


def test_raw_code_is_truncated_and_control_characters_escaped(client, world):
    raw = sanitize_raw("AB\x01\x1bCD" + "X" * 200)
    assert raw.startswith("AB\\x01\\x1bCD") and len(raw) <= 64 and "\x01" not in raw
    r = client.get("/S/AB%01%1bCD" + "X" * 200)  # malformed: a forgery, nothing is stored
    assert r.status_code == 404 and count(world, Scan) == 0


def test_gs1_digital_link(app, client):
    world = build_world(app, gtin="06901234567892")
    code = world.code(4)
    assert client.get(f"/01/06901234567892/21/{code}", headers=ZH).status_code == 200
    assert client.get(f"/01/06901234567891/21/{code}").status_code == 404  # bad check digit
    assert client.get(f"/01/00012345600012/21/{code}").status_code == 404  # valid GTIN of another product
    with world.session() as s:
        assert [o for (o,) in s.execute(select(Scan.outcome).order_by(Scan.id))] == [
            "ok",
            "invalid",
            "invalid",
        ]
        assert s.execute(select(Code.scan_count)).scalar_one() == 1


def test_get_and_head_never_claim(client, world):
    code = world.code(9)
    client.head(f"/S/{code}")
    client.get(f"/S/{code}")
    client.get(f"/S/{code}/claim")
    assert count(world, Voucher) == 0


def test_paired_batch_outer_code_is_authenticity_only(app, client):
    world = build_world(app, paired=True)
    outer, inner = world.code(2, 0), world.code(2, 1)
    page = client.get(f"/S/{outer}", headers=ZH).get_data(as_text=True)
    assert "正品，首次查询" in page and 'method="post"' not in page and "盖内" in page
    token = csrf_of(client.get(f"/S/{inner}").get_data(as_text=True))
    refused = client.post(f"/S/{outer}/claim", data={"csrf_token": token}, headers=ZH)
    assert refused.status_code == 409 and "外包装" in refused.get_data(as_text=True)
    assert client.post(f"/S/{inner}/claim", data={"csrf_token": token}).status_code == 303
    assert count(world, Voucher) == 1


def test_geo_enrichment_fills_place_and_is_idempotent(database_url, tmp_path):
    from server.app import create_app
    from workers.geo import enrich_scan

    app = create_app(make_config(database_url, tmp_path, trusted_proxies=1))
    world = build_world(app)
    client = app.test_client()
    client.get(f"/S/{world.code(11)}", headers={"X-Forwarded-For": "114.114.114.114"})
    with world.session() as s:
        scan = s.execute(select(Scan)).scalar_one()
        assert scan.ip == "114.114.114.114" and scan.geo_status == "done" and scan.country
        assert scan.local_hour is not None and 1 <= scan.weekday <= 7
        first = (scan.country, scan.province, scan.city, scan.accuracy_km)
        code = s.execute(select(Code)).scalar_one()
        assert code.first_city == scan.city
    assert enrich_scan(scan.id) == "done"  # twice: same state
    with world.session() as s:
        again = s.get(Scan, scan.id)
        assert (again.country, again.province, again.city, again.accuracy_km) == first
    client.get(f"/S/{world.code(11)}")  # no forwarded address: 127.0.0.1, no place
    with world.session() as s:
        assert s.execute(select(Scan.geo_status).order_by(Scan.id.desc())).scalars().first() == "unknown"


def test_scan_time_and_first_scan_shown_in_deployment_timezone(client, world):
    code = world.code(12)
    client.get(f"/S/{code}")
    with world.session() as s:
        first = s.execute(select(Code.first_scan_at)).scalar_one()
    local = (first + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")  # Asia/Shanghai is UTC+8
    assert local in client.get(f"/S/{code}", headers=ZH).get_data(as_text=True)


def test_batch_state_cache_expires_and_never_decides_a_claim(app, client):
    from server.consumer_web import batch_cache

    world = build_world(app)
    code = world.code(20)
    with app.app_context():
        batch_cache().ttl = 0  # every entry is stale at once: the next scan reads the batch again
    assert client.get(f"/S/{code}").status_code == 200
    with world.session() as s:
        s.add(
            BatchRange(
                batch_id=world.batch_id, kind="blacklist", first_serial=20, last_serial=20, reason="leak"
            )
        )
        s.commit()
    assert client.get(f"/S/{code}").status_code == 410
    csrf = csrf_of(client.get(f"/S/{world.code(21)}").get_data(as_text=True))
    with app.app_context():
        cache = batch_cache()
    cache.ttl = 3600  # a stale cache never lets a withdrawn code claim: claims always read the database
    with world.session() as s:
        s.add(
            BatchRange(
                batch_id=world.batch_id, kind="blacklist", first_serial=21, last_serial=21, reason="leak"
            )
        )
        s.commit()
    assert client.post(f"/S/{world.code(21)}/claim", data={"csrf_token": csrf}).status_code == 410
