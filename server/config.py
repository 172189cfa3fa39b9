"""Configuration: read the CODELOOP_* environment (and a .env file) once, at start-up."""

from __future__ import annotations

import difflib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

ENVIRONMENTS = ("development", "production", "test")

# name -> one-line description (the README's configuration table is generated from the same words)
VARIABLES = {
    "CODELOOP_ENV": "development (default), production or test",
    "CODELOOP_DATABASE_URL": "SQLAlchemy URL; default: SQLite file in the instance folder",
    "CODELOOP_REDIS_URL": "Redis for RQ jobs and rate limits; unset: jobs run inline",
    "CODELOOP_SECRET_KEY": "signs cookies and derives code keys; default: generated into the instance folder",
    "CODELOOP_PUBLIC_URL": "base URL printed codes point at, e.g. https://q.brand.cn",
    "CODELOOP_GEOIP_DB": "MaxMind-format City database; default: bundled GeoLite2 (2018, stale)",
    "CODELOOP_GEOIP_PROVIDER": "maxmind (default) or ip2region (China from ip2region, the rest from maxmind)",
    "CODELOOP_IP2REGION_DB": "an ip2region xdb file; default: the one the XdbSearchIP package ships",
    "CODELOOP_IP_RETENTION_DAYS": "days a scan keeps its raw IP address (hashes and place stay), default 30",
    "CODELOOP_TIMEZONE": "time zone for display, default Asia/Shanghai",
    "CODELOOP_INSTANCE_DIR": "folder for the SQLite file and generated secret, default ./instance",
    "CODELOOP_TRUSTED_PROXIES": "number of reverse-proxy hops in front of the app, default 0",
    "CODELOOP_HOLD_DAYS": "days a ledger entry is held before it becomes payable, default 7",
    "CODELOOP_RATE_LIMIT_SCAN": (
        "scan rate limit per IP and per consumer (the limits library's syntax), default 60/minute;600/hour"
    ),
    "CODELOOP_RATE_LIMIT_CLAIM": "claim rate limit per IP and per consumer, default 20/minute;200/hour",
    "CODELOOP_REVERSAL_GRACE_MINUTES": (
        "minutes after a redemption in which the till may reverse it, default 30"
    ),
}


# alert rule thresholds: name -> (default, lowest, highest, meaning); each is read from CODELOOP_ALERT_<NAME>
ALERT_THRESHOLDS = {
    "geo_velocity_km": (300, 1, 20000, "geo-velocity: km between two scans of one code beyond both radii"),
    "geo_velocity_minutes": (120, 1, 7 * 24 * 60, "geo-velocity: within this many minutes"),
    "sessions_per_code": (5, 1, 10000, "distinct consumers (sessions) scanning one code before it alerts"),
    "enum_ip_per_minute": (20, 1, 10**6, "enumeration: forged-code scans per minute from one address"),
    "enum_net_per_minute": (60, 1, 10**6, "enumeration: forged-code scans per minute from one /24 or /48"),
    "enum_all_per_minute": (600, 1, 10**7, "enumeration: forged-code scans per minute overall"),
    "clerk_burst_count": (20, 1, 10**6, "clerk burst: claims or redemptions by one clerk within the window"),
    "clerk_burst_minutes": (10, 1, 24 * 60, "clerk burst: the window in minutes"),
    "store_spike_factor": (3, 1, 1000, "store spike: a day's redemptions over this many times the baseline"),
    "store_spike_min": (20, 1, 10**6, "store spike: and at least this many redemptions that day"),
    "store_baseline_days": (28, 1, 365, "store spike: days before it whose daily mean is the baseline"),
}
VARIABLES.update(
    {
        f"CODELOOP_ALERT_{name.upper()}": f"{meaning}, default {default}"
        for name, (default, _low, _high, meaning) in ALERT_THRESHOLDS.items()
    }
)


def _default_alerts() -> dict[str, int]:
    return {name: spec[0] for name, spec in ALERT_THRESHOLDS.items()}


