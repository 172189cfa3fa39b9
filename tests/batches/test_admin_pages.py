"""The admin batch pages: sign in, create a batch, activate and blacklist ranges, see refusals."""

import re

from sqlalchemy import func, select

from server.models import BatchRange, utcnow
from server.services.accounts import create_user


def _token(client, path):
    return re.search(
        r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', client.get(path).get_data(as_text=True)
    ).group(1)


def _signed_in(app, sessions, role="admin"):
    with sessions.begin() as s:
        create_user(s, username="manager", password="manager-password", role=role, now=utcnow())
    client = app.test_client()
    client.post(
        "/login",
        data={"username": "manager", "password": "manager-password", "csrf_token": _token(client, "/login")},
    )
    return client


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/admin/batches")
    assert response.status_code == 302 and response.headers["Location"].startswith(
        "/login?next=/admin/batches"
    )


def test_owner_cannot_open_admin_pages(app, sessions):
    assert _signed_in(app, sessions, role="owner").get("/admin/batches").status_code == 403


def test_create_batch_and_ranges_from_the_page(app, sessions, catalogue):
    client = _signed_in(app, sessions)
    page = client.get("/admin/batches", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "新建批次" in page and "Spring water" in page
    created = client.post(
        "/admin/batches",
        data={
            "product_id": catalogue["product"],
            "campaign_id": catalogue["campaign"],
            "quantity": "20,000",
            "csrf_token": _token(client, "/admin/batches"),
        },
    )
    assert created.status_code == 302
    detail_url = created.headers["Location"]
    form = {
        "kind": "activate",
        "first_serial": "0",
        "last_serial": "9999",
        "distributor": "华东",
        "regions": "上海市，江苏省",
        "csrf_token": _token(client, detail_url),
    }
    assert client.post(f"{detail_url}/ranges", data=form).status_code == 302
    refused = client.post(
        f"{detail_url}/ranges", data={**form, "first_serial": "5000"}, follow_redirects=True
    )
    assert "序号 5000-9999 与已有号段 0-9999 重叠" in refused.get_data(as_text=True)
    detail = client.get(detail_url, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "20,000 codes" in detail and "上海市, 江苏省" in detail and "10,000" in detail
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(BatchRange)) == 1


def test_bad_quantity_on_the_page_is_explained(app, sessions, catalogue):
    client = _signed_in(app, sessions)
    response = client.post(
        "/admin/batches",
        data={
            "product_id": catalogue["product"],
            "campaign_id": catalogue["campaign"],
            "quantity": "999999999",
            "csrf_token": _token(client, "/admin/batches"),
        },
        follow_redirects=True,
        headers={"Accept-Language": "en"},
    )
    assert (
        response.status_code == 200
        and "quantity must be a whole number from 1 to 100,000,000" in response.get_data(as_text=True)
    )
