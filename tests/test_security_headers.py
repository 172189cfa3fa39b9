"""Every response of the app carries the security headers of server/headers.py: every route in the URL map,
each as the role that uses it (anonymous, consumer, clerk, owner, admin, bearer token), the generic 404,
405 and 500 answers, and HSTS exactly when the request is HTTPS (directly or behind a trusted proxy)."""

from __future__ import annotations

import re

import pytest

from server.models import User
from tests.conftest import make_config
from tests.consumer.conftest import build_world
from tests.store.world import PASSWORD, build

HTTPS = "https://q.example.cn"
ALWAYS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
HSTS = "max-age=63072000"
PROMO = "P7K2M9"


def assert_secure(response, what, *, https: bool = True) -> None:
    headers = response.headers
    policy = headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in policy and "default-src" in policy, (what, policy)
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, (what, policy)
    for name, value in ALWAYS.items():
        assert headers.get(name) == value, (what, name, headers.get(name))
    assert headers.get("Strict-Transport-Security") == (HSTS if https else None), what


@pytest.fixture
def app(database_url, tmp_path):
    from server.app import create_app

    app = create_app(
        make_config(database_url, tmp_path, rate_limit_scan="100000/minute", rate_limit_claim="100000/minute")
    )
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: a bug is answered by the error handler

    @app.get("/test-failure")
    def _failure():
        raise RuntimeError("a bug")

    yield app
    app.extensions["codeloop"].engine.dispose()


@pytest.fixture
def world(app, sessions):
    consumer, store = build_world(app, quantity=20), build(sessions, vouchers=2)
    with sessions.begin() as s:  # a clerk with a promo code, for the promo page
        s.get(User, store.clerks[0]).promo_code = PROMO
    return consumer, store


def signed_in(app, username: str):
    client = app.test_client()
    page = client.get("/login", base_url=HTTPS).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    answer = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        base_url=HTTPS,
        headers={"Referer": HTTPS + "/login"},  # Flask-WTF checks it over HTTPS
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def plausible_url(rule, consumer, store) -> str:
    """The rule's URL with real values: ids of rows that exist, a genuine code, a voucher, an any() choice."""
    values = {
        "code": consumer.code(1),
        "gtin": "06901234567892",
        "voucher": store.vouchers[1],
        "promo": PROMO,
    }

    def fill(match: re.Match) -> str:
        converter, name = match["converter"] or "", match["name"]
        if converter.startswith("any("):
            return converter[4:].split(",")[0].strip()
        if converter == "int":
            return "1"
        return values.get(name, "x")

    return re.sub(r"<(?:(?P<converter>[^:>]+):)?(?P<name>\w+)>", fill, rule.rule)


def test_every_route_and_error_carries_the_security_headers(app, world):
    consumer, store = world
    bearer = {"Authorization": f"Bearer {store.tokens['admin']}"}
    clients = {
        "admin": signed_in(app, "admin0"),
        "clerk": signed_in(app, "clerk0"),
        "owner": signed_in(app, "owner0"),
        "anonymous": app.test_client(),
    }
    # the API last: POST /api/v1/clerks/1/deactivate ends clerk0's session
    rules = sorted(app.url_map.iter_rules(), key=lambda r: r.rule.startswith("/api/"))
    checked, rules = set(), [r for r in rules if r.endpoint != "_failure"]
    for rule in rules:
        who = next((r for r in ("admin", "clerk", "owner") if rule.rule.startswith("/" + r)), "anonymous")
        url = plausible_url(rule, consumer, store)
        headers = bearer if rule.rule.startswith("/api/") and "vouchers" not in rule.rule else {}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = clients[who].open(url, method=method, headers=headers, base_url=HTTPS)
            assert response.status_code < 500, (method, url, response.status_code)
            assert_secure(response, (method, url, response.status_code))
            checked.add((rule.endpoint, response.status_code // 100))
    endpoints = {e for e, _ in checked}
    assert endpoints == {r.endpoint for r in rules} and len(endpoints) >= 90
    # the pages themselves were seen, not only refusals
    for page in (
        "auth.login",
        "store.till",
        "store.owner",
        "dashboard.home",
        "consumer.scan",
        "consumer.promo",
        "admin_people.clerk_card",
    ):
        assert (page, 2) in checked, page
    anonymous = clients["anonymous"]
    for method, url, status in (
        ("GET", "/no/such/page", 404),
        ("GET", "/api/v1/no/such/thing", 404),
        ("DELETE", "/login", 405),
        ("DELETE", "/api/v1/redemptions", 405),
        ("GET", "/test-failure", 500),
    ):
        response = anonymous.open(url, method=method, base_url=HTTPS)
        assert response.status_code == status
        assert_secure(response, (method, url))


def test_hsts_only_over_https_and_behind_a_trusted_proxy(app, database_url, tmp_path):
    from server.app import create_app

    client = app.test_client()
    assert_secure(client.get("/login"), "http", https=False)
    assert_secure(client.get("/login", base_url=HTTPS), "https")
    # the proxy said https, but no proxy is trusted: plain HTTP
    forwarded = {"X-Forwarded-Proto": "https"}
    assert_secure(client.get("/login", headers=forwarded), "untrusted proxy", https=False)
    behind = create_app(make_config(database_url, tmp_path, trusted_proxies=1)).test_client()
    assert_secure(behind.get("/login", headers=forwarded), "trusted proxy")


def test_consumer_pages_run_no_script_and_the_api_loads_nothing(app, world):
    consumer, _ = world
    client = app.test_client()
    scan = client.get(f"/S/{consumer.code(2)}")
    assert "script-src 'none'" in scan.headers["Content-Security-Policy"]
    assert scan.headers["Cache-Control"] == "no-store"
    till = client.get("/login")
    assert "script-src 'self'" in till.headers["Content-Security-Policy"]
    api = client.get("/api/v1/openapi.json")
    assert api.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