class ConfigError(Exception):
    """A configuration problem, reported as one line at start-up."""


@dataclass(frozen=True)
class Config:
    """Everything the app reads from its environment, validated."""

    env: str = "development"
    database_url: str = ""
    redis_url: str | None = None
    secret_key: str = ""
    public_url: str = "http://127.0.0.1:5000"
    public_url_set: bool = False  # False: `codeloop serve` and `demo` point it at the address they serve on
    geoip_db: str | None = None
    geoip_provider: str = "maxmind"
    ip2region_db: str | None = None
    ip_retention_days: int = 30
    timezone: str = "Asia/Shanghai"
    instance_dir: Path = field(default_factory=lambda: Path.cwd() / "instance")
    trusted_proxies: int = 0
    hold_days: int = 7
    rate_limit_scan: str = "60/minute;600/hour"
    rate_limit_claim: str = "20/minute;200/hour"
    reversal_grace_minutes: int = 30
    alerts: dict[str, int] = field(default_factory=_default_alerts)
    testing: bool = False

    @property
    def inline_jobs(self) -> bool:
        return self.redis_url is None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, dotenv: Path | None = None) -> Config:
        """Build a Config from the environment, a .env file beneath it; raise ConfigError."""
        values = _gather(environ, dotenv)
        env = _choice(values, "CODELOOP_ENV", ENVIRONMENTS, "development")
        instance_dir = Path(values.get("CODELOOP_INSTANCE_DIR") or Path.cwd() / "instance")
        database_url = values.get("CODELOOP_DATABASE_URL", "")
        secret_key = values.get("CODELOOP_SECRET_KEY", "")
        if env == "production":
            for name, value in (("CODELOOP_SECRET_KEY", secret_key), ("CODELOOP_DATABASE_URL", database_url)):
                if not value:
                    raise ConfigError(f"{name} must be set when CODELOOP_ENV=production")
            if len(secret_key) < 32:
                raise ConfigError("CODELOOP_SECRET_KEY must be at least 32 characters in production")
        return cls(
            env=env,
            database_url=_database_url(database_url, instance_dir),
            redis_url=_redis_url(values.get("CODELOOP_REDIS_URL")),
            secret_key=secret_key or _instance_secret(instance_dir),
            public_url=_public_url(values.get("CODELOOP_PUBLIC_URL", "http://127.0.0.1:5000")),
            public_url_set="CODELOOP_PUBLIC_URL" in values,
            geoip_db=_geoip(values.get("CODELOOP_GEOIP_DB")),
            geoip_provider=_geoip_provider(values),
            ip2region_db=_file(values, "CODELOOP_IP2REGION_DB"),
            ip_retention_days=_int(values, "CODELOOP_IP_RETENTION_DAYS", 30, 1, 3650),
            timezone=_timezone(values.get("CODELOOP_TIMEZONE", "Asia/Shanghai")),
            instance_dir=instance_dir,
            trusted_proxies=_int(values, "CODELOOP_TRUSTED_PROXIES", 0, 0, 10),
            hold_days=_int(values, "CODELOOP_HOLD_DAYS", 7, 0, 365),
            rate_limit_scan=_rate(values, "CODELOOP_RATE_LIMIT_SCAN", "60/minute;600/hour"),
            rate_limit_claim=_rate(values, "CODELOOP_RATE_LIMIT_CLAIM", "20/minute;200/hour"),
            reversal_grace_minutes=_int(values, "CODELOOP_REVERSAL_GRACE_MINUTES", 30, 0, 7 * 24 * 60),
            alerts={
                name: _int(values, f"CODELOOP_ALERT_{name.upper()}", default, low, high)
                for name, (default, low, high, _) in ALERT_THRESHOLDS.items()
            },
            testing=env == "test",
        )


