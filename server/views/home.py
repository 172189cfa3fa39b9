"""The front door: `/` tells a newcomer where to go, and the site's icon."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, send_from_directory

from server.web import language

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    return render_template("home.html", lang=language())


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico on their own, whatever the page links."""
    return send_from_directory(current_app.static_folder, "favicon.ico", max_age=7 * 24 * 3600)
