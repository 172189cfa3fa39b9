"""Rotating voucher tokens: a signed token that changes every 60 s, so a forwarded screenshot goes stale.

token = "<voucher code>.<time step>.<tag>" where tag = HMAC-SHA256(secret, "voucher-token|code|step"),
truncated to 16 hex characters. A token is accepted from GRACE_SECONDS before its 60-second window
starts until GRACE_SECONDS after it ends: the grace covers a clock difference between the web processes
that show and check it, the page's refresh (it reloads one second after the window ends) and the till's
scan. A token shown in the first second of its window is stale at most
STEP_SECONDS + GRACE_SECONDS = 75 s later.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from server.errors import DomainError

STEP_SECONDS = 60
GRACE_SECONDS = 15  # each side of the window: clock difference, page refresh, the till's scan
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
    if not is_fresh(step, now):
        raise DomainError("VOUCHER_TOKEN_EXPIRED")
    return code


def is_fresh(step: int, now: datetime) -> bool:
    """Whether a token of `step` is accepted at `now`: its window, widened by GRACE_SECONDS each side."""
    start = step * STEP_SECONDS
    return start - GRACE_SECONDS <= now.timestamp() < start + STEP_SECONDS + GRACE_SECONDS
