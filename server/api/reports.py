"""Admin JSON API for the reports: /reports/<name> for every dashboard view, /reports/<table>.csv|.xlsx for
every table it shows (streamed), and /reports/filters for the filters' choices. Every report takes the same
query parameters: campaign, batch, product (ids), province, from and to (YYYY-MM-DD, local days) or days."""

from __future__ import annotations

from flask import Response, request, stream_with_context

from server.api import api, spec
from server.api.report_schemas import MODELS, ReportQuery, TimeseriesQuery, filters_refusal
from server.api.spec import doc
from server.auth import require_staff
from server.models import utcnow
from server.services import reports, spreadsheets
from server.services.reports import choices
from server.services.reports.tables import TABLES
from server.web import db, language, runtime

ADMIN = require_staff("admin")


def filters() -> reports.Filters:
    """The request's report filters; a value that is not understood is refused, naming it."""
    tz = runtime().config.tz
    f, problems = reports.parse_filters(request.args, utcnow().astimezone(tz).date())
    if problems:
        raise filters_refusal(problems)
    return f


def context() -> reports.Context:
    return reports.Context(runtime().config.tz, utcnow())


def report_body(name: str, f: reports.Filters, **options) -> dict:
    return reports.run(db(), name, f, context(), **options)


def _doc(ok: dict, **kw):
    return doc(security=spec.ADMIN, ok=ok, tags=("reports",), **kw)


@api.get("/reports/filters")
@ADMIN
@_doc({200: MODELS["ReportFilterChoices"]})
def report_filters():
    """The choices of the report filters"""
    return choices.report(db())


def _report_view(name: str):
    def view():
        options = {"interval": request.args.get("interval", "day")} if name == "timeseries" else {}
        return report_body(name, filters(), **options)

    view.__name__ = f"report_{name}"
    view.__doc__ = _SUMMARIES[name]
    query = TimeseriesQuery if name == "timeseries" else ReportQuery
    return ADMIN(_doc({200: MODELS[f"Report{name.capitalize()}"]}, query=query)(view))


_SUMMARIES = {
    "summary": "KPI cards against the previous period of the same length",
    "funnel": "printed → activated → scanned → claimed → redeemed",
    "timeseries": "daily series, or hourly (interval=hour, the last 31 days of the range)",
    "heatmap": "hour × weekday of scans, claims and redemptions",
    "geo": "provinces and cities ranked by scans",
    "stores": "store leaderboard",
    "clerks": "clerk (导购) leaderboard",
    "referrals": "share links, friend vouchers and their redemptions, bonus points",
    "payouts": "rewards and payouts accrued in the period; money owed now by state (ledger)",
    "diversion": "scans outside intended regions by distributor",
}
for _name in reports.REPORTS:  # one route per report: each answers its own schema
    api.add_url_rule(f"/reports/{_name}", view_func=_report_view(_name), methods=["GET"])


@api.get("/reports/<any(" + ", ".join(TABLES) + "):table>.<any(csv, xlsx):fmt>")
@ADMIN
@_doc({200: None}, query=ReportQuery)
def report_export(table: str, fmt: str):
    """A report's table as CSV or XLSX (streamed), with the report's filters"""
    spec = TABLES[table]
    body = report_body(spec.report, filters(), **dict(spec.options))
    header, rows = spec.header(language()), spec.cells(body)
    name = f"{table}-{body['filters']['from']}-{body['filters']['to']}.{fmt}"
    if fmt == "csv":
        chunks, mimetype = spreadsheets.iter_csv(header, rows), spreadsheets.CSV_TYPE
    else:
        chunks, mimetype = spreadsheets.iter_xlsx(header, rows, table), spreadsheets.XLSX_TYPE
    response = Response(
        stream_with_context(chunks), headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
    response.headers["Content-Type"] = mimetype
    return response
