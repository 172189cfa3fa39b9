"""Flask extensions, created here and bound to the app in the factory."""
from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect


def _client_ip() -> str:
    from flask import request

    return request.remote_addr or "unknown"  # ProxyFix has already applied the trusted hops


csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()
# fixed-window: one Redis INCR per limit; moving-window costs several round trips on every scan.
# No X-RateLimit-* headers: they cost two more round trips per request; a 429 still says Retry-After (web.py)
limiter = Limiter(key_func=_client_ip, headers_enabled=False, in_memory_fallback_enabled=True, strategy="fixed-window")
