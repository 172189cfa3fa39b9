"""Is a placed scan inside a range's intended regions? Compared through the canonical region list
(server/regions.py), so that GeoIP's "上海" is 上海市 and an intended city (南京市) covers its scans."""

from __future__ import annotations

import functools

from server.regions import Region, regions


@functools.lru_cache(maxsize=4096)
def _resolve(name: str) -> Region | None:
    return regions().resolve(name)


@functools.lru_cache(maxsize=4096)
def _province(name: str) -> Region | None:
    return regions().province(name)


def province_key(name: str | None) -> str:
    """The province's GB/T 2260 code when the list knows the name, else the name itself ('' for none)."""
    region = _province(name) if name else None
    return region.code if region else (name or "")


def outside_regions(province: str | None, city: str | None, intended: list[str]) -> bool:
    """True when a placed scan is in none of the intended provinces or cities (False when the scan has no
    known province or the range no intended regions: there is nothing to compare)."""
    placed = _province(province) if province else None
    if placed is None or not intended:
        return False
    for name in intended:
        region = _resolve(name)
        if region is None:
            continue
        if region.level == 1 and region.code == placed.code:
            return False
        if region.level == 2 and region.province == placed.code and regions().city(city, placed) == region:
            return False
    return True
