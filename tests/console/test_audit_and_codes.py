"""The audit log page (filters, paging, exports) and the code lookup page (a pack's whole story)."""

from __future__ import annotations

import csv as csv_module
import io
import json
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook

from server.models import Alert, AuditLog, Code, Redemption, Scan, utcnow
from tests.console.conftest import sign_in
from tests.consumer.conftest import build_world
from tests.factories import make_consumer, make_store, make_voucher


def _log(sessions, actor_id):
    with sessions.begin() as s:
        for i, (kind, day) in enumerate([("campaign", 1), ("store", 2), ("campaign", 3), ("batch", 3)]):
            s.add(
                AuditLog(
                    at=datetime(2026, 5, day, 4, 0, tzinfo=UTC),
                    actor_id=actor_id if i != 3 else None,
                    action=f"{kind}.change",
                    object_type=kind,
                    object_id=i + 1,
                    details={"n": i, "name": '=HYPERLINK("http://x")'},
                )
            )


def test_the_audit_log_filters_by_actor_object_and_date(admin, admin_id, sessions):
    _log(sessions, admin_id)

    def ids(query):
        html = admin.get("/admin/audit" + query).get_data(as_text=True)
        return [a for a in ("campaign.change", "store.change", "batch.change") if a in html], html

    assert ids("?object_type=campaign")[0] == ["campaign.change"]
    found, html = ids("?object_type=campaign&object_id=3")
    assert "campaign #3" in html and "campaign #1" not in html
    assert ids(f"?actor={admin_id}")[0] == ["campaign.change", "store.change"]
    found, html = ids("?from=2026-05-02&to=2026-05-02")
    assert found == ["store.change"]
    assert "2026-05-02 12:00" in html  # shown in the deployment's time zone
    bad = admin.get("/admin/audit?from=May&object_id=x", headers={"Accept-Language": "en"})
    assert bad.status_code == 200 and "not understood: from, object_id" in bad.get_data(as_text=True)


def test_the_audit_log_pages_and_exports(admin, admin_id, sessions):
    with sessions.begin() as s:
        s.add_all(AuditLog(actor_id=admin_id, action="x.y", object_type="x", object_id=i) for i in range(130))
    first = admin.get("/admin/audit").get_data(as_text=True)
    assert first.count("<code>x.y</code>") == 100 and "before=" in first
    csv = admin.get("/admin/audit.csv?object_type=x")
    assert csv.headers["Content-Type"] == "text/csv; charset=utf-8" and csv.data.count(b"\r\n") == 131
    _log(sessions, admin_id)
    rows = list(
        csv_module.reader(
            io.StringIO(admin.get("/admin/audit.csv?object_type=store").data.decode("utf-8-sig"))
        )
    )
    assert rows[1][3] == "store.change" and json.loads(rows[1][6])["name"] == '=HYPERLINK("http://x")'
    book = load_workbook(io.BytesIO(admin.get("/admin/audit.xlsx?object_type=store").data))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][:4] == ("id", "at", "actor", "action") and rows[1][3] == "store.change"


def test_code_lookup_shows_the_pack_its_scans_voucher_redemption_and_alerts(app, sessions):
    world = build_world(app, name="<script>alert(1)</script>")
    with sessions.begin() as s:
        code = Code(batch_id=world.batch_id, serial=7, kind=0, scan_count=2)
        s.add(code)
        s.flush()
        for minutes, city in ((0, "上海"), (5, "南京")):
            s.add(
                Scan(
                    code_id=code.id,
                    batch_id=world.batch_id,
                    serial=7,
                    raw_code="x",
                    outcome="ok",
                    scanned_at=datetime(2026, 5, 1, 2, minutes, tzinfo=UTC),
                    geo_status="done",
                    country="中国",
                    province="上海市" if city == "上海" else "江苏省",
                    city=city,
                    accuracy_km=20,
                    lat=31.2,
                    lng=121.4,
                )
            )
        consumer = make_consumer(s)
        from server.models import Campaign

        voucher = make_voucher(
            s,
            campaign=s.get(Campaign, world.campaign_id),
            consumer=consumer,
            code=code,
            voucher_code="VXH7ABCD",
        )
        store = make_store(s, name="徐汇店")
        voucher.status = "redeemed"
        s.add(Redemption(voucher_id=voucher.id, store_id=store.id, redeemed_at=utcnow() - timedelta(hours=1)))
        s.add(Alert(kind="geo_velocity", dedupe_key="gv:7", code_id=code.id, severity="critical"))
    admin = sign_in(app, sessions)
    for text in (world.code(7), world.code(7).lower(), "vxh7-abcd"):
        html = admin.get("/admin/codes", query_string={"code": text}).get_data(as_text=True)
        assert world.code(7) in html and "VXH7ABCD" in html and "徐汇店" in html
        assert "2026-05-01 10:00" in html and "2026-05-01 10:05" in html and "南京" in html
        assert "geo_velocity" in html and "31.20, 121.40" in html
        assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    forged = admin.get("/admin/codes?code=ABCDEFGHJKMNPQRSTVWX", headers={"Accept-Language": "en"})
    assert "not a valid code" in forged.get_data(as_text=True)
