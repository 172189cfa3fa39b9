"""Typed and scanned identifiers to canonical text: the one alphabet (Crockford base32) and the one rule that
pack codes, public ids and voucher codes share."""

from __future__ import annotations

import re
import unicodedata

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I L O U
# Dropped wherever they stand (after NFKC, which makes full-width and ideographic spaces and letters ASCII):
# spaces, hyphens and dashes of every width, underscores, the soft hyphen, the prolonged sound mark a Chinese
# IME types for a dash, and zero-width characters. Control characters are not separators: a code holding one
# is refused.
SEPARATORS = " -_\u00ad\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\u200b\u200c\u200d\u2060\ufeff"
_DROP = dict.fromkeys(map(ord, SEPARATORS), None)
_LOOKALIKES = str.maketrans("OIL", "011")  # a typed O is a 0, I and L are 1
_IN_ALPHABET = re.compile(f"[{ALPHABET}]*")


def canonical(text: str) -> str:
    """NFKC, separators dropped, uppercase, O→0 and I/L→1. The result may hold characters outside ALPHABET
    (in_alphabet says)."""
    return unicodedata.normalize("NFKC", text).translate(_DROP).upper().translate(_LOOKALIKES)


def without_separators(text: str) -> str:
    """`text` with SEPARATORS dropped and its case kept (signed tokens)."""
    return text.translate(_DROP)


def in_alphabet(text: str) -> bool:
    """True when every character of `text` is one of ALPHABET's."""
    return _IN_ALPHABET.fullmatch(text) is not None
