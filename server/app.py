"""The application factory."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from server import runtime as runtime_module
from server.assets import static_folder, template_folder
from server.config import Config

TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def create_app(config: Config | None = None) -> Flask:
    """Build the Flask app for `config` (default: from the environment)."""
    config = config or Config.from_env()
    runtime = runtime_module.build(config)
    app = Flask(
        __name__,
        template_folder=template_folder(),
        static_folder=static_folder(),
        instance_path=str(config.instance_dir.resolve()),
    )
    app.config.update(
        SECRET_KEY=config.secret_key,
        TESTING=config.testing,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.public_url.startswith("https"),
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    app.json.ensure_ascii = False  # Chinese stays readable in JSON
    app.json.sort_keys = False
    app.extensions["codeloop"] = runtime
    if config.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.trusted_proxies, x_proto=config.trusted_proxies)

    _init_extensions(app, config)
    from server.web import IdConverter

    # before any route is added: every <int:…> in a path is a row id, range-checked here once
    app.url_map.converters["int"] = IdConverter
    _register_blueprints(app)
    return app


TRANSLATION_AREAS = (
    "common",
    "consumer",
    "store",
    "admin",
)  # one catalogue per area: server/translations/<area>


def _init_extensions(app: Flask, config: Config) -> None:
    from server import headers, web
    from server.extensions import babel, csrf, login_manager

    app.config.update(
        BABEL_DEFAULT_LOCALE="zh_CN",
        BABEL_DEFAULT_TIMEZONE=config.timezone,
        BABEL_TRANSLATION_DIRECTORIES=";".join(str(TRANSLATIONS / area) for area in TRANSLATION_AREAS),
        # tokens live as long as the session; a consumer may linger on the scan page
        WTF_CSRF_TIME_LIMIT=None,
    )
    web.init_app(app)
    headers.init_app(app)
    babel.init_app(app, locale_selector=web.babel_locale)
    web.install_gettext(app)
    csrf.init_app(app)
    # no current_user in templates: no template reads it, and loading it for every rendered page (consumer
    # pages included) hashed the client's address and user agent for session protection each time
    login_manager.init_app(app, add_context_processor=False)
    login_manager.login_view = "auth.login"


def console() -> list:
    """The brand manager's console, one module per area under /admin."""
    from server.views import (
        admin,
        admin_alerts,
        admin_audit,
        admin_catalog,
        admin_codes,
        admin_jobs,
        admin_people,
        dashboard,
    )

    return [dashboard, admin_alerts, admin_codes, admin_catalog, admin, admin_people, admin_jobs, admin_audit]


def _register_blueprints(app: Flask) -> None:
    import server.auth  # noqa: F401 — registers the Flask-Login user loader
    from server.api import api
    from server.extensions import csrf
    from server.views import auth, consumer, health, home, store

    for module in (home, health, auth, consumer, store):
        app.register_blueprint(module.bp)
    for module in console():
        app.register_blueprint(module.bp)
    csrf.exempt(api)  # the API authenticates with bearer/consumer tokens, never with cookies alone
    app.register_blueprint(api, url_prefix="/api/v1")
