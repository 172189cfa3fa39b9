"""Response schemas of /api/v1/reports/… as plain JSON Schema (OpenAPI 3.0), all in this one place, so
that they can move to generated models in one step. tests/console/test_reports_api.py validates every
report's answer against its schema."""

from __future__ import annotations

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
