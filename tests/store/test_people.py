"""Stores and clerks: API, promo codes and cards, deactivation that ends access at once, bulk import."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from server.models import ApiToken, AuditLog, Store, User
from tests.store.world import PASSWORD, build


@pytest.fixture
def world(sessions):
    return build(sessions, vouchers=1)


def login(client, username):
    page = client.get("/login")
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data).group(1).decode()
    return client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})


def csrf(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def table_counts(sessions):
    with sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(Store)),
            s.scalar(select(func.count()).select_from(User)),
        )


def test_create_and_list_stores_and_clerks(client, world, app, sessions):
    store = client.post(
        "/api/v1/stores",
        json={
            "name": "三号店",
            "province": "广东省",
            "city": "深圳",
            "address": "南山路 1 号",
            "lat": 22.5,
            "lng": 113.9,
            "owner": "owner0",
        },
        headers=world.auth("admin"),
    )
    assert store.status_code == 201 and store.get_json()["owner_id"] == world.owner
    clerk = client.post(
        "/api/v1/clerks",
        json={
            "username": "new.clerk",
            "password": "long-enough",
            "store_id": store.get_json()["id"],
            "display_name": "小王",
        },
        headers=world.auth("admin"),
    )
    body = clerk.get_json()
    assert clerk.status_code == 201 and body["promo_code"] == app.extensions["codeloop"].ids.encode(
        "promo", body["id"]
    )
    assert app.extensions["codeloop"].ids.decode("promo", body["promo_code"].lower()) == body["id"]
    assert any(
        c["username"] == "new.clerk"
        for c in client.get("/api/v1/clerks", headers=world.auth("admin")).get_json()["clerks"]
    )
    assert len(client.get("/api/v1/stores", headers=world.auth("admin")).get_json()["stores"]) == 3
    before = table_counts(sessions)
    for path, body in [
        ("/api/v1/stores", {"name": ""}),
        ("/api/v1/stores", {"name": "x", "lat": 91}),
        ("/api/v1/stores", {"name": "x", "owner": "clerk0"}),
        ("/api/v1/clerks", {"username": "a b", "password": "long-enough", "store": 1}),
        ("/api/v1/clerks", {"username": "clerk0", "password": "long-enough", "store": 1}),
        ("/api/v1/clerks", {"username": "fine", "password": "short", "store": 1}),
        ("/api/v1/clerks", {"username": "fine", "password": "long-enough", "store": 99}),
    ]:
        response = client.post(path, json=body, headers=world.auth("admin"))
        assert response.get_json()["error"]["code"] == "VALIDATION_FAILED", (path, body)
    assert client.post("/api/v1/stores", json={"name": "x"}, headers=world.auth("owner")).status_code == 403
    assert client.get("/api/v1/clerks", headers=world.auth("clerk0")).status_code == 403
    assert table_counts(sessions) == before


def test_deactivating_a_clerk_ends_sessions_and_tokens_at_once(app, world, sessions):
    till = app.test_client()
    assert login(till, "clerk0").headers["Location"] == "/clerk"
    assert till.get("/clerk").status_code == 200
    api = app.test_client()
    assert api.get("/api/v1/settlements", headers=world.auth("clerk0")).status_code == 200
    admin = app.test_client()
    login(admin, "admin0")
    token = csrf(admin, "/admin/clerks")
    assert (
        admin.post(f"/admin/clerks/{world.clerks[0]}/deactivate", data={"csrf_token": token}).status_code
        == 302
    )
    assert till.get("/clerk").status_code == 302  # back to the login page
    assert api.get("/api/v1/settlements", headers=world.auth("clerk0")).status_code == 401
    assert login(app.test_client(), "clerk0").status_code == 401
    with sessions() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(ApiToken)
                .where(ApiToken.revoked_at.is_(None), ApiToken.user_id == world.clerks[0])
            )
            == 0
        )
        assert (
            s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "user.deactivate"))
            == 1
        )


def test_promo_card_has_an_inline_qr_to_the_promo_url(app, world, sessions):
    admin = app.test_client()
    login(admin, "admin0")
    clerk = admin.post(
        "/api/v1/clerks",
        json={"username": "card.clerk", "password": "long-enough", "store": "一号店"},
        headers=world.auth("admin"),
    ).get_json()
    page = admin.get(f"/admin/clerks/{clerk['id']}/card").get_data(as_text=True)
    assert "<svg" in page and f"HTTPS://Q.EXAMPLE.CN/C/{clerk['promo_code']}" in page and "一号店" in page
    assert admin.get(f"/admin/clerks/{world.owner}/card").status_code == 404


def _csv(text: str, bom=True) -> bytes:
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def _upload(client, world, kind, name, data):
    return client.post(
        f"/api/v1/imports/{kind}",
        data={"file": (io.BytesIO(data), name)},
        headers=world.auth("admin"),
        content_type="multipart/form-data",
    )


def test_import_stores_from_csv_with_bom(client, world, sessions):
    data = _csv(
        "Name,Province,City,Address,lat,lng,owner\n"
        "四号店,浙江省,杭州,西湖路 2 号,30.2,120.1,owner0\n五号店,浙江省,宁波,,,,\n"
    )
    response = _upload(client, world, "stores", "stores.csv", data)
    assert response.status_code == 201 and len(response.get_json()["created"]) == 2
    with sessions() as s:
        store = s.execute(select(Store).where(Store.name == "四号店")).scalar_one()
        assert (store.city, store.lat, store.owner_id) == ("杭州", 30.2, world.owner)


def test_import_clerks_from_xlsx(client, world, sessions, app):
    book = Workbook()
    sheet = book.active
    sheet.append(["username", "password", "store", "display_name"])
    sheet.append(["xl.one", "long-enough-1", "一号店", "一号"])
    sheet.append(["xl.two", "long-enough-2", world.stores[1], "二号"])
    out = io.BytesIO()
    book.save(out)
    response = _upload(client, world, "clerks", "clerks.xlsx", out.getvalue())
    assert response.status_code == 201, response.get_json()
    with sessions() as s:
        two = s.execute(select(User).where(User.username == "xl.two")).scalar_one()
        assert two.store_id == world.stores[1] and two.promo_code == app.extensions["codeloop"].ids.encode(
            "promo", two.id
        )


def test_an_import_with_any_bad_row_imports_nothing_and_reports_every_row(client, world, sessions):
    before = table_counts(sessions)
    data = _csv(
        "username,password,store\ngood.one,long-enough,一号店\nbad one,long-enough,一号店\n"
        "short.pw,123,一号店\ngood.two,long-enough,没有这家店\ngood.one,long-enough,一号店\n",
        bom=False,
    )
    response = _upload(client, world, "clerks", "clerks.csv", data)
    error = response.get_json()["error"]
    assert response.status_code == 400 and error["code"] == "IMPORT_FAILED"
    assert [(e["row"], e["field"]) for e in error["details"]["errors"]] == [
        (3, "username"),
        (4, "password"),
        (5, "store"),
        (6, "username"),
    ]
    assert table_counts(sessions) == before
    for name, data, code in [
        ("x.txt", b"a", "VALIDATION_FAILED"),
        ("x.csv", b"\xff\xfe", "VALIDATION_FAILED"),
        ("x.xlsx", b"not a zip", "VALIDATION_FAILED"),
        ("x.csv", b"name\n", "VALIDATION_FAILED"),
        ("x.csv", _csv("city\n上海\n"), "VALIDATION_FAILED"),
    ]:
        kind = "stores"
        r = _upload(client, world, kind, name, data)
        assert r.get_json()["error"]["code"] == code, (name, r.get_json())
    assert table_counts(sessions) == before


def test_import_page_shows_the_row_report(app, world, sessions):
    admin = app.test_client()
    login(admin, "admin0")
    token = csrf(admin, "/admin/stores")
    bad = admin.post(
        "/admin/stores/import",
        data={"csrf_token": token, "file": (io.BytesIO(_csv("name,lat\nok,1\n,2\nx,200\n")), "s.csv")},
        content_type="multipart/form-data",
    )
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "导入失败" in page and "<td>3</td>" in page and "<td>4</td>" in page
    good = admin.post(
        "/admin/stores/import",
        data={"csrf_token": token, "file": (io.BytesIO(_csv("name\n六号店\n")), "s.csv")},
        content_type="multipart/form-data",
    )
    assert good.status_code == 200 and "已导入 1 行" in good.get_data(as_text=True)


def test_admin_pages_create_store_clerk_and_token(app, world, sessions):
    admin = app.test_client()
    login(admin, "admin0")
    token = csrf(admin, "/admin/stores")
    assert (
        admin.post("/admin/stores", data={"csrf_token": token, "name": "七号店", "city": "北京"}).status_code
        == 302
    )
    assert "七号店" in admin.get("/admin/stores").get_data(as_text=True)
    assert (
        admin.post(
            "/admin/clerks",
            data={
                "csrf_token": token,
                "username": "page.clerk",
                "password": "long-enough",
                "store": str(world.stores[0]),
            },
        ).status_code
        == 302
    )
    assert "page.clerk" in admin.get("/admin/clerks").get_data(as_text=True)
    issued = admin.post(f"/admin/stores/{world.stores[1]}/token", data={"csrf_token": token}).get_data(
        as_text=True
    )
    plain = re.search(r'<code id="token">([^<]+)</code>', issued).group(1)
    listed = app.test_client().get("/api/v1/redemptions", headers={"Authorization": f"Bearer {plain}"})
    assert listed.status_code == 200
    assert app.test_client().get("/admin/stores").status_code == 302
    clerk = app.test_client()
    login(clerk, "clerk0")
    assert clerk.get("/admin/stores").status_code == 403


def test_admins_are_not_deactivated_by_the_clerk_route(client, world, sessions):
    response = client.post(f"/api/v1/clerks/{world.admin}/deactivate", headers=world.auth("admin"))
    assert response.status_code == 404
    with sessions() as s:
        admin = s.get(User, world.admin)
        assert admin.active and admin.session_version == 1
