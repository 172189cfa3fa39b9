"""Comparing a scan's province with a range's intended regions, whatever the spelling.

GeoIP data may spell a province "上海" where the GB/T 2260 name is "上海市", or "广西" for
"广西壮族自治区"; `province_key` reduces both to one key, so a scan inside its intended region never counts as diverted.
"""

from __future__ import annotations

import re

_SUFFIXES = re.compile(r"(壮族自治区|回族自治区|维吾尔自治区|特别行政区|自治区|省|市)$")
_ENGLISH = re.compile(r"\s+(province|city|municipality|autonomous region|sar)$", re.IGNORECASE)


def province_key(name: str | None) -> str:
    """A spelling-independent key for a province name ('' for none)."""
    name = (name or "").strip()
    if not name:
        return ""
    if name.isascii():
        return _ENGLISH.sub("", name).strip().lower()
    return _SUFFIXES.sub("", name)


def outside_regions(province: str | None, regions: list[str]) -> bool:
    """True when a placed scan's province is none of `regions` (False when either is empty)."""
    key = province_key(province)
    if not key or not regions:
        return False
    return key not in {province_key(r) for r in regions}
