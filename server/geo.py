"""GeoIP: a MaxMind-format City database, the bundled 2018 GeoLite2 copy by default."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime

import geoip2.database
import geoip2.errors

STALE_AFTER_DAYS = 365


def bundled_database() -> str:
    """Path of the GeoLite2 City file shipped by the maxminddb-geolite2 package (CC BY-SA 4.0)."""
    from _maxminddb_geolite2 import geolite2_database

    return geolite2_database()


@dataclass(frozen=True)
class Place:
    country: str | None
    province: str | None
    city: str | None
    accuracy_km: int | None


class Geo:
    """A shared reader; look-ups are thread-safe and never raise for odd addresses."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or bundled_database()
        self.bundled = path is None
        self.reader = geoip2.database.Reader(self.path)

    @property
    def build_date(self) -> datetime:
        return datetime.fromtimestamp(self.reader.metadata().build_epoch, tz=UTC)

    def status(self, now: datetime) -> dict:
        age = (now - self.build_date).days
        return {
            "path": self.path,
            "bundled": self.bundled,
            "type": self.reader.metadata().database_type,
            "build_date": self.build_date.date().isoformat(),
            "age_days": age,
            "stale": age > STALE_AFTER_DAYS,
        }

    def lookup(self, ip: str | None, language: str = "zh-CN") -> Place | None:
        """The place of `ip`, or None for private, malformed or unknown addresses."""
        try:
            if ip is None or not ipaddress.ip_address(ip).is_global:
                return None
            city = self.reader.city(ip)
        except (ValueError, geoip2.errors.AddressNotFoundError):
            return None

        def name(record) -> str | None:
            return record.names.get(language) or record.names.get("en")

        return Place(
            name(city.country),
            name(city.subdivisions.most_specific),
            name(city.city),
            city.location.accuracy_radius,
        )
