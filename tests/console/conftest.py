"""The brand manager's console: an admin signed in through the login page, and CSRF tokens from pages."""

from __future__ import annotations

import re

import pytest

from server.models import utcnow
from server.services.accounts import create_user

PASSWORD = "manager-password"
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf(client, path: str) -> str:
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(app, sessions, username="manager", role="admin", display_name="品牌经理"):
    with sessions.begin() as s:
        create_user(
            s, username=username, password=PASSWORD, role=role, now=utcnow(), display_name=display_name
        )
    client = app.test_client()
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf(client, "/login")}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def admin(app, sessions):
    return sign_in(app, sessions)


@pytest.fixture
def admin_id(admin, sessions):
    from sqlalchemy import select

    from server.models import User

    with sessions() as s:
        return s.scalar(select(User.id).where(User.username == "manager"))
