"""Short public identifiers (promo, store, batch numbers) with hashids.

hashids is obfuscation, not security: use these where a guessed id gains nothing
(anything that must not be guessable gets a MAC, like pack codes).
"""

from __future__ import annotations

import hmac
import re

from hashids import Hashids

from .canonical import ALPHABET, canonical, in_alphabet

ID_ALPHABET = ALPHABET  # Crockford: no I L O U
MIN_LENGTH = 6
MAX_INPUT = 64
_NAMESPACE = re.compile(r"[a-z][a-z0-9_-]{0,31}")


class IdInvalid(ValueError):
    """Text that is not the canonical public id of any number in that namespace."""


class PublicIds:
    """Encodes integers as short uppercase ids, one hashids salt per namespace."""

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, (bytes, bytearray)) or len(secret) < 16:
            raise ValueError("secret must be at least 16 bytes")
        self._secret = bytes(secret)
        self._coders: dict[str, Hashids] = {}

    def _coder(self, namespace: str) -> Hashids:
        coder = self._coders.get(namespace)
        if coder is None:
            if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
                raise ValueError(f"bad namespace {namespace!r}")
            info = b"codeloop/v1/public-id/" + namespace.encode("ascii")
            salt = hmac.digest(self._secret, info, "sha256").hex()
            coder = self._coders[namespace] = Hashids(salt, MIN_LENGTH, ID_ALPHABET)
        return coder

    def encode(self, namespace: str, n: int) -> str:
        """The canonical id of ``n`` (a non-negative int) in ``namespace``."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"public ids encode non-negative integers, not {n!r}")
        return self._coder(namespace).encode(n)

    def decode(self, namespace: str, text: str) -> int:
        """The number whose canonical id ``text`` is (case-insensitive); raises IdInvalid."""
        coder = self._coder(namespace)
        if not isinstance(text, str) or not text or len(text) > MAX_INPUT:
            raise IdInvalid("empty or too long")
        canon = canonical(text)
        if not canon or not in_alphabet(canon):
            raise IdInvalid(f"bad characters in {text!r}")
        numbers = coder.decode(canon)
        if len(numbers) != 1 or coder.encode(numbers[0]) != canon:
            raise IdInvalid(f"{text!r} is not a {namespace} id")
        return numbers[0]
