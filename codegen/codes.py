"""Pack codes: 20 Crockford base32 characters carrying (version, kind, batch, serial, tag).

Bit layout, most significant first (100 bits = 20 characters x 5 bits)::

    version 4 | kind 1 | batch 20 | serial 27 | tag 48

The first 5 characters therefore name (version, kind, batch). The tag is a keyed
BLAKE2b MAC (``digest_size=6``, i.e. 48 bits, personalisation ``MAC_PERSON``) over the
52-bit header as 7 big-endian bytes, keyed with a per-batch key derived from the
deployment secret; the kind bit in the header keeps outer and inner codes apart. Keyed BLAKE2b was
measured ~3x faster than ``hmac.digest(..., "sha256")`` on the project machine
(0.56 µs vs 2.4 µs per tag with a precomputed keyed state), and it is a MAC by design.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, repeat
from operator import methodcaller

from ._base32 import ALPHABET, LANE_BYTES, encode_lanes
from .canonical import canonical, in_alphabet

VERSION = 1
OUTER = 0
INNER = 1
CODE_LENGTH = 20
MAX_INPUT = 64
MAX_BATCH = (1 << 20) - 1
MAX_SERIAL = (1 << 27) - 1
TAG_BYTES = 6
KEY_DOMAIN = b"codeloop/v1/batch-key"
MAC_PERSON = b"codeloop/pack/v1"  # BLAKE2b personalisation (<= 16 bytes)

REASONS = frozenset(
    {"empty", "too_long", "bad_character", "bad_length", "bad_version", "bad_tag", "out_of_range"}
)

# int(text, 32) reads 0-9A-V; Crockford's alphabet maps onto it position by position.
_TO_INT32 = str.maketrans(ALPHABET, "0123456789ABCDEFGHIJKLMNOPQRSTUV")
_PAD = bytes(LANE_BYTES - 7 - TAG_BYTES)
_HEADER_BYTES = methodcaller("to_bytes", 7, "big")


class CodeInvalid(ValueError):
    """A pack code that cannot be accepted; ``reason`` says why (one of ``REASONS``)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        assert reason in REASONS, reason
        self.reason = reason
        super().__init__(f"invalid code: {reason}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True)
class PackCode:
    """A verified pack code."""

    version: int
    kind: int
    batch: int
    serial: int
    text: str


def derive_batch_key(secret: bytes, batch: int) -> bytes:
    """Derive a batch's 32-byte MAC key from the deployment secret (HMAC-SHA256, domain-separated)."""
    if not isinstance(secret, (bytes, bytearray)) or len(secret) < 16:
        raise ValueError("secret must be at least 16 bytes")
    _check_batch(batch)
    info = KEY_DOMAIN + b"\x00" + batch.to_bytes(4, "big")
    return hmac.digest(bytes(secret), info, "sha256")


def normalize(text: str) -> str:
    """Canonicalise typed or scanned input: NFKC, no separators, uppercase, O->0, I/L->1 (canonical.py)."""
    if not isinstance(text, str):
        raise CodeInvalid("bad_character", "not a string")
    if len(text) > MAX_INPUT:
        raise CodeInvalid("too_long", f"{len(text)} characters")
    if not text:
        raise CodeInvalid("empty")
    out = canonical(text)
    if not out:
        raise CodeInvalid("empty")
    if not in_alphabet(out):
        raise CodeInvalid("bad_character")
    return out


def _check_batch(batch: int) -> None:
    if not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
        raise CodeInvalid("out_of_range", f"batch {batch!r} not in 1..{MAX_BATCH}")


def _check_serial(serial: int, stop: bool = False) -> None:
    top = MAX_SERIAL + 1 if stop else MAX_SERIAL
    if not isinstance(serial, int) or not 0 <= serial <= top:
        raise CodeInvalid("out_of_range", f"serial {serial!r} not in 0..{MAX_SERIAL}")


def _check_kind(kind: int) -> None:
    if kind not in (OUTER, INNER):
        raise ValueError(f"kind must be OUTER (0) or INNER (1), not {kind!r}")


def header(batch: int, serial: int, kind: int = OUTER) -> int:
    """The 52-bit (version, kind, batch, serial) header that the tag covers."""
    return (VERSION << 48) | (kind << 47) | (batch << 27) | serial


class Codec:
    """Encodes and verifies pack codes for one deployment secret."""

    def __init__(self, secret: bytes, *, key_cache: int = 4096) -> None:
        derive_batch_key(secret, 1)  # validates the secret once
        self._secret = bytes(secret)
        # Bounded: decode() derives a key for whatever batch a (possibly forged) code names.
        self._mac: Callable[[int], hashlib._Hash] = lru_cache(maxsize=key_cache)(self._new_mac)

    def _new_mac(self, batch: int) -> hashlib._Hash:
        key = derive_batch_key(self._secret, batch)
        return hashlib.blake2b(key=key, digest_size=TAG_BYTES, person=MAC_PERSON)

    def _tag(self, batch: int, head: int) -> bytes:
        mac = self._mac(batch).copy()
        mac.update(head.to_bytes(7, "big"))
        return mac.digest()

    def encode(self, batch: int, serial: int, kind: int = OUTER) -> str:
        """The canonical 20-character code of (batch, serial, kind)."""
        return self.encode_range(batch, serial, serial + 1, kind)[0]

    def encode_range(self, batch: int, start: int, stop: int, kind: int = OUTER) -> list[str]:
        """Codes for serials ``start..stop-1``: the bulk path of exports (no per-code Python calls
        except the MAC state copy/update/digest)."""
        _check_batch(batch)
        _check_kind(kind)
        _check_serial(start)
        _check_serial(stop, stop=True)
        if stop <= start:
            return []
        h0 = header(batch, 0, kind)
        heads = list(map(_HEADER_BYTES, range(h0 + start, h0 + stop)))
        copy = self._mac(batch).copy
        tags = []
        append = tags.append
        for head in heads:
            mac = copy()
            mac.update(head)
            append(mac.digest())
        n = stop - start
        lanes = b"".join(chain.from_iterable(zip(repeat(_PAD, n), heads, tags, strict=True)))
        text = encode_lanes(lanes, n)
        return [text[i : i + CODE_LENGTH] for i in range(0, CODE_LENGTH * n, CODE_LENGTH)]

    def decode(self, text: str) -> PackCode:
        """Normalise, parse and verify a code (constant-time tag compare); raises CodeInvalid."""
        canon = normalize(text)
        if len(canon) != CODE_LENGTH:
            raise CodeInvalid("bad_length", f"{len(canon)} characters, expected {CODE_LENGTH}")
        value = int(canon.translate(_TO_INT32), 32)
        head, tag = value >> 48, value & ((1 << 48) - 1)
        version, kind = head >> 48, (head >> 47) & 1
        batch, serial = (head >> 27) & MAX_BATCH, head & MAX_SERIAL
        if version != VERSION:
            raise CodeInvalid("bad_version", f"version {version}")
        if batch == 0:
            raise CodeInvalid("out_of_range", "batch 0")
        if not hmac.compare_digest(self._tag(batch, head), tag.to_bytes(TAG_BYTES, "big")):
            raise CodeInvalid("bad_tag")
        return PackCode(version=version, kind=kind, batch=batch, serial=serial, text=canon)

    def verify(self, text: str) -> bool:
        """True when ``text`` decodes to a valid code."""
        try:
            self.decode(text)
        except CodeInvalid:
            return False
        return True
