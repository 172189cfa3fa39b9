"""Hostile input on every consumer route gets a clear page or a typed JSON error, never a 500."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from server.errors import CATALOGUE
from server.models import Code, Voucher
from tests.conftest import make_config
from tests.consumer.conftest import build_world, csrf_of

NASTY = [
    "A" * 10_000,  # 10 KB code
    "\x00\x01\x1b[31m\x7f",  # control characters
    "<script>alert(1)</script>",  # HTML
    "'; DROP TABLE scans; --",  # SQL
    "%2541%2542",  # double percent-encoding
    "%%%",
    "２０００１０００００８ＳＢＸＥ５０ＶＸＫ",  # full-width
    "ΑΒϹ1234567890АВС",  # Greek/Cyrillic confusables
    "\u202e\u200bRTL\ufeff",  # bidi and zero-width
    "😀" * 30,
    "..",
    " ",
]
PAGES = [
    "/S/{x}",
    "/s/{x}",
    "/01/{x}/21/{x}",
    "/01/06901234567892/21/{x}",
    "/v/{x}",
    "/r/{x}",
    "/c/{x}",
    "/api/v1/scan/{x}",
    "/api/v1/vouchers/{x}",
]
POSTS = [
    "/S/{x}/claim",
    "/r/{x}/claim",
    "/api/v1/scan/{x}/claim",
    "/api/v1/referrals/{x}/claim",
    "/api/v1/promo/{x}/attach",
]


@pytest.fixture
def loose_app(database_url, tmp_path):
    from server.app import create_app

    app = create_app(
        make_config(
            database_url, tmp_path, rate_limit_scan="1000000/minute", rate_limit_claim="1000000/minute"
        )
    )
    yield app
    app.extensions["codeloop"].engine.dispose()


def assert_clear(response, route: str):
    assert response.status_code < 500, (route, response.status_code)
    if route.startswith("/api/") and response.status_code >= 400:
        body = response.get_json()
        assert body["error"]["code"] in CATALOGUE and body["error"]["message"]
    elif response.status_code >= 400:
        html = response.get_data(as_text=True)
        assert "<script>alert" not in html and "<h1" in html


@pytest.mark.parametrize("value", NASTY, ids=range(len(NASTY)))
def test_nasty_input_never_500s_on_any_route(loose_app, value):
    client = loose_app.test_client()
    build_world(loose_app, quantity=10)
    token = csrf_of(
        client.get("/S/" + loose_app.extensions["codeloop"].codec.encode(1, 1)).get_data(as_text=True)
    )
    headers = {"X-Consumer-Token": "garbage<>'\"", "Accept-Language": "en"}
    for route in PAGES + POSTS:
        path = route.format(x=quote(value, safe=""))
        if route in POSTS:
            r = client.post(path, data={"csrf_token": token}, headers=headers)
        else:
            r = client.get(path, headers=headers)
        assert_clear(r, route)


def test_full_width_and_lowercase_forms_of_a_real_code_are_the_same_pack(loose_app):
    world = build_world(loose_app)
    code = world.code(8)
    wide = "".join(chr(ord(c) + 0xFEE0) for c in code)
    client = loose_app.test_client()
    for form in (code, code.lower(), wide, "-".join([code[:5], code[5:10], code[10:]])):
        assert client.get("/S/" + quote(form, safe="")).status_code == 200, form
    with world.session() as s:
        assert s.execute(select(Code.scan_count)).scalar_one() == 4


def test_claim_without_csrf_and_replayed_claim(loose_app):
    world = build_world(loose_app)
    client = loose_app.test_client()
    page = client.get(f"/S/{world.code(1)}").get_data(as_text=True)
    no_csrf = client.post(f"/S/{world.code(1)}/claim")
    assert no_csrf.status_code == 400
    bad_csrf = client.post(f"/S/{world.code(1)}/claim", data={"csrf_token": "forged"})
    assert bad_csrf.status_code == 400
    token = csrf_of(page)
    first = client.post(f"/S/{world.code(1)}/claim", data={"csrf_token": token})
    replay = client.post(f"/S/{world.code(1)}/claim", data={"csrf_token": token})
    assert (
        first.status_code == replay.status_code == 303
        and first.headers["Location"] == replay.headers["Location"]
    )
    stranger = loose_app.test_client()
    stolen = stranger.post(
        f"/S/{world.code(1)}/claim", data={"csrf_token": token}
    )  # token without its session
    assert stolen.status_code == 400
    with world.session() as s:
        assert s.execute(select(func.count()).select_from(Voucher)).scalar_one() == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=80))
def test_any_code_text_gets_a_typed_answer(loose_app, text):
    client = loose_app.test_client()
    path = quote(text, safe="")
    page = client.get(f"/S/{path}")
    assert page.status_code in (200, 308, 404, 405, 409, 410), page.status_code  # 308: werkzeug merges "//"
    api = client.get(f"/api/v1/scan/{path}")
    assert api.status_code in (200, 308, 404, 405, 409, 410)
    if api.status_code >= 400 and api.is_json:
        assert api.get_json()["error"]["code"] in CATALOGUE
