"""The brand manager's dashboard at /admin/."""

from __future__ import annotations

from server.views.admin_common import ADMIN, blueprint, page

bp = blueprint("dashboard")


@bp.get("/")
@ADMIN
def home():
    return page("admin/dashboard.html")
