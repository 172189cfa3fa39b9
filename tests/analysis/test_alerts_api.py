"""Admins read, confirm and dismiss alerts through the API; every decision is audit-logged; staff sign-ins
leave the sightings the self-dealing rule compares with."""

from __future__ import annotations

from sqlalchemy import func, select

from server.models import Alert, AuditLog, LedgerHold, StaffSighting, utcnow
from server.services.accounts import create_token, create_user
from tests.analysis.test_alert_rules import at, run
from tests.analysis.world import World


def _admin(sessions) -> dict:
    with sessions.begin() as s:
        admin = create_user(s, username="boss", password="pw-123456789", role="admin", now=utcnow())
        return {"Authorization": f"Bearer {create_token(s, user=admin, now=utcnow())[0]}"}


def _two_alerts(sessions) -> tuple[int, int]:
    with sessions.begin() as s:
        w = World(s)
        w.scan(1, 1, 0, 0, at(0))  # batch 1's ranges have no intended regions
        w.scan(1, 1, 1, 3, at(30))
        w.redeem(w.claim(w.codes[(1, 1)], 0, at(31), clerk=0), 0, at(40))
        w.scan(0, 2, 2, 1, at(0))  # a diversion: no money
    found = run(sessions)
    return found["geo_velocity"][0].id, found["diversion"][0].id


def test_list_filter_and_read_an_alert(client, sessions):
    headers = _admin(sessions)
    velocity, diversion = _two_alerts(sessions)
    listed = client.get("/api/v1/alerts", headers=headers).get_json()["alerts"]  # newest first
    only = client.get("/api/v1/alerts?kind=diversion&status=open", headers=headers).get_json()["alerts"]
    assert [a["id"] for a in only] == [diversion] and only[0]["distributor"] == "D0"
    assert [a["id"] for a in listed] == [diversion, velocity]
    detail = client.get(f"/api/v1/alerts/{velocity}", headers=headers).get_json()
    assert detail["details"]["distance_km"] > 1000 and len(detail["codes"]) == 1
    # the attributed clerk's claim and redemption rewards, the store's payout
    assert detail["money"]["held"] == {"entries": 3, "amount": 100 + 50 + 530}
    assert client.get("/api/v1/alerts/999", headers=headers).status_code == 404
    bad = client.get("/api/v1/alerts?status=maybe", headers=headers)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "VALIDATION_FAILED"
    assert client.get("/api/v1/alerts").status_code == 401


def test_confirm_keeps_the_hold_dismiss_releases_it_both_audited(client, sessions):
    headers = _admin(sessions)
    velocity, diversion = _two_alerts(sessions)
    confirmed = client.post(
        f"/api/v1/alerts/{velocity}/confirm", json={"note": "same pack, two cities"}, headers=headers
    )
    assert confirmed.status_code == 200 and confirmed.get_json()["status"] == "confirmed"
    with sessions() as s:
        open_holds = select(func.count()).select_from(LedgerHold).where(LedgerHold.released_at.is_(None))
        assert s.scalar(open_holds) == 3
    again = client.post(f"/api/v1/alerts/{velocity}/dismiss", headers=headers)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "ALERT_ALREADY_DECIDED"
    voided = client.post(f"/api/v1/alerts/{velocity}/confirm", json={"void": True}, headers=headers)
    assert voided.status_code == 200 and len(voided.get_json()["voided_transactions"]) == 2
    assert client.post(f"/api/v1/alerts/{diversion}/dismiss", headers=headers).status_code == 200
    with sessions() as s:
        assert s.scalar(open_holds) == 0
        assert s.get(Alert, velocity).resolution_note == "same pack, two cities"
        actions = [a.action for a in s.scalars(select(AuditLog).order_by(AuditLog.id))]
        assert actions == ["alert.confirmed", "alert.confirmed", "alert.dismissed"]


def test_a_staff_sign_in_is_sighted(client, sessions):
    with sessions.begin() as s:
        World(s)
        create_user(s, username="till", password="pw-123456789", role="admin", now=utcnow())
    client.set_cookie("cl_d", "device-abc")
    client.application.config["WTF_CSRF_ENABLED"] = False
    response = client.post("/login", data={"username": "till", "password": "pw-123456789"})
    assert response.status_code == 302
    with sessions() as s:
        kinds = sorted((r.kind, r.value == "device-abc") for r in s.scalars(select(StaffSighting)))
    assert kinds == [("device", True), ("net", False)]
