"""Bulk Crockford base32 for 100-bit values, done with whole-roll big-integer ops.

``base64.b32encode`` is written in Python in 3.11 (about 1.5 µs per code), and a
per-code lookup loop is not much better. Here every code is a 160-bit *lane* of one
big integer (20 bytes: 7 zero bytes + 13 value bytes). Three mask-and-shift rounds
move each 5-bit group of every lane into its own byte at once, so the cost per code
is a few C-level machine words; ``bytes.translate`` then maps 0..31 to the alphabet.
"""

from __future__ import annotations

from functools import lru_cache

from .canonical import ALPHABET

LANE_BYTES = 20  # 160 bits: 20 groups of 5 bits spread to 20 bytes
_TABLE = bytes.maketrans(bytes(range(32)), ALPHABET.encode("ascii"))


def _lane_mask(*bit_ranges: tuple[int, int]) -> int:
    """One lane's mask with the given [lo, hi) bit ranges set."""
    mask = 0
    for lo, hi in bit_ranges:
        mask |= ((1 << (hi - lo)) - 1) << lo
    return mask


_LANE_MASKS: tuple[int, ...] = (
    _lane_mask((0, 50)),  # round 1: low half stays
    _lane_mask((80, 130)),  # round 1: high half moved up by 30
    _lane_mask((0, 25), (80, 105)),  # round 2: low quarters stay
    _lane_mask((40, 65), (120, 145)),  # round 2: high quarters moved up by 15
) + tuple(
    _lane_mask(*[(q + 5 * g, q + 5 * g + 5) for q in (0, 40, 80, 120)])
    for g in range(5)  # round 3: group g of each quarter moves up 3g
)


@lru_cache(maxsize=8)
def _masks(n: int) -> tuple[int, ...]:
    """The lane masks repeated over ``n`` lanes."""
    return tuple(int.from_bytes(m.to_bytes(LANE_BYTES, "big") * n, "big") for m in _LANE_MASKS)


def encode_lanes(lanes: bytes, n: int) -> str:
    """Crockford-encode ``n`` concatenated 20-byte lanes (value < 2**100 each) into 20n chars."""
    if n == 0:
        return ""
    a, b, c, d, e0, e1, e2, e3, e4 = _masks(n)
    x = int.from_bytes(lanes, "big")
    x = (x & a) | ((x << 30) & b)
    x = (x & c) | ((x << 15) & d)
    x = (x & e0) | ((x & e1) << 3) | ((x & e2) << 6) | ((x & e3) << 9) | ((x & e4) << 12)
    return x.to_bytes(LANE_BYTES * n, "big").translate(_TABLE).decode("ascii")
