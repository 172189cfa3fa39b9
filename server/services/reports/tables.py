"""Every table the dashboard shows, as its exports carry it: which report it comes from, its columns (with
English and Chinese headings) and its rows. Money is shown in yuan (exact, two decimals)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from server.formats import yuan


@dataclass(frozen=True)
class Table:
    report: str
    columns: tuple[tuple[str, str, str], ...]  # (key, English heading, Chinese heading)
    rows: Callable[[dict], list[dict]]
    options: tuple[tuple[str, str], ...] = ()  # extra arguments to the report

    def header(self, language: str) -> list[str]:
        return [en if language.startswith("en") else zh for _, en, zh in self.columns]

    def cells(self, body: dict) -> Iterator[list]:
        for row in self.rows(body):
            yield [_cell(key, row.get(key)) for key, _, _ in self.columns]


def _cell(key: str, value):
    if key.endswith("_fen") and isinstance(value, int):
        return Decimal(yuan(value))
    return "" if value is None else value


def _cards(body: dict) -> list[dict]:
    """KPI cards; a card of money shows its amounts in yuan."""
    out = []
    for card in body["cards"]:
        if card["name"].endswith("_fen"):
            card = {**card, **{k: _cell("_fen", card[k]) for k in ("value", "previous")}}
        out.append(card)
    return out


def _ledger_rows(body: dict) -> list[dict]:
    return [{"payee": kind, **body["ledger"][kind]} for kind in ("store", "clerk")]


C = {  # common columns
    "scans": ("scans", "Scans", "扫码次数"),
    "first_scans": ("first_scans", "Packs scanned", "首次扫码（包）"),
    "claims": ("claims", "Vouchers claimed", "领券数"),
    "friend_vouchers": ("friend_vouchers", "Friend vouchers", "好友券"),
    "redemptions": ("redemptions", "Redemptions", "核销数"),
    "diverted_scans": ("diverted_scans", "Diverted scans", "窜货扫码"),
    "payouts_fen": ("payouts_fen", "Store payouts (yuan)", "门店结算（元）"),
    "rewards_fen": ("rewards_fen", "Clerk rewards (yuan)", "导购奖励（元）"),
    "redeemed_value_fen": ("redeemed_value_fen", "Face value redeemed (yuan)", "核销面额（元）"),
    "share": ("share", "Share of scans", "扫码占比"),
    "province": ("province", "Province", "省份"),
}
SERIES = tuple(C[k] for k in ("scans", "first_scans", "claims", "friend_vouchers", "redemptions"))
SERIES += (C["payouts_fen"], C["rewards_fen"])

TABLES: dict[str, Table] = {
    "kpis": Table(
        "summary",
        (
            ("name", "Figure", "指标"),
            ("value", "This period", "本期"),
            ("previous", "Previous period", "上期"),
            ("change", "Change", "变化"),
        ),
        _cards,
    ),
    "funnel": Table(
        "funnel",
        (
            ("step", "Step", "环节"),
            ("count", "Packs", "数量"),
            ("of_previous", "Of the step before", "占上一环节"),
            ("of_printed", "Of printed", "占印刷量"),
        ),
        lambda b: b["steps"],
    ),
    "daily": Table("timeseries", (("t", "Day", "日期"), *SERIES), lambda b: b["points"]),
    "hourly": Table(
        "timeseries", (("t", "Hour", "小时"), *SERIES), lambda b: b["points"], (("interval", "hour"),)
    ),
    "heatmap": Table(
        "heatmap",
        (("weekday", "Weekday (1 = Monday)", "星期（1 = 周一）"), ("hour", "Hour", "小时"), C["scans"])
        + (C["claims"], C["redemptions"]),
        lambda b: b["cells"],
    ),
    "provinces": Table(
        "geo",
        (C["province"], C["scans"], C["first_scans"], C["claims"], C["redemptions"], C["diverted_scans"])
        + (C["share"],),
        lambda b: b["provinces"],
    ),
    "cities": Table(
        "geo",
        (C["province"], ("city", "City", "城市"), C["scans"], C["first_scans"], C["claims"])
        + (C["redemptions"], C["diverted_scans"], C["share"]),
        lambda b: b["cities"],
    ),
    "stores": Table(
        "stores",
        (("rank", "Rank", "排名"), ("store_id", "Store id", "门店编号"), ("name", "Store", "门店"))
        + (("store_province", "Province", "省份"), ("store_city", "City", "城市"), C["claims"])
        + (C["redemptions"], ("friend_redemptions", "Friend vouchers redeemed", "好友券核销"))
        + (C["redeemed_value_fen"], C["payouts_fen"]),
        lambda b: b["stores"],
    ),
    "clerks": Table(
        "clerks",
        (("rank", "Rank", "排名"), ("clerk_id", "Clerk id", "导购编号"), ("name", "Clerk", "导购"))
        + (("store", "Store", "门店"), C["scans"], C["claims"], C["redemptions"], C["rewards_fen"]),
        lambda b: b["clerks"],
    ),
    "referrals": Table(
        "referrals",
        (("t", "Day", "日期"), ("shares", "Share links", "分享次数"), C["friend_vouchers"])
        + (
            ("friend_redemptions", "Friend vouchers redeemed", "好友券核销"),
            ("points", "Bonus points", "奖励积分"),
        ),
        lambda b: b["points"],
    ),
    "payouts": Table(
        "payouts",
        (("payee", "Payee", "收款方"), ("held_fen", "Held by alerts (yuan)", "预警冻结（元）"))
        + (
            ("in_statement_fen", "In open statements (yuan)", "待付款结算单（元）"),
            ("paid_fen", "Paid (yuan)", "已付（元）"),
        ),
        lambda b: [{f"{k}_fen" if k != "payee" else k: v for k, v in r.items()} for r in _ledger_rows(b)],
    ),
    "diversion": Table(
        "diversion",
        (("distributor", "Distributor", "经销商"), C["scans"], C["diverted_scans"])
        + (("rate", "Diverted share", "窜货比例"), ("open_alerts", "Open alerts", "未处理预警")),
        lambda b: b["distributors"],
    ),
    "diversion_places": Table(
        "diversion",
        (("distributor", "Distributor", "经销商"), C["province"], C["diverted_scans"]),
        lambda b: b["places"],
    ),
}
