"""The alert pages: the list by status and rule, one alert with its evidence and money, confirm (voiding the
held money) and dismiss (releasing it) from the page, audit-logged; the jobs page."""

from __future__ import annotations

from sqlalchemy import select

from server.models import Alert, AuditLog, LedgerEntry, LedgerHold, LedgerTransaction, Voucher
from server.services import ledger
from tests.console.conftest import csrf, sign_in
from tests.console.world import D2, PASSWORD, at, build


def _boss(app, world):
    client = app.test_client()
    client.post(
        "/login", data={"username": "boss", "password": PASSWORD, "csrf_token": csrf(client, "/login")}
    )
    return client


def test_alert_list_and_evidence(app):
    world = build(app)
    admin = _boss(app, world)
    listing = admin.get("/admin/alerts", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Same code far apart too fast" in listing and "Diversion (outside intended region)" in listing
    only = admin.get("/admin/alerts?kind=diversion").get_data(as_text=True)
    assert (
        f"/admin/alerts/{world.ids['diversion_alert']}" in only
        and f'/admin/alerts/{world.ids["geo_alert"]}"' not in only
    )
    assert "No alerts" in admin.get(
        "/admin/alerts?status=dismissed", headers={"Accept-Language": "en"}
    ).get_data(as_text=True)
    page = admin.get(f"/admin/alerts/{world.ids['geo_alert']}", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    assert "上海 → 北京 in 21 h" in page and "1068" in page  # the evidence
    code = app.extensions["codeloop"].codec.encode(world.ids["b1"], 3)
    assert f"/admin/codes?code={code}" in page  # the code it names, linked to its history


def test_confirm_with_void_and_dismiss_from_the_page(app, sessions):
    world = build(app)
    with sessions.begin() as s:  # the geo alert holds K2's claim reward; the diversion one holds nothing
        v3 = s.scalar(select(Voucher.id).where(Voucher.code == world.vouchers["V3"]))
        entry = s.scalar(
            select(LedgerEntry.id)
            .join(LedgerTransaction)
            .where(LedgerTransaction.key == f"claim:{v3}", LedgerEntry.amount > 0)
        )
        ledger.hold(s, entry_ids=[entry], alert_id=world.ids["geo_alert"], now=at(D2, "10:00"))
    admin = _boss(app, world)
    url = f"/admin/alerts/{world.ids['geo_alert']}"
    assert "50" in admin.get(url).get_data(as_text=True)
    token = csrf(admin, url)
    assert (
        admin.post(
            f"{url}/confirm", data={"csrf_token": token, "note": "copied code", "void": "on"}
        ).status_code
        == 302
    )
    again = admin.post(
        f"{url}/dismiss", data={"csrf_token": token}, headers={"Accept-Language": "en"}, follow_redirects=True
    )
    assert "already been decided" in again.get_data(as_text=True)
    other = f"/admin/alerts/{world.ids['diversion_alert']}"
    assert (
        admin.post(f"{other}/dismiss", data={"csrf_token": token, "note": "a known shop"}).status_code == 302
    )
    with sessions() as s:
        statuses = dict(s.execute(select(Alert.id, Alert.status)).all())
        assert statuses == {world.ids["geo_alert"]: "confirmed", world.ids["diversion_alert"]: "dismissed"}
        assert s.scalar(select(LedgerHold.outcome).where(LedgerHold.entry_id == entry)) == "voided"
        log = s.execute(
            select(AuditLog.action, AuditLog.actor_id).where(AuditLog.object_type == "alert")
        ).all()
    assert sorted(log) == [("alert.confirmed", world.ids["admin"]), ("alert.dismissed", world.ids["admin"])]
    page = admin.get(url, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "copied code" in page and "voided" in page and 'action="/admin/alerts/1/dismiss"' not in page


def test_jobs_page_lists_every_kind(app, sessions):
    admin = sign_in(app, sessions)
    page = admin.get("/admin/jobs").get_data(as_text=True)
    assert "enrich" in page and "export" in page and 'id="job-kinds"' in page
