"""What a process needs to serve or run jobs, built once from a Config; no Flask here.

The web app keeps its Runtime in app.extensions; job functions (workers/) reach the same one
through current(), which in a worker process is built from the environment on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from rq import Queue
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from codegen.codes import Codec
from codegen.ids import PublicIds
from server.config import Config
from server.db import make_engine, make_sessionmaker, ping
from server.forgeries import Forgeries
from server.geo import GeoProvider, make_geo
from server.jobs import Debounce, Queues, make_queues
from server.ratelimits import RateLimits


@dataclass
class Runtime:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    queues: Queues

    @property
    def queue(self) -> Queue:
        """The `default` queue (server/jobs.py names the others)."""
        return self.queues["default"]

    @cached_property
    def geo(self) -> GeoProvider:
        """The configured GeoIP provider (CODELOOP_GEOIP_PROVIDER)."""
        return make_geo(self.config.geoip_provider, self.config.geoip_db, self.config.ip2region_db)

    @cached_property
    def secret(self) -> bytes:
        return self.config.secret_key.encode()

    @cached_property
    def codec(self) -> Codec:
        """Pack-code encoder/verifier keyed by the deployment secret."""
        return Codec(self.secret)

    @cached_property
    def enrichment(self) -> Debounce:
        """How often this process may poke the scan-enrichment job."""
        return Debounce(1.0)

    @cached_property
    def rate_limits(self) -> RateLimits:
        """The consumer routes' rate-limit counters: in Redis when configured, else in this process."""
        return RateLimits.from_url(self.config.redis_url)

    @cached_property
    def forgeries(self) -> Forgeries:
        """Forged-code attempts per IP, /24 and overall per minute: in Redis when configured, else memory."""
        return Forgeries.from_url(self.secret, self.config.redis_url)

    @cached_property
    def ids(self) -> PublicIds:
        """hashids for short public identifiers (promo codes, store and batch numbers)."""
        return PublicIds(self.secret)


_current: Runtime | None = None


def build(config: Config, *, check_database: bool = True) -> Runtime:
    """Engine, sessions and queue for `config`; raises ConfigError if the database is unreachable."""
    global _current
    engine = make_engine(config.database_url)
    if check_database:
        ping(engine)
    _current = Runtime(config, engine, make_sessionmaker(engine), make_queues(config.redis_url))
    return _current


def current() -> Runtime:
    """The process's runtime, built from the environment if nothing has built one yet."""
    return _current or build(Config.from_env())
