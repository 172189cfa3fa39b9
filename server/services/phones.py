"""Optional phone binding with a one-time code: phone and code stored as salted hashes,
the number shown masked.

The SMS sender is pluggable: anything with `send(phone, text)`. The default logs the message
(ConsoleSender); tests pass a fake that remembers what it sent.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.errors import validation
from server.models import Consumer, PhoneChallenge
from server.services.consumers import keyed_hash

log = logging.getLogger(__name__)
OTP_TTL = timedelta(minutes=5)
MAX_ATTEMPTS = 5
_MOBILE = re.compile(r"1[3-9]\d{9}")


class SmsSender(Protocol):
    def send(self, phone: str, text: str) -> None: ...


class ConsoleSender:
    """Writes the message to the log: the embedded default, no SMS provider needed."""

    def send(self, phone: str, text: str) -> None:
        log.warning("SMS to %s: %s", mask(phone), text)


def normalize_phone(text: str) -> str:
    digits = re.sub(r"[\s\-]", "", text or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    if not _MOBILE.fullmatch(digits):
        raise validation("not a mainland China mobile number", "手机号码格式不正确", field="phone")
    return digits


def mask(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "****"


def phone_hash(secret: bytes | str, phone: str) -> str:
    return keyed_hash(secret, "phone", phone)


def start(
    session: Session, *, secret: bytes | str, consumer: Consumer, phone: str, sender: SmsSender, now: datetime
) -> PhoneChallenge:
    """Send a 6-digit code to `phone`; only its hash is stored."""
    phone = normalize_phone(phone)
    code = f"{secrets.randbelow(10**6):06d}"
    challenge = PhoneChallenge(
        consumer_id=consumer.id,
        phone_hash=phone_hash(secret, phone),
        code_hash=keyed_hash(secret, "otp", code),
        created_at=now,
        expires_at=now + OTP_TTL,
    )
    session.add(challenge)
    session.flush()
    sender.send(phone, f"验证码 {code}，5 分钟内有效。/ Your code is {code} (valid 5 minutes).")
    return challenge


def verify(
    session: Session, *, secret: bytes | str, consumer: Consumer, phone: str, code: str, now: datetime
) -> Consumer:
    """Bind the phone if `code` matches the latest live challenge; attempts are capped, use is atomic."""
    phone = normalize_phone(phone)
    challenge = session.execute(
        select(PhoneChallenge)
        .where(
            PhoneChallenge.consumer_id == consumer.id,
            PhoneChallenge.phone_hash == phone_hash(secret, phone),
            PhoneChallenge.used_at.is_(None),
            PhoneChallenge.expires_at > now,
        )
        .order_by(PhoneChallenge.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if challenge is None:
        raise validation("the code has expired; ask for a new one", "验证码已过期，请重新获取", field="code")
    # count the attempt first, conditionally: the cap holds under concurrent guesses
    counted = session.execute(
        update(PhoneChallenge)
        .where(PhoneChallenge.id == challenge.id, PhoneChallenge.attempts < MAX_ATTEMPTS)
        .values(attempts=PhoneChallenge.attempts + 1)
    ).rowcount
    if not counted:
        raise validation(
            "too many attempts; ask for a new code", "尝试次数过多，请重新获取验证码", field="code"
        )
    if not hmac.compare_digest(challenge.code_hash, keyed_hash(secret, "otp", (code or "").strip()[:12])):
        raise validation(
            "wrong code", "验证码不正确", field="code"
        )  # the caller commits: the failed attempt still counts
    used = session.execute(
        update(PhoneChallenge)
        .where(PhoneChallenge.id == challenge.id, PhoneChallenge.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    if not used:
        raise validation("the code has already been used", "验证码已使用", field="code")
    consumer.phone_hash = challenge.phone_hash
    consumer.phone_masked = mask(phone)
    session.flush()
    return consumer
