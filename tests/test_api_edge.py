"""The API's edge: ids out of range, wrong methods and unexpected failures get typed answers, never a 500
labelled as the client's fault. Runs on both databases (PostgreSQL's BIGINT is where 2⁶³ used to fail)."""

from __future__ import annotations

import re

import pytest

from server.models import utcnow
from server.services.accounts import create_token, create_user

TOO_BIG = 2**63  # one past the largest BIGINT
HUGE = 10**30


@pytest.fixture
def admin_headers(sessions):
    with sessions.begin() as s:
        admin = create_user(s, username="boss", password="correct-horse", role="admin", now=utcnow())
        return {"Authorization": f"Bearer {create_token(s, user=admin, now=utcnow())[0]}"}


def _api_rules_with_ids(app):
    return [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/") and "<int:" in r.rule]


def _url(rule: str, number: int) -> str:
    """The rule's URL with `number` for every id and a plausible value for anything else."""
    url = re.sub(r"<int:[a-z_]+>", str(number), rule)
    return re.sub(r"<(?:[a-z]+\((?P<first>\w+)[^)]*\):|[a-z_]+:)?[a-z_]+>", lambda m: m["first"] or "x", url)


def test_every_api_route_answers_an_id_out_of_range_with_not_found(app, client, admin_headers):
    rules = _api_rules_with_ids(app)
    assert len(rules) >= 15  # batches, exports, alerts, holds, redemptions, clerks, stores, settlements
    for rule in rules:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for number in (TOO_BIG, HUGE, 0):
                url = _url(rule.rule, number)
                response = client.open(url, method=method, json={}, headers=admin_headers)
                assert response.status_code == 404, (method, url, response.get_json())
                assert response.get_json()["error"]["code"] == "NOT_FOUND", (method, url)


def test_the_largest_id_reaches_the_view_and_is_simply_not_found(client, admin_headers):
    largest = client.get(f"/api/v1/batches/{TOO_BIG - 1}", headers=admin_headers)
    assert largest.status_code == 404 and largest.get_json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/api/v1/batches", {"product_id": TOO_BIG, "campaign_id": 1, "quantity": 10}, "product_id"),
        ("/api/v1/batches", {"product_id": 1, "campaign_id": HUGE, "quantity": 10}, "campaign_id"),
        ("/api/v1/batches", {"product_id": 1, "campaign_id": 1, "quantity": TOO_BIG}, "quantity"),
        ("/api/v1/batches", {"product_id": 0, "campaign_id": 1, "quantity": 10}, "product_id"),
        ("/api/v1/redemptions", {"voucher": "ABCD2345", "store_id": TOO_BIG}, "store_id"),
        ("/api/v1/redemptions", {"voucher": "ABCD2345", "purchase_fen": -HUGE}, "purchase_fen"),
    ],
)
def test_ids_and_numbers_in_a_body_are_range_checked(client, admin_headers, path, body, field):
    en = {**admin_headers, "Accept-Language": "en"}
    response = client.post(path, json=body, headers=en)
    error = response.get_json()["error"]
    assert response.status_code == 400 and error["code"] == "VALIDATION_FAILED", error
    assert error["details"]["field"] == field
    assert error["message"].startswith(f"Invalid input: {field} must be a whole number")
    zh = client.post(path, json=body, headers=admin_headers).get_json()["error"]["message"]
    assert zh.startswith(f"输入有误：{field} 须为") and "整数" in zh


def test_ids_in_a_query_are_range_checked(client, admin_headers):
    response = client.get(f"/api/v1/alerts?store_id={TOO_BIG}", headers=admin_headers)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "VALIDATION_FAILED"


def test_a_wrong_method_is_405_method_not_allowed_with_allow(app, client, admin_headers):
    adapter = app.url_map.bind("localhost")
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        url = _url(rule.rule, 1)
        allowed = set(adapter.allowed_methods(url))
        for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - allowed):
            response = client.open(url, method=method, headers={**admin_headers, "Accept-Language": "en"})
            assert response.status_code == 405, (method, url)
            assert set(response.headers["Allow"].split(", ")) == allowed, (method, url)
            error = response.get_json()["error"]
            assert error["code"] == "METHOD_NOT_ALLOWED" and error["details"]["method"] == method
            assert error["message"] == "This address does not accept that kind of request."
            checked += 1
    assert checked > 50
    page = client.delete("/login")
    assert page.status_code == 405 and "POST" in page.headers["Allow"] and page.mimetype == "text/html"


@pytest.fixture
def failing(app):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the error handler answers

    @app.get("/api/v1/test-failure")
    def _api_failure():
        raise RuntimeError("a bug")

    @app.get("/test-failure")
    def _page_failure():
        raise RuntimeError("a bug")

    return app.test_client()


def test_an_internal_error_is_500_internal_error_in_words(failing):
    zh = failing.get("/api/v1/test-failure")
    en = failing.get("/api/v1/test-failure", headers={"Accept-Language": "en"})
    assert zh.status_code == en.status_code == 500
    assert zh.get_json()["error"] == {
        "code": "INTERNAL_ERROR",
        "message": "服务器出错了，请稍后再试。",
        "details": {},
    }
    assert en.get_json()["error"]["message"] == "Something went wrong on our side; please try again."
    page = failing.get("/test-failure", headers={"Accept-Language": "en"})
    assert page.status_code == 500 and page.mimetype == "text/html"
    assert "Something went wrong on our side" in page.get_data(as_text=True)
