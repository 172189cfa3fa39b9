"""Admin JSON API for the reports: /reports/<name> for every dashboard view, /reports/<table>.csv|.xlsx for
every table it shows (streamed), and /reports/filters for the filters' choices. Every report takes the same
query parameters: campaign, batch, product (ids), province, from and to (YYYY-MM-DD, local days) or days."""

from __future__ import annotations

from flask import Response, request, stream_with_context

from server.api import api
from server.api.openapi import path, schema
from server.api.report_schemas import SCHEMAS
from server.auth import require_staff
from server.errors import validation
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
        raise validation(
            f"report filters not understood: {', '.join(problems)} (ids are whole numbers, days YYYY-MM-DD, "
            f"at most {reports.MAX_DAYS} days)",
            zh=f"报表筛选条件有误：{', '.join(problems)}"
            f"（编号为整数，日期为 YYYY-MM-DD，最长 {reports.MAX_DAYS} 天）",
            field=problems[0],
        )
    return f


def context() -> reports.Context:
    return reports.Context(runtime().config.tz, utcnow())


def report_body(name: str, f: reports.Filters, **options) -> dict:
    return reports.run(db(), name, f, context(), **options)


@api.get("/reports/filters")
@ADMIN
def report_filters():
    return choices.report(db())


@api.get("/reports/<any(" + ", ".join(reports.REPORTS) + "):name>")
@ADMIN
def report(name: str):
    options = {}
    if name == "timeseries":
        interval = request.args.get("interval", "day")
        if interval not in ("day", "hour"):
            raise validation("interval must be day or hour", zh="interval 须为 day 或 hour", field="interval")
        options["interval"] = interval
    return report_body(name, filters(), **options)


@api.get("/reports/<any(" + ", ".join(TABLES) + "):table>.<any(csv, xlsx):fmt>")
@ADMIN
def report_export(table: str, fmt: str):
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


_PARAMS = [
    {"name": name, "in": "query", "required": False, "schema": body, "description": about}
    for name, body, about in [
        ("campaign", {"type": "integer"}, "campaign id"),
        ("batch", {"type": "integer"}, "batch id"),
        ("product", {"type": "integer"}, "product id"),
        ("province", {"type": "string"}, "canonical province name, e.g. 上海市 ('' for unplaced scans)"),
        ("from", {"type": "string", "format": "date"}, "first local day (default: 30 days before `to`)"),
        ("to", {"type": "string", "format": "date"}, "last local day (default: today)"),
        ("days", {"type": "integer"}, "the last N days to `to`, instead of `from`"),
    ]
]
_ERRORS = {
    "default": {
        "description": "error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
}
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

for _name, _summary in _SUMMARIES.items():
    _ref = schema(f"Report{_name.capitalize()}", SCHEMAS[f"Report{_name.capitalize()}"])
    _params = list(_PARAMS)
    if _name == "timeseries":
        _params.append(
            {"name": "interval", "in": "query", "schema": {"type": "string", "enum": ["day", "hour"]}}
        )
    path(
        f"/reports/{_name}",
        "get",
        {
            "summary": _summary,
            "tags": ["reports"],
            "security": [{"bearer": []}],
            "parameters": _params,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": _ref}}},
                **_ERRORS,
            },
        },
    )
path(
    "/reports/filters",
    "get",
    {
        "summary": "the choices of the report filters",
        "tags": ["reports"],
        "security": [{"bearer": []}],
        "responses": {
            "200": {
                "description": "OK",
                "content": {
                    "application/json": {
                        "schema": schema("ReportFilterChoices", SCHEMAS["ReportFilterChoices"])
                    }
                },
            },
            **_ERRORS,
        },
    },
)
for _table, _spec in TABLES.items():
    for _fmt, _type in (("csv", spreadsheets.CSV_TYPE), ("xlsx", spreadsheets.XLSX_TYPE)):
        path(
            f"/reports/{_table}.{_fmt}",
            "get",
            {
                "summary": f"the {_table} table of /reports/{_spec.report} as {_fmt.upper()} (streamed)",
                "tags": ["reports"],
                "security": [{"bearer": []}],
                "parameters": _PARAMS,
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {_type: {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **_ERRORS,
                },
            },
        )
