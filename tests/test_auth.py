"""Staff sign-in: passwords, lockout with backoff, CSRF, safe redirects, sessions ended at once."""

import re

import pytest
from sqlalchemy import select

from server.models import User, utcnow
from server.services.accounts import create_user


@pytest.fixture
def admin(sessions):
    with sessions.begin() as s:
        return create_user(s, username="boss", password="correct-horse", role="admin", now=utcnow()).id


def _csrf(client, path="/login"):
    page = client.get(path)
    return re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data).group(1).decode()


def _login(client, password="correct-horse", next_=None):
    url = "/login" + (f"?next={next_}" if next_ else "")
    return client.post(url, data={"username": "boss", "password": password, "csrf_token": _csrf(client)})


def test_sign_in_page_in_both_languages(client):
    assert "登录" in client.get("/login").get_data(as_text=True)
    assert "Sign in" in client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_sign_in_and_open_redirect_guard(app, admin):
    for target, expected in [
        ("/admin/batches", "/admin/batches"),
        ("//evil.example", "/admin"),
        ("/\\evil.example", "/admin"),
        ("https://evil.example", "/admin"),
        # browsers drop tabs and newlines and read \\ as /: each of these would be //evil.example
        ("/%09/evil.example", "/admin"),
        ("/%0A/evil.example", "/admin"),
        ("/%0D%0ALocation:%20https://evil.example", "/admin"),
        ("/%5C/evil.example", "/admin"),
        ("%09//evil.example", "/admin"),
        ("/\t/evil.example", "/admin"),
        ("javascript:alert(1)", "/admin"),
        ("/admin/batches?page=2", "/admin/batches?page=2"),
    ]:
        client = app.test_client()
        response = _login(client, next_=target)
        assert response.status_code == 302 and response.headers["Location"] == expected


def test_wrong_password_is_refused_and_counted_then_locks(client, admin, sessions):
    for _ in range(5):
        refused = _login(client, password="wrong-password")
        assert refused.status_code == 401 and "用户名与密码不匹配" in refused.get_data(as_text=True)
    locked = _login(client)  # right password, but locked after five failures
    assert locked.status_code == 401 and "账号已锁定" in locked.get_data(as_text=True)
    with sessions() as s:
        user = s.get(User, admin)
        assert user.failed_logins == 5 and user.locked_until > utcnow()


def test_sign_in_without_csrf_token_is_refused(client, admin):
    response = client.post("/login", data={"username": "boss", "password": "correct-horse"})
    assert response.status_code == 400 and "页面已过期，请刷新后重试" in response.get_data(as_text=True)
    from flask_login import current_user

    with client:
        client.get("/login")
        assert not current_user.is_authenticated


def test_bumping_session_version_ends_sessions_at_once(app, admin, sessions):
    client = app.test_client()
    assert _login(client).status_code == 302
    assert client.get("/login").status_code == 200
    with sessions.begin() as s:
        s.execute(select(User).where(User.id == admin)).scalar().session_version += 1
    from flask_login import current_user

    with client:
        client.get("/login")
        assert not current_user.is_authenticated


def test_session_cookies_are_signed_with_the_apps_current_keys(app, client, admin):
    sessions = app.session_interface
    signer = sessions.get_signing_serializer(app)
    assert sessions.get_signing_serializer(app) is signer  # built once, not on every request
    assert _login(client).status_code == 302 and client.get("/admin/batches").status_code == 200
    old_key = app.secret_key
    app.config["SECRET_KEY_FALLBACKS"], app.secret_key = [old_key], "rotated-secret-key-0123456789-abcdef"
    rotated = sessions.get_signing_serializer(app)
    assert rotated is not signer and rotated.dumps({"a": 1}) != signer.dumps({"a": 1})
    assert (
        client.get("/admin/batches").status_code == 200
    )  # a cookie signed with the old key opens through the fallback
    app.config["SECRET_KEY_FALLBACKS"] = []
    assert client.get("/admin/batches").status_code == 302  # …and no longer once that key is dropped
