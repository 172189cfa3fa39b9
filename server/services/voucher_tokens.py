"""Rotating voucher tokens: a signed token that changes every 60 s, so a forwarded screenshot goes stale.

token = "<voucher code>.<time step>.<tag>" where tag = HMAC-SHA256(secret, "voucher-token|code|step"),
truncated to 16 hex characters. verify_token accepts the current and the previous step (a token
shown just before a step boundary still works for a few seconds at the till).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from server.errors import DomainError

STEP_SECONDS = 60
GRACE_STEPS = 1
_DOMAIN = b"codeloop/v1/voucher-token|"


def _secret(secret: bytes | str) -> bytes:
    return secret.encode() if isinstance(secret, str) else bytes(secret)


def step_of(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def seconds_left(now: datetime) -> int:
    """Seconds until the token shown at `now` is replaced."""
    return STEP_SECONDS - int(now.timestamp()) % STEP_SECONDS


def _tag(secret: bytes | str, voucher_code: str, step: int) -> str:
    msg = _DOMAIN + f"{voucher_code}|{step}".encode()
    return hmac.new(_secret(secret), msg, hashlib.sha256).hexdigest()[:16].upper()


def make_token(secret: bytes | str, voucher_code: str, now: datetime) -> str:
    """The token for `voucher_code` in the 60-second step containing `now`."""
    step = step_of(now)
    return f"{voucher_code}.{step}.{_tag(secret, voucher_code, step)}"


def is_token(text: str) -> bool:
    return isinstance(text, str) and text.count(".") == 2


def verify_token(secret: bytes | str, token: str, now: datetime) -> str:
    """The voucher code inside a genuine, fresh token; VOUCHER_TOKEN_EXPIRED for a stale one,
    VOUCHER_NOT_FOUND for anything forged or malformed."""
    if not isinstance(token, str) or len(token) > 80 or token.count(".") != 2:
        raise DomainError("VOUCHER_NOT_FOUND")
    code, step_text, tag = token.strip().split(".")
    code, tag = code.upper(), tag.upper()
    if not step_text.isdigit() or not code:
        raise DomainError("VOUCHER_NOT_FOUND")
    step = int(step_text)
    if not hmac.compare_digest(_tag(secret, code, step), tag):
        raise DomainError("VOUCHER_NOT_FOUND")
    current = step_of(now)
    if step > current + 1 or step < current - GRACE_STEPS:
        raise DomainError("VOUCHER_TOKEN_EXPIRED")
    return code
