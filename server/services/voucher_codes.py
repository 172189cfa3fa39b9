"""Voucher codes: how they are made, and the one normaliser for what a person types or scans as one.

A code is the hashids of the voucher's id plus 4 MAC characters, in the pack codes' alphabet
(codegen/canonical.py), so the same typing rules hold: full-width forms, separators, lower case, O for 0 and
I or L for 1 are all accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from codegen.canonical import ALPHABET, canonical, in_alphabet, without_separators
from codegen.ids import PublicIds
from server.errors import DomainError, validation

MAC_CHARS = 4
MAX_CODE = 24
MAX_TYPED = 64  # a code typed or looked up by itself
MAX_PRESENTED = 400  # a code, a rotating token or a scanned voucher URL at the till


def voucher_code(ids: PublicIds, secret: bytes, voucher_id: int) -> str:
    """hashids of the id (namespace "voucher") + 4 MAC characters: short, uppercase, typed at the till,
    and not guessable from a neighbour's code."""
    tag = hmac.new(secret, f"codeloop/v1/voucher|{voucher_id}".encode(), hashlib.sha256).digest()
    n = int.from_bytes(tag[:4], "big")
    suffix = "".join(ALPHABET[(n >> (5 * i)) & 31] for i in range(MAC_CHARS))
    return ids.encode("voucher", voucher_id) + suffix


def canonical_code(text: str) -> str | None:
    """The canonical form of a typed voucher code (or share token: the same alphabet), or None if it cannot be
    one."""
    if not isinstance(text, str) or not text or len(text) > MAX_TYPED:
        return None
    canon = canonical(text)
    return canon if canon and len(canon) <= MAX_CODE and in_alphabet(canon) else None


def presented(raw: str) -> tuple[str, bool]:
    """What the till was given, as (voucher code, False) or (rotating token, True): a scanned URL's last
    segment, then canonical_code's rules for a code; a token (it holds dots) keeps its case (it is signed)."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_PRESENTED:
        raise validation("enter or scan a voucher code", "请输入或扫描券码", field="voucher")
    text = unicodedata.normalize("NFKC", raw).strip()
    if "/" in text:  # a scanned voucher URL: …/v/<code>
        text = text.rstrip("/").rsplit("/", 1)[-1]
    if "." in text:
        return without_separators(text), True
    code = canonical_code(text)
    if code is None:
        raise DomainError("VOUCHER_NOT_FOUND", voucher=canonical(text)[:40])
    return code, False
