"""Holding, fraud holds, settlement runs, clawbacks, paying once, scoped statements and finance exports."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from server.models import Alert, AuditLog, LedgerHold, Settlement, SettlementItem, utcnow
from server.services import holds, settlements
from tests.conftest import make_config
from tests.store.world import build, counts


@pytest.fixture
def app(database_url, tmp_path):
    from server.app import create_app

    app = create_app(make_config(database_url, tmp_path, hold_days=0))  # entries payable at once
    yield app
    app.extensions["codeloop"].engine.dispose()


@pytest.fixture
def world(sessions):
    return build(sessions, vouchers=4)


def redeem(client, world, i=0, who="clerk0"):
    response = client.post(
        "/api/v1/redemptions", json={"voucher": world.vouchers[i]}, headers=world.auth(who)
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["redemption"]["id"]


def run(client, world, period_end=None):
    body = {"period_end": (period_end or utcnow()).isoformat()}
    return client.post("/api/v1/settlements/run", json=body, headers=world.auth("admin"))


def statements(client, world, who="admin"):
    return client.get("/api/v1/settlements", headers=world.auth(who)).get_json()["settlements"]


def test_run_makes_one_statement_per_store_and_clerk_and_is_idempotent(client, world, sessions):
    redeem(client, world, 0)
    redeem(client, world, 1, who="clerk1")
    first = run(client, world)
    assert first.status_code == 201 and len(first.get_json()["created"]) == 4
    by_payee = {(s["account"]["kind"], s["account"]["ref_id"]): s["total"] for s in statements(client, world)}
    assert by_payee == {
        ("store", world.stores[0]): 600,
        ("store", world.stores[1]): 600,
        ("clerk", world.clerks[0]): 50,
        ("clerk", world.clerks[1]): 50,
    }
    before = counts(sessions)
    again = run(
        client, world, utcnow()
    )  # a later period finds nothing new; the same period makes nothing twice
    assert again.status_code == 200 and again.get_json()["created"] == [] and counts(sessions) == before
    from workers.settlement import run_settlement

    with sessions() as s:
        period = s.scalar(select(Settlement.period_end).limit(1))
    assert run_settlement(period.isoformat()) == [] and counts(sessions) == before


def test_entries_inside_the_holding_period_wait(client, world, sessions, tmp_path, database_url):
    from server.app import create_app

    held_app = create_app(make_config(database_url, tmp_path / "h", hold_days=7))
    held_client = held_app.test_client()
    redeem(held_client, world, 0)
    assert run(held_client, world).get_json()["created"] == []
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Settlement)) == 0
    held_app.extensions["codeloop"].engine.dispose()


def test_reversal_after_settlement_is_clawed_back_next_period(client, world, sessions):
    rid = redeem(client, world, 0)
    run(client, world)
    assert client.post(f"/api/v1/redemptions/{rid}/reverse", headers=world.auth("clerk0")).status_code == 200
    run(client, world)
    store_totals = sorted(s["total"] for s in statements(client, world) if s["account"]["kind"] == "store")
    assert store_totals == [-600, 600]  # paid once, clawed back once: never both, never neither


def test_paid_once_only(client, world, sessions):
    redeem(client, world)
    run(client, world)
    sid = statements(client, world)[0]["id"]
    ok = client.post(
        f"/api/v1/settlements/{sid}/paid", json={"reference": "BANK-1"}, headers=world.auth("admin")
    )
    assert ok.status_code == 200 and ok.get_json()["status"] == "paid"
    before = counts(sessions)
    again = client.post(
        f"/api/v1/settlements/{sid}/paid", json={"reference": "BANK-2"}, headers=world.auth("admin")
    )
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "SETTLEMENT_ALREADY_PAID"
    assert "BANK-1" in again.get_json()["error"]["message"] and counts(sessions) == before
    with sessions() as s:
        assert s.get(Settlement, sid).paid_reference == "BANK-1"
        assert (
            s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "settlement.paid"))
            == 1
        )
    for body, code in [({}, "VALIDATION_FAILED"), ({"reference": " "}, "VALIDATION_FAILED")]:
        r = client.post(f"/api/v1/settlements/{sid}/paid", json=body, headers=world.auth("admin"))
        assert r.get_json()["error"]["code"] == code
    assert (
        client.post(
            "/api/v1/settlements/999/paid", json={"reference": "x"}, headers=world.auth("admin")
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/settlements/{sid}/paid", json={"reference": "x"}, headers=world.auth("owner")
        ).status_code
        == 403
    )


def test_statements_are_scoped(client, world):
    redeem(client, world, 0)
    redeem(client, world, 1, who="clerk1")
    run(client, world)
    assert {(s["account"]["kind"], s["account"]["ref_id"]) for s in statements(client, world, "owner")} == {
        ("store", world.stores[0])
    }
    assert {(s["account"]["kind"], s["account"]["ref_id"]) for s in statements(client, world, "clerk1")} == {
        ("clerk", world.clerks[1])
    }
    assert client.post("/api/v1/settlements/run", json={}, headers=world.auth("owner")).status_code == 403
    assert (
        client.post(
            "/api/v1/settlements/run",
            json={"period_end": (utcnow() + timedelta(days=1)).isoformat()},
            headers=world.auth("admin"),
        ).get_json()["error"]["code"]
        == "VALIDATION_FAILED"
    )


def _alert(sessions, rid):
    with sessions.begin() as s:
        alert = Alert(kind="store_spike", dedupe_key=f"spike:{rid}", store_id=1, created_at=utcnow())
        s.add(alert)
        s.flush()
        assert holds.hold_redemption(s, alert_id=alert.id, redemption_id=rid, now=utcnow()) == 3
        return alert.id


def test_held_entries_wait_for_release(client, world, sessions):
    rid = redeem(client, world, 0)
    alert_id = _alert(sessions, rid)
    assert run(client, world).get_json()["created"] == []
    assert len(client.get("/api/v1/holds", headers=world.auth("admin")).get_json()["holds"]) == 3
    response = client.post(f"/api/v1/holds/{alert_id}/release", headers=world.auth("admin"))
    assert response.status_code == 200 and response.get_json()["holds_closed"] == 3
    assert len(run(client, world).get_json()["created"]) == 2
    with sessions() as s:
        assert s.get(Alert, alert_id).status == "dismissed"  # releasing the holds dismisses the alert
        assert (
            s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "alert.dismissed"))
            == 1
        )
    again = client.post(f"/api/v1/holds/{alert_id}/void", headers=world.auth("admin"))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "ALERT_ALREADY_DECIDED"


def test_voided_entries_are_reversed_and_never_paid(client, world, sessions):
    rid = redeem(client, world, 0)
    alert_id = _alert(sessions, rid)
    response = client.post(f"/api/v1/holds/{alert_id}/void", headers=world.auth("admin"))
    assert response.status_code == 200 and len(response.get_json()["voided_transactions"]) == 1
    run(client, world)
    for st in statements(client, world):
        assert st["total"] == 0 or st["account"]["kind"] not in ("store", "clerk")
    with sessions() as s:
        assert {h.outcome for h in s.scalars(select(LedgerHold))} == {"voided"}
    # the till can still reverse the redemption; the money is not reversed twice
    assert client.post(f"/api/v1/redemptions/{rid}/reverse", headers=world.auth("clerk0")).status_code == 200


def test_csv_and_xlsx_exports(client, world, sessions):
    with sessions.begin() as s:
        from server.models import Store

        s.get(Store, world.stores[0]).name = '=HYPERLINK("http://evil")'
    redeem(client, world, 0)
    run(client, world)
    response = client.get("/api/v1/settlements.csv", headers=world.auth("admin"))
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["statement", "payee_kind", "payee_id", "payee"]
    payees = {r[3] for r in rows[1:]}
    assert '\'=HYPERLINK("http://evil")' in payees and "导购0" in payees
    xlsx = client.get("/api/v1/settlements.xlsx", headers=world.auth("owner"))
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert (
        len(cells) == 2 and cells[1][3] == '=HYPERLINK("http://evil")' and sheet.cell(2, 4).data_type == "s"
    )
    assert settlements.safe_cell("-12.5") == "-12.5" and settlements.safe_cell("@SUM(A1)") == "'@SUM(A1)"


def test_concurrent_style_double_run_never_settles_an_entry_twice(client, world, sessions):
    redeem(client, world, 0)
    now = utcnow()
    with sessions.begin() as s:
        first = settlements.run(s, period_end=now, now=now)
    with sessions.begin() as s:
        second = settlements.run(
            s, period_end=now + timedelta(microseconds=1), now=now + timedelta(seconds=1)
        )
    assert len(first) == 2 and second == []
    with sessions() as s:
        assert (
            s.scalar(select(func.count()).select_from(SettlementItem)) == 3 - 1
        )  # campaign account is not payable


def test_the_settlement_job_closes_a_period_once(app, client, world, sessions):
    from workers.settlement import run_settlement

    redeem(client, world, 0)
    period_end = utcnow().isoformat()
    created = run_settlement(period_end)
    assert len(created) == 2
    before = counts(sessions)
    assert (
        run_settlement(period_end) == [] and counts(sessions) == before
    )  # crash-and-rerun leaves the same state
    assert {s["total"] for s in statements(client, world)} == {600, 50}


def test_admin_payout_page_runs_pays_and_decides_holds(app, client, world, sessions):
    import re

    from tests.store.test_people import login

    rid = redeem(client, world, 0)
    redeem(client, world, 1)
    alert_id = _alert(sessions, rid)
    admin = app.test_client()
    login(admin, "admin0")
    page = admin.get("/admin/settlements").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert 'id="holds"' in page and "store_spike" in page
    assert admin.post("/admin/settlements/run", data={"csrf_token": token}).status_code == 302
    with sessions() as s:
        sid = s.scalar(select(Settlement.id).order_by(Settlement.id).limit(1))
    assert (
        admin.post(
            f"/admin/settlements/{sid}/paid", data={"csrf_token": token, "reference": "BANK-9"}
        ).status_code
        == 302
    )
    twice = admin.post(
        f"/admin/settlements/{sid}/paid",
        data={"csrf_token": token, "reference": "BANK-10"},
        follow_redirects=True,
    )
    assert "BANK-9" in twice.get_data(as_text=True) and "已于" in twice.get_data(as_text=True)
    assert admin.post(f"/admin/holds/{alert_id}/void", data={"csrf_token": token}).status_code == 302
    with sessions() as s:
        assert (
            s.get(Alert, alert_id).status == "confirmed" and s.get(Settlement, sid).paid_reference == "BANK-9"
        )
    csv_export = admin.get("/admin/settlements.csv")
    assert csv_export.data.startswith(b"\xef\xbb\xbf") and b"BANK-9" in csv_export.data


def test_closing_the_period_on_the_page_says_what_happened(database_url, tmp_path):
    """Inside the holding period nothing is payable: the page says so and until when, no blank redirect."""
    import re

    from server.app import create_app
    from tests.store.test_people import login

    app = create_app(make_config(database_url, tmp_path, hold_days=7))
    runtime = app.extensions["codeloop"]
    world = build(runtime.sessions, vouchers=2)
    client = app.test_client()
    admin = app.test_client()
    login(admin, "admin0")
    token = re.search(r'name="csrf_token" value="([^"]+)"', admin.get("/admin/settlements").get_data(True))
    close = {"csrf_token": token.group(1)}
    empty = admin.post("/admin/settlements/run", data=close, follow_redirects=True).get_data(as_text=True)
    assert "未生成结算单：没有需要结算的款项。" in empty
    redeem(client, world, 0)
    held = admin.post(
        "/admin/settlements/run", data=close, follow_redirects=True, headers={"Accept-Language": "en"}
    )
    text = held.get_data(as_text=True)
    assert "No statement: nothing is payable yet. ¥6.50 is still inside the 7-day holding period" in text, (
        text
    )
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Settlement)) == 0
    at_once = create_app(make_config(database_url, tmp_path, hold_days=0))  # a redemption payable at once
    redeem(at_once.test_client(), world, 1)
    at_once.extensions["codeloop"].engine.dispose()
    done = admin.post("/admin/settlements/run", data=close, follow_redirects=True).get_data(as_text=True)
    assert "已生成 2 张结算单。" in done
    runtime.engine.dispose()
