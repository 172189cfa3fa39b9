"""The application factory."""
from __future__ import annotations

from flask import Flask

from server import runtime as runtime_module
from server.assets import static_folder, template_folder
from server.config import Config


def create_app(config: Config | None = None) -> Flask:
    """Build the Flask app for `config` (default: from the environment)."""
    config = config or Config.from_env()
    runtime = runtime_module.build(config)
    app = Flask(__name__, template_folder=template_folder(), static_folder=static_folder(),
                instance_path=str(config.instance_dir.resolve()))
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

    from server import web
    from server.api import api
    from server.views.health import bp as health_bp

    web.init_app(app)
    app.register_blueprint(health_bp)
    app.register_blueprint(api, url_prefix="/api/v1")
    return app
