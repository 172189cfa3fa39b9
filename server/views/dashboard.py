"""The brand manager's dashboard at /admin/: every report of server/services/reports for the chosen filters,
as tables (the page without JavaScript) and as charts drawn by static/admin/dashboard.js with the vendored
ECharts from the same figures, passed as JSON in the page."""

from __future__ import annotations

from flask import request
from flask_babel import gettext

from server.models import utcnow
from server.services import reports
from server.services.alerts import list_alerts
from server.services.reports import choices
from server.services.reports.tables import TABLES
from server.views.admin_common import ADMIN, blueprint, ignored, page
from server.web import db, language, runtime

bp = blueprint("dashboard")
VIEWS = {  # what the page shows: key -> (report, options)
    "summary": ("summary", {}),
    "funnel": ("funnel", {}),
    "daily": ("timeseries", {}),
    "hourly": ("timeseries", {"interval": "hour"}),
    "heatmap": ("heatmap", {}),
    "geo": ("geo", {}),
    "stores": ("stores", {}),
    "clerks": ("clerks", {}),
    "referrals": ("referrals", {}),
    "payouts": ("payouts", {}),
    "diversion": ("diversion", {}),
}


@bp.get("/")
@ADMIN
def home():
    tz = runtime().config.tz
    f, problems = reports.parse_filters(request.args, utcnow().astimezone(tz).date())
    ignored(problems)
    ctx = reports.Context(tz, utcnow())
    data = {key: reports.run(db(), name, f, ctx, **options) for key, (name, options) in VIEWS.items()}
    places = {p["province"] for p in data["geo"]["provinces"]}
    return page(
        "admin/dashboard.html",
        f=f,
        query=f.query(),
        undated={k: v for k, v in f.query().items() if k not in ("from", "to")},
        province_names={p: _place(p) for p in places},
        data=data,
        choices=choices.report(db()),
        english=choices.english,
        open_alerts=list_alerts(db(), status="open", limit=8),
        tables=TABLES,
    )


def _place(province: str) -> str:
    """A province as the reader's language names it ('' is a scan not placed)."""
    if not province:
        return gettext("not placed")
    return choices.english(province) if language() == "en" else province
