"""Staff accounts and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from server.db import add_unique
from server.errors import DomainError, validation
from server.models import ROLES, ApiToken, Store, User

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{3,80}$")
MIN_PASSWORD = 8


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    now: datetime,
    store_id: int | None = None,
    display_name: str = "",
) -> User:
    """A new admin, store owner or clerk (clerks belong to a store)."""
    if not USERNAME.match(username or ""):
        raise validation(
            "username must be 3-80 letters, digits or ._@-",
            zh="用户名须为 3-80 个字母、数字或 ._@-",
            field="username",
        )
    if len(password or "") < MIN_PASSWORD:
        raise validation(
            f"password must be at least {MIN_PASSWORD} characters",
            zh=f"密码至少 {MIN_PASSWORD} 个字符",
            field="password",
        )
    if role not in ROLES:
        raise validation(
            f"role must be one of {', '.join(ROLES)}", zh="角色须为 admin、owner 或 clerk", field="role"
        )
    if role == "clerk" and store_id is None:
        raise validation("a clerk needs a store", zh="导购必须属于一个门店", field="store")
    if store_id is not None and session.get(Store, store_id) is None:
        raise validation(f"no store {store_id}", zh=f"门店 {store_id} 不存在", field="store")
    user = User(
        username=username,
        password_hash=generate_password_hash(password),
        role=role,
        store_id=store_id if role == "clerk" else None,
        display_name=display_name or username,
        created_at=now,
    )
    if not add_unique(session, user):
        raise validation(
            f"username {username!r} is taken", zh=f"用户名 {username} 已被占用", field="username"
        )
    return user


def user_by_name(session: Session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar()
    if user is None:
        raise DomainError("NOT_FOUND", what="user", username=username)
    return user


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session, *, user: User, now: datetime, store_id: int | None = None, name: str = ""
) -> tuple[str, ApiToken]:
    """A bearer token for `user` (bound to a store for POS use); the plain token is returned once."""
    if store_id is not None and session.get(Store, store_id) is None:
        raise validation(f"no store {store_id}", zh=f"门店 {store_id} 不存在", field="store")
    if user.role == "clerk" and store_id not in (None, user.store_id):
        raise DomainError("FORBIDDEN", reason="a clerk's token is bound to the clerk's own store")
    plain = "cl_" + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        store_id=store_id or user.store_id,
        name=name,
        token_hash=hash_token(plain),
        prefix=plain[:10],
        created_at=now,
    )
    session.add(token)
    session.flush()
    return plain, token


LOCK_AFTER = 5  # failed attempts before the account locks; each further failure doubles the wait
LOCK_BASE_SECONDS = 30


def authenticate(session: Session, *, username: str, password: str, now: datetime) -> User:
    """The active user with this password, counting failures and locking with backoff."""
    from datetime import timedelta

    from werkzeug.security import check_password_hash

    user = session.execute(select(User).where(User.username == username).with_for_update()).scalar()
    if user is None or not user.active:
        raise DomainError("UNAUTHORIZED", reason="bad credentials")
    if user.locked_until and user.locked_until > now:
        raise DomainError("ACCOUNT_LOCKED", until=user.locked_until.isoformat(timespec="seconds"))
    if not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= LOCK_AFTER:
            user.locked_until = now + timedelta(
                seconds=LOCK_BASE_SECONDS * 2 ** (user.failed_logins - LOCK_AFTER)
            )
        raise DomainError("UNAUTHORIZED", reason="bad credentials")
    user.failed_logins, user.locked_until = 0, None
    return user
