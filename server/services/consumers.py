"""Consumer identity: anonymous consumers made on first visit, signed tokens, salted IP and phone hashes.

The same signed token is the browser cookie and the JSON API's consumer token
(`Authorization: Consumer <token>` or `X-Consumer-Token: <token>`): it carries the consumer's random
public_id, signed with the deployment secret (itsdangerous), and never expires on its own.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import secrets
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.models import Consumer

TOKEN_SALT = "codeloop/v1/consumer-token"
MAX_TOKEN = 200


@functools.lru_cache(maxsize=8)  # built once per secret: every scan reads a token
def _serializer(secret: bytes | str) -> URLSafeSerializer:
    return URLSafeSerializer(
        secret if isinstance(secret, str) else secret.decode("utf-8", "replace"), salt=TOKEN_SALT
    )


def make_token(secret: bytes | str, public_id: str) -> str:
    return _serializer(secret).dumps(public_id)


def read_token(secret: bytes | str, token: str | None) -> str | None:
    """The public_id inside a genuine token, or None."""
    if not token or len(token) > MAX_TOKEN:
        return None
    try:
        value = _serializer(secret).loads(token.strip())
    except (BadSignature, ValueError, UnicodeError):
        return None
    return value if isinstance(value, str) and 0 < len(value) <= 40 else None


def new_device_id() -> str:
    return secrets.token_urlsafe(16)


def create(session: Session, *, now: datetime, device_id: str | None = None) -> Consumer:
    consumer = Consumer(
        public_id=secrets.token_urlsafe(18), device_id=(device_id or None) and device_id[:64], created_at=now
    )
    session.add(consumer)
    session.flush()
    return consumer


def find(session: Session, public_id: str | None) -> Consumer | None:
    if not public_id:
        return None
    return session.execute(select(Consumer).where(Consumer.public_id == public_id)).scalar_one_or_none()


def resolve(
    session: Session, *, public_id: str | None, device_id: str | None, now: datetime
) -> tuple[Consumer, bool]:
    """The consumer named by the cookie/token, or a new one; (consumer, created)."""
    consumer = find(session, public_id)
    if consumer is not None:
        return consumer, False
    return create(session, now=now, device_id=device_id), True


def lock(session: Session, consumer_id: int) -> None:
    """Serialise this consumer's claims (a row lock on PostgreSQL, the write lock on SQLite) so the
    daily-limit count cannot race."""
    session.execute(update(Consumer).where(Consumer.id == consumer_id).values(public_id=Consumer.public_id))


def keyed_hash(secret: bytes | str, domain: str, value: str) -> str:
    key = secret.encode() if isinstance(secret, str) else bytes(secret)
    return hmac.new(key, f"codeloop/v1/{domain}|{value}".encode(), hashlib.sha256).hexdigest()


def ip_hash(secret: bytes | str, ip: str | None) -> str | None:
    return keyed_hash(secret, "ip", ip) if ip else None


def network_of(ip: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network an address belongs to, as text; None if unparsable."""
    try:
        addr = ipaddress.ip_address(ip or "")
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def network_hash(secret: bytes | str, ip: str | None) -> str | None:
    net = network_of(ip)
    return keyed_hash(secret, "net", net) if net else None
