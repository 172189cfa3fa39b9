"""Who is asking: staff sessions (Flask-Login), bearer tokens for the API, and role checks."""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from flask import g, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import String, bindparam, cast, literal, select

from server.actors import Actor, StoreRef
from server.db import is_postgres
from server.errors import DomainError
from server.extensions import login_manager
from server.models import ApiToken, Store, User
from server.services import idempotency, idempotency_sql
from server.services.accounts import hash_token
from server.web import db


class StaffUser:
    """Flask-Login's view of a User; its id carries session_version so deactivation ends sessions."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.is_authenticated, self.is_active, self.is_anonymous = True, user.active, False

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.session_version}"


@login_manager.user_loader
def _load(user_key: str):
    user_id, _, version = user_key.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db().get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return StaffUser(user)


@dataclass(frozen=True)
class Principal:
    """The staff member behind a request, and the store they act for (a POS token's, a clerk's)."""

    user_id: int
    role: str
    store_id: int | None
    token_id: int | None = None
    store: StoreRef | None = None  # read with a POS token, so redeeming need not read it again

    def actor(self) -> Actor:
        """This principal as the redeeming services see it."""
        return Actor(self.user_id, self.role, self.store_id, self.token_id, self.store)

    @property
    def key(self) -> str:
        """Scope for idempotency keys: one namespace per token, or per user for session requests."""
        return f"token:{self.token_id}" if self.token_id else f"user:{self.user_id}"


# Table columns, not ORM attributes or rows, for the token, its user and its store: this runs on every API
# request, and a Core select skips the ORM's compile and loading steps (loading the store as an ORM entity
# cost more than the query).
_TOKENS, _USERS, _STORES = ApiToken.__table__.c, User.__table__.c, Store.__table__.c
_BEARER = (
    select(
        _TOKENS.id,
        _TOKENS.store_id,
        _USERS.id.label("user_id"),
        _USERS.role,
        _USERS.active,
        _STORES.name.label("store_name"),
        _STORES.active.label("store_active"),
        _STORES.owner_id.label("store_owner"),
    )
    .select_from(
        ApiToken.__table__.join(User.__table__, _USERS.id == _TOKENS.user_id).outerjoin(
            Store.__table__, _STORES.id == _TOKENS.store_id
        )
    )
    .where(_TOKENS.token_hash == bindparam("token_hash"), _TOKENS.revoked_at.is_(None))
)
# A till's write carries an Idempotency-Key: on PostgreSQL the token lookup reads the key's state too (a round
# trip less per redemption, ≈ 10 % of its throughput); the principal's key in SQL is Principal.key's.
_BEARER_AND_KEY = idempotency_sql.with_key_state(
    _BEARER, literal("token:") + cast(_TOKENS.id, String), bindparam("idempotency_key")
)


def _bearer_principal(header: str, key: str | None) -> tuple[Principal, tuple | None]:
    """The bearer token's principal and, given `key`, the state of that idempotency key (in one query)."""
    token = (
        db()
        .execute(
            _BEARER if key is None else _BEARER_AND_KEY,
            {"token_hash": hash_token(header.strip()), "idempotency_key": key},
        )
        .first()
    )
    if token is None or not token.active:
        raise DomainError("UNAUTHORIZED")
    store = (
        None
        if token.store_id is None
        else StoreRef(token.store_id, token.store_name, token.store_active, token.store_owner)
    )
    principal = Principal(token.user_id, token.role, token.store_id, token.id, store)
    return principal, None if key is None else tuple(token[-5:])


def principal_and_key_state(idempotency_key: str | None) -> tuple[Principal | None, tuple | None]:
    """principal(), and the state of the request's Idempotency-Key when the bearer token's lookup read it in
    the same statement (PostgreSQL: a round trip less per redemption, ≈ 10 % of its throughput). The state is
    None when it was not read: no key or an invalid one (the idempotent view refuses it, with the reason), a
    login session, SQLite, or a principal looked up earlier in the request."""
    if "principal" in g:
        return g.principal, None
    auth = request.headers.get("Authorization", "")
    state = None
    if auth.lower().startswith("bearer "):
        key = _readable_key(idempotency_key) if is_postgres(db()) else None
        g.principal, state = _bearer_principal(auth[7:], key)
    elif current_user.is_authenticated:
        user = current_user.user
        g.principal = Principal(user.id, user.role, user.store_id)
    else:
        g.principal = None
    return g.principal, state


def _readable_key(raw: str | None) -> str | None:
    try:
        return idempotency.check_key(raw)
    except DomainError:
        return None


def principal() -> Principal | None:
    """The staff principal of this request (bearer token first, then the login session), or None."""
    return g.principal if "principal" in g else principal_and_key_state(None)[0]


def authorised(who: Principal | None, roles: tuple[str, ...]) -> Principal:
    """`who`, if a staff principal with one of `roles` (any role when none are named); else UNAUTHORIZED or
    FORBIDDEN."""
    if who is None:
        raise DomainError("UNAUTHORIZED")
    if roles and who.role not in roles:
        raise DomainError("FORBIDDEN")
    return who


def require_staff(*roles: str):
    """API decorator: a staff principal with one of `roles`, else UNAUTHORIZED / FORBIDDEN."""

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            authorised(principal(), roles)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def staff_page(*roles: str):
    """Page decorator: send anonymous visitors to the login page; wrong roles get FORBIDDEN."""

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return redirect(url_for("auth.login", next=request.path))
            if roles and current_user.user.role not in roles:
                raise DomainError("FORBIDDEN")
            return view(*args, **kwargs)

        return wrapped

    return decorate
