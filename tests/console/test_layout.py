"""Every console page: one navigation, the console's CSP and nothing a strict CSP would block; the issue-16
defects of the store pages (owner names, POS accounts as owners, local batch times, the CSV content type)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from server.models import Batch, User
from server.services import people
from server.services.accounts import create_user
from server.services.people import pos_token
from tests.console.conftest import csrf
from tests.factories import make_batch, make_store

PAGES = [
    "/admin/",
    "/admin/campaigns",
    "/admin/products",
    "/admin/batches",
    "/admin/stores",
    "/admin/clerks",
    "/admin/settlements",
    "/admin/audit",
    "/admin/codes",
    "/admin/alerts",
    "/admin/jobs",
]
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)


@pytest.mark.parametrize("path", PAGES)
def test_console_pages_have_one_navigation_and_a_strict_csp(admin, path):
    response = admin.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert html.count('class="console-nav"') == 1
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]
    assert " style=" not in html and "<style" not in html
    assert not INLINE_HANDLER.search(html) and not INLINE_SCRIPT.search(html)


def test_admin_opens_the_dashboard(admin):
    html = admin.get("/admin/").get_data(as_text=True)
    assert 'aria-current="page">概览' in html or 'aria-current="page">Dashboard' in html


def test_stores_show_owner_names_and_no_pos_account_is_an_owner(admin, sessions):
    with sessions.begin() as s:
        owner = create_user(
            s, username="owner.li", password="x" * 10, role="owner", now=_now(), display_name="李店长"
        )
        store = make_store(s, name="静安店")
        store.owner_id = owner.id
        pos_token(s, store_id=store.id, now=_now())
    html = admin.get("/admin/stores").get_data(as_text=True)
    row = re.search(r"<tr><td>\d+</td><td>静安店</td>.*?</tr>", html, re.S).group(0)
    assert "李店长" in row and f"<td>{owner.id}</td>" not in row
    assert 'value="owner.li"' in html and "pos.store" not in html
    with sessions() as s:
        pos = s.scalar(select(User).where(User.username.startswith("pos.store")))
        assert [u.username for u in people.owners(s)] == ["owner.li"]
        with pytest.raises(Exception, match="VALIDATION_FAILED"):
            people.create_store(s, values={"name": "x", "owner": pos.username}, now=_now())


def test_batch_times_are_local(admin, sessions):
    with sessions.begin() as s:
        batch = make_batch(s)
        batch.created_at = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    with sessions() as s:
        batch_id = s.scalar(select(Batch.id))
    listing = admin.get("/admin/batches").get_data(as_text=True)
    assert "2026-03-02 07:30" in listing and "2026-03-01T23:30" not in listing
    assert "2026-03-02 07:30" in admin.get(f"/admin/batches/{batch_id}").get_data(as_text=True)


def test_settlement_exports_have_one_charset(admin):
    csv = admin.get("/admin/settlements.csv")
    assert csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert csv.data.startswith(b"\xef\xbb\xbfstatement,")
    xlsx = admin.get("/admin/settlements.xlsx")
    assert (
        xlsx.headers["Content-Type"].startswith("application/vnd.openxmlformats") and xlsx.data[:2] == b"PK"
    )


def test_settlement_run_with_nothing_payable_says_why(admin):
    response = admin.post(
        "/admin/settlements/run",
        data={"csrf_token": csrf(admin, "/admin/settlements")},
        headers={"Accept-Language": "en"},
        follow_redirects=True,
    )
    assert "No statement: there is nothing to settle." in response.get_data(as_text=True)


def test_forms_need_csrf(admin):
    assert admin.post("/admin/products", data={"name": "x"}).status_code == 400
    assert admin.post("/admin/campaigns/1/pause").status_code == 400


def test_owners_and_clerks_cannot_open_the_console(app, sessions):
    from tests.console.conftest import sign_in

    for role in ("owner", "clerk"):
        if role == "clerk":
            with sessions.begin() as s:
                store = make_store(s)
            client = _clerk(app, sessions, store.id)
        else:
            client = sign_in(app, sessions, username="owner1", role="owner")
        for path in PAGES:
            assert client.get(path).status_code == 403, (role, path)


def _clerk(app, sessions, store_id):
    from tests.console.conftest import PASSWORD

    with sessions.begin() as s:
        create_user(s, username="clerk1", password=PASSWORD, role="clerk", now=_now(), store_id=store_id)
    client = app.test_client()
    client.post(
        "/login", data={"username": "clerk1", "password": PASSWORD, "csrf_token": csrf(client, "/login")}
    )
    return client


def _now():
    from server.models import utcnow

    return utcnow()


def test_a_campaign_named_like_a_script_is_shown_escaped_on_every_page(app):
    from tests.console.world import CAMPAIGN_A_NAME, PASSWORD, build

    world = build(app)
    client = app.test_client()
    client.post(
        "/login", data={"username": "boss", "password": PASSWORD, "csrf_token": csrf(client, "/login")}
    )
    code = app.extensions["codeloop"].codec.encode(world.ids["b1"], 1)
    pages = PAGES + [
        "/admin/?from=2026-05-04&to=2026-05-05",
        f"/admin/campaigns/{world.ids['A']}",
        f"/admin/batches/{world.ids['b1']}",
        f"/admin/alerts/{world.ids['geo_alert']}",
        f"/admin/codes?code={code}",
        "/admin/audit?object_type=campaign",
    ]
    shown = 0
    for path in pages:
        html = client.get(path).get_data(as_text=True)
        assert CAMPAIGN_A_NAME not in html, path
        shown += "&lt;script&gt;alert(1)&lt;/script&gt;" in html or "\\u003cscript\\u003e" in html
    assert shown >= 6  # the name is on the dashboard, campaign, batch and code pages and in the audit log