def _gather(environ: dict[str, str] | None, dotenv: Path | None) -> dict[str, str]:
    environ = dict(os.environ if environ is None else environ)
    dotenv = dotenv or Path.cwd() / ".env"
    values = {k: v for k, v in dotenv_values(dotenv).items() if v is not None} if dotenv.is_file() else {}
    values.update({k: v for k, v in environ.items() if k.startswith("CODELOOP_")})
    for name in values:
        if name.startswith("CODELOOP_") and name not in VARIABLES and not name.startswith("CODELOOP_TEST_"):
            hint = difflib.get_close_matches(name, VARIABLES, n=1)
            raise ConfigError(f"unknown variable {name}" + (f" (did you mean {hint[0]}?)" if hint else ""))
    return {k: v.strip() for k, v in values.items() if v.strip()}


def _choice(values: dict[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = values.get(name, default)
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _int(values: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = values.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}; got {raw!r}")
    return int(raw)


def _rate(values: dict[str, str], name: str, default: str) -> str:
    from limits import parse_many

    raw = values.get(name, default)
    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a rate limit like 60/minute;600/hour; got {raw!r}") from None
    return raw


def _database_url(url: str, instance_dir: Path) -> str:
    if not url:
        return f"sqlite:///{instance_dir / 'codeloop.sqlite3'}"
    scheme = url.split(":", 1)[0]
    if scheme in ("postgres", "postgresql"):
        return "postgresql+psycopg" + url[len(scheme) :]
    if scheme not in ("sqlite", "postgresql+psycopg"):
        raise ConfigError(
            f"CODELOOP_DATABASE_URL must be a sqlite:// or postgresql:// URL; got scheme {scheme!r}"
        )
    return url


def _redis_url(url: str | None) -> str | None:
    if url and urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"CODELOOP_REDIS_URL must be a redis:// URL; got {url!r}")
    return url or None


def _public_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"CODELOOP_PUBLIC_URL must be an http(s) URL with no query; got {url!r}")
    return url.rstrip("/")


def served_url(host: str, port: int) -> str:
    """The URL a browser reaches `codeloop serve --host HOST --port PORT` at: for a wildcard bind, this
    machine's address on its local network (so a phone on the same Wi-Fi can open printed codes), else
    loopback."""
    if host in ("", "0.0.0.0", "::"):
        host = _lan_address() or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _lan_address() -> str | None:
    import socket

    try:  # a UDP "connection" sends nothing: it only asks the kernel which local address would be used
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("192.0.2.1", 9))
            return sock.getsockname()[0]
    except OSError:
        return None


def _geoip(path: str | None) -> str | None:
    if path and not Path(path).is_file():
        raise ConfigError(f"CODELOOP_GEOIP_DB names no file: {path}")
    return path


def _file(values: dict[str, str], name: str) -> str | None:
    path = values.get(name)
    if path and not Path(path).is_file():
        raise ConfigError(f"{name} names no file: {path}")
    return path


def _geoip_provider(values: dict[str, str]) -> str:
    provider = _choice(values, "CODELOOP_GEOIP_PROVIDER", ("maxmind", "ip2region"), "maxmind")
    if provider == "ip2region":
        import importlib.util

        needed = ("ip2region",) if values.get("CODELOOP_IP2REGION_DB") else ("ip2region", "XdbSearchIP")
        if any(importlib.util.find_spec(module) is None for module in needed):
            raise ConfigError(
                "CODELOOP_GEOIP_PROVIDER=ip2region needs its packages: pip install 'codeloop[ip2region]'"
            )
    return provider


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"CODELOOP_TIMEZONE is not a known time zone: {name!r}") from None
    return name


def _instance_secret(instance_dir: Path) -> str:
    """The embedded default keeps a generated secret in the instance folder."""
    path = instance_dir / "secret_key"
    if not path.exists():
        instance_dir.mkdir(parents=True, exist_ok=True)
        tmp = instance_dir / f".secret_key.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:  # link() refuses to replace: two processes starting at once agree on one secret
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()
