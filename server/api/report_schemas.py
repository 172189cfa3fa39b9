"""Response schemas of /api/v1/reports/… as plain JSON Schema (OpenAPI 3.0), all in this one place, also
as response models (MODELS) of the generated document. tests/console/test_reports_api.py validates every
report's answer against its schema."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from server.api.spec import QueryId
from server.errors import validation
from server.services import reports

INT = {"type": "integer"}
STR = {"type": "string"}
RATIO = {"type": "number", "nullable": True}
DAY = {"type": "string", "format": "date"}


def obj(props: dict, required: list[str] | None = None) -> dict:
    return {"type": "object", "properties": props, "required": required or list(props)}


def arr(items: dict) -> dict:
    return {"type": "array", "items": items}


def counts(*names: str) -> dict:
    return {name: INT for name in names}


FILTERS = obj(
    {
        "from": DAY,
        "to": DAY,
        "campaign_id": {"type": "integer", "nullable": True},
        "batch_id": {"type": "integer", "nullable": True},
        "product_id": {"type": "integer", "nullable": True},
        "province": {"type": "string", "nullable": True},
    }
)
PERIOD_TOTALS = obj(
    {
        **counts(
            "scans",
            "first_scans",
            "new_consumers",
            "consumers",
            "claims",
            "friend_vouchers",
            "shares",
            "redemptions",
            "friend_redemptions",
            "redeemed_value_fen",
            "payouts_fen",
            "rewards_fen",
            "points",
            "diverted_scans",
            "alert_scans",
            "scans_blocked",
            "claim_seconds",
            "claims_timed",
            "redeem_seconds",
            "redemptions_timed",
            "accrued_fen",
            "real_scans",
            "alerts",
        ),
        "real_scan_rate": RATIO,
        "avg_scan_to_claim_s": RATIO,
        "avg_claim_to_redeem_s": RATIO,
    }
)
CARD = obj(
    {
        "name": STR,
        "value": {"type": "number", "nullable": True},
        "previous": {"type": "number", "nullable": True},
        "change": RATIO,
    }
)
SERIES_POINT = obj({"t": STR, **counts("scans", "first_scans", "claims", "friend_vouchers", "redemptions")})
SERIES_POINT["properties"].update(counts("payouts_fen", "rewards_fen"))
SERIES_POINT["required"] = list(SERIES_POINT["properties"])
GEO_ROW = counts("scans", "first_scans", "claims", "redemptions", "diverted_scans")
LEDGER_STATE = obj(counts("held", "in_statement", "paid"))

SCHEMAS: dict[str, dict] = {
    "ReportSummary": obj(
        {
            "filters": FILTERS,
            "previous_period": obj({"from": DAY, "to": DAY}),
            "printed": INT,
            "activated": INT,
            "current": PERIOD_TOTALS,
            "previous": PERIOD_TOTALS,
            "cards": arr(CARD),
        }
    ),
    "ReportFunnel": obj(
        {
            "filters": FILTERS,
            "steps": arr(
                obj(
                    {
                        "step": {
                            "type": "string",
                            "enum": ["printed", "activated", "scanned", "claimed", "redeemed"],
                        },
                        "count": INT,
                        "of_previous": RATIO,
                        "of_printed": RATIO,
                    }
                )
            ),
        }
    ),
    "ReportTimeseries": obj(
        {
            "filters": FILTERS,
            "interval": {"type": "string", "enum": ["day", "hour"]},
            "shown_from": DAY,
            "measures": arr(STR),
            "points": arr(SERIES_POINT),
        },
        ["filters", "interval", "measures", "points"],
    ),
    "ReportHeatmap": obj(
        {
            "filters": FILTERS,
            "measures": arr(STR),
            "cells": arr(obj({"weekday": INT, "hour": INT, **counts("scans", "claims", "redemptions")})),
            "max": obj(counts("scans", "claims", "redemptions")),
        }
    ),
    "ReportGeo": obj(
        {
            "filters": FILTERS,
            "total_scans": INT,
            "provinces": arr(obj({"province": STR, **GEO_ROW, "share": RATIO})),
            "cities": arr(obj({"province": STR, "city": STR, **GEO_ROW, "share": RATIO})),
        }
    ),
    "ReportStores": obj(
        {
            "filters": FILTERS,
            "stores": arr(
                obj(
                    {
                        "rank": INT,
                        "store_id": INT,
                        "name": STR,
                        "store_province": STR,
                        "store_city": STR,
                        **counts(
                            "claims", "redemptions", "friend_redemptions", "redeemed_value_fen", "payouts_fen"
                        ),
                    }
                )
            ),
        }
    ),
    "ReportClerks": obj(
        {
            "filters": FILTERS,
            "clerks": arr(
                obj(
                    {
                        "rank": INT,
                        "clerk_id": INT,
                        "name": STR,
                        "username": STR,
                        "store": {"type": "string", "nullable": True},
                        **counts("scans", "claims", "redemptions", "rewards_fen"),
                    }
                )
            ),
        }
    ),
    "ReportReferrals": obj(
        {
            "filters": FILTERS,
            "totals": obj(
                {
                    **counts("shares", "friend_vouchers", "friend_redemptions", "points"),
                    "vouchers_per_share": RATIO,
                    "redemption_rate": RATIO,
                }
            ),
            "campaigns": arr(
                obj(
                    {
                        "campaign_id": INT,
                        "name": STR,
                        **counts("shares", "friend_vouchers", "friend_redemptions", "points"),
                        "vouchers_per_share": RATIO,
                        "redemption_rate": RATIO,
                    }
                )
            ),
            "points": arr(
                obj({"t": DAY, **counts("shares", "friend_vouchers", "friend_redemptions", "points")})
            ),
        }
    ),
    "ReportPayouts": obj(
        {
            "filters": FILTERS,
            "accrued": obj(
                counts("payouts_fen", "rewards_fen", "points", "redeemed_value_fen", "accrued_fen")
            ),
            "ledger": obj({"store": LEDGER_STATE, "clerk": LEDGER_STATE, "as_of": STR}),
        }
    ),
    "ReportDiversion": obj(
        {
            "filters": FILTERS,
            "distributors": arr(
                obj({"distributor": STR, **counts("scans", "diverted_scans", "open_alerts"), "rate": RATIO})
            ),
            "places": arr(obj({"distributor": STR, "province": STR, "diverted_scans": INT})),
        }
    ),
    "ReportFilterChoices": obj(
        {
            "campaigns": arr(obj({"id": INT, "name": STR})),
            "batches": arr(obj({"id": INT, "name": STR})),
            "products": arr(obj({"id": INT, "name": STR})),
            "provinces": arr(STR),
        }
    ),
}


def _openapi31(schema):
    """OpenAPI 3.1 (JSON Schema) spelling of the schemas above: `nullable` becomes a "null" type."""
    if isinstance(schema, list):
        return [_openapi31(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _openapi31(v) for k, v in schema.items() if k != "nullable"}
    if schema.get("nullable"):
        out["type"] = [out["type"], "null"]
    return out


def _model(name: str, schema: dict) -> type[RootModel]:
    def replace(target: dict, _cls) -> None:
        target.clear()
        target.update(_openapi31(schema))

    return type(name, (RootModel[dict[str, Any]],), {"model_config": ConfigDict(json_schema_extra=replace)})


# the same schemas as response models for the generated document (server/api/spec.py)
MODELS: dict[str, type[RootModel]] = {name: _model(name, body) for name, body in SCHEMAS.items()}


def filters_refusal(problems: list[str]):
    """VALIDATION_FAILED naming the report filters that were not understood."""
    return validation(
        f"report filters not understood: {', '.join(problems)} (ids are whole numbers, days YYYY-MM-DD, "
        f"at most {reports.MAX_DAYS} days)",
        zh=f"报表筛选条件有误：{', '.join(problems)}"
        f"（编号为整数，日期为 YYYY-MM-DD，最长 {reports.MAX_DAYS} 天）",
        field=problems[0],
    )


class ReportQuery(BaseModel):
    """The filters every report takes."""

    model_config = ConfigDict(populate_by_name=True)
    campaign: QueryId | None = Field(None, description="campaign id")
    batch: QueryId | None = Field(None, description="batch id")
    product: QueryId | None = Field(None, description="product id")
    province: str | None = Field(
        None, description="canonical province name, e.g. 上海市 ('' for unplaced scans)"
    )
    from_: date | None = Field(
        None, alias="from", description="first local day (default: 30 days before `to`)"
    )
    to: date | None = Field(None, description="last local day, inclusive (default: today)")
    days: int | None = Field(None, ge=1, description="the last N days to `to`, instead of `from`")

    @staticmethod
    def refuse(field: str):
        """A filter that does not parse is refused like every other filter problem (reports.filters)."""
        return filters_refusal([field])


class TimeseriesQuery(ReportQuery):
    interval: Literal["day", "hour"] = Field("day", description="hour: the last 31 days of the range")

    @staticmethod
    def refuse(field: str):
        from server.errors import validation

        if field == "interval":
            return validation(
                "interval must be day or hour", zh="interval 须为 day 或 hour", field="interval"
            )
        return ReportQuery.refuse(field)
