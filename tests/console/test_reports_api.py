"""The reports API: every report answers with its OpenAPI schema, filters are validated, only admins may read,
and every table exports as CSV (BOM, formula-safe) and XLSX (text cells), streamed."""

from __future__ import annotations

import copy
import csv
import io

import jsonschema
import pytest
from openpyxl import load_workbook

from server.models import User
from server.services.accounts import create_token
from server.services.reports import REPORTS
from server.services.reports.tables import TABLES
from tests.console.world import build

QUERY = "?from=2026-05-04&to=2026-05-05"


@pytest.fixture
def world(app):
    return build(app)


@pytest.fixture
def auth(app, world):
    with app.extensions["codeloop"].sessions.begin() as s:
        plain, _ = create_token(
            s, user=s.get(User, world.ids["admin"]), now=__import__("server.models").models.utcnow()
        )
    return {"Authorization": f"Bearer {plain}"}


def _nullable(schema):
    """OpenAPI 3.0's `nullable` as JSON Schema's type list, for the validator."""
    if isinstance(schema, dict):
        schema = {k: _nullable(v) for k, v in schema.items()}
        if schema.pop("nullable", False):
            schema["type"] = [schema["type"], "null"]
        return schema
    if isinstance(schema, list):
        return [_nullable(v) for v in schema]
    return schema


def _response_schema(client, route):
    doc = client.get("/api/v1/openapi.json").get_json()
    ref = doc["paths"][route]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    components = _nullable(copy.deepcopy(doc["components"]["schemas"]))
    return {**components[ref.rsplit("/", 1)[1]], "components": {"schemas": components}}


def test_every_report_matches_its_schema(client, auth):
    for name in [*REPORTS, "timeseries?interval=hour", "filters"]:
        route = name.split("?")[0]
        url = f"/api/v1/reports/{name}" + (QUERY if "?" not in name else "&from=2026-05-04&to=2026-05-05")
        response = client.get(url, headers=auth)
        assert response.status_code == 200, response.get_data(as_text=True)
        jsonschema.validate(response.get_json(), _response_schema(client, f"/reports/{route}"))


def test_report_numbers_through_the_api(client, auth, world):
    body = client.get(f"/api/v1/reports/summary{QUERY}&campaign={world.ids['A']}", headers=auth).get_json()
    assert body["filters"]["campaign_id"] == world.ids["A"] and body["current"]["scans"] == 6
    days = client.get("/api/v1/reports/timeseries?to=2026-05-05&days=2", headers=auth).get_json()
    assert [p["t"] for p in days["points"]] == ["2026-05-04", "2026-05-05"]


BAD = [
    ("?campaign=x", "campaign"),
    ("?from=2026-13-01", "from"),
    ("?from=2026-05-06&to=2026-05-01", "from"),
    ("?days=0", "days"),
    ("?from=2020-01-01&to=2026-01-01", "from"),
]


def test_bad_filters_are_refused_by_name(client, auth):
    for query, field in BAD:
        response = client.get(f"/api/v1/reports/summary{query}", headers={**auth, "Accept-Language": "en"})
        assert response.status_code == 400
        error = response.get_json()["error"]
        assert error["code"] == "VALIDATION_FAILED" and error["details"]["field"] == field
        assert "report filters not understood" in error["message"]


def test_only_admins_read_reports(client, app, world):
    assert client.get("/api/v1/reports/summary").status_code == 401
    with app.extensions["codeloop"].sessions.begin() as s:
        plain, _ = create_token(
            s, user=s.get(User, world.ids["K1"]), now=__import__("server.models").models.utcnow()
        )
    assert (
        client.get("/api/v1/reports/summary", headers={"Authorization": f"Bearer {plain}"}).status_code == 403
    )


def test_every_table_exports_as_csv_and_xlsx(client, auth):
    for table in TABLES:
        _exports(client, auth, table)


def _exports(client, auth, table):
    response = client.get(f"/api/v1/reports/{table}.csv{QUERY}", headers={**auth, "Accept-Language": "en"})
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == TABLES[table].header("en") and len(rows) > 1
    xlsx = client.get(f"/api/v1/reports/{table}.xlsx{QUERY}", headers=auth)
    assert xlsx.status_code == 200 and xlsx.is_streamed
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert [c.value for c in sheet[1]] == TABLES[table].header("zh_CN")
    assert sheet.max_row == len(rows)


def test_a_formula_named_store_or_clerk_comes_out_as_text(client, auth, world):
    for table in ("stores", "clerks"):
        text = client.get(f"/api/v1/reports/{table}.csv{QUERY}", headers=auth).data.decode("utf-8-sig")
        cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
        assert '\'=HYPERLINK("http://x")' in cells and '=HYPERLINK("http://x")' not in cells
        book = load_workbook(
            io.BytesIO(client.get(f"/api/v1/reports/{table}.xlsx{QUERY}", headers=auth).data)
        )
        named = [c for row in book.active.iter_rows() for c in row if c.value == '=HYPERLINK("http://x")']
        assert named and all(c.data_type == "s" for c in named)


def test_money_is_exported_in_yuan(client, auth):
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(f"/api/v1/reports/stores.csv{QUERY}", headers=auth).data.decode("utf-8-sig")
            )
        )
    )
    assert rows[1][-2:] == ["8.00", "8.30"]  # 静安店: face value redeemed, payouts
    sheet = load_workbook(
        io.BytesIO(client.get(f"/api/v1/reports/stores.xlsx{QUERY}", headers=auth).data)
    ).active
    assert [c.value for c in sheet[2]][-2:] == [8, 8.3]
