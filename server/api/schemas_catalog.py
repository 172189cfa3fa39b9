"""Request and response models of the admin catalogue API: products, campaigns, batches, exports, codes."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field, StrictBool, field_validator

from server.api.spec import Body, Id, Int, Loose, QueryInt, text

NullableText = str | None


class ProductIn(Body):
    name: text(200, min_length=1, description="1-200 characters")
    gtin: text(20) | None = Field(None, description="GTIN-8/12/13/14 (check digit verified); needed for gs1")
    url_form: Literal["short", "gs1"] = Field("short", description="short: /s/{code}; gs1: GS1 Digital Link")
    description: text(2000) = ""


class Product(Loose):
    id: int
    name: str
    gtin: str | None
    url_form: str
    description: str
    created_at: str


class Products(Loose):
    products: list[Product]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("a time zone is required")
    return value


class CampaignIn(Body):
    """A campaign and its reward rules; every amount is a whole number of fen (or points, days, minutes)
    from 0 to 10^12. voucher_value_fen, cap and budget_fen must be positive."""

    name: text(200, min_length=1)
    starts_at: datetime = Field(description="ISO 8601 with a time zone")
    ends_at: datetime = Field(description="ISO 8601 with a time zone, after starts_at")
    rotating_token: StrictBool = Field(False, description="the voucher QR is a token renewed every minute")
    voucher_value_fen: Int = Field(description="the voucher's value (fen)")
    voucher_min_spend_fen: Int = Field(None, description="the purchase the voucher needs (fen)")
    voucher_valid_days: Int = Field(None, description="days a voucher stays valid (default 30)")
    cap: Int = Field(description="most vouchers the campaign issues")
    budget_fen: Int = Field(description="most money the campaign pays out (fen)")
    per_consumer_daily_limit: Int = Field(None, description="vouchers per consumer per day (default 3)")
    referral_bonus_points: Int = Field(None, description="points to a sharer per friend's voucher")
    referral_friend_value_fen: Int = Field(None, description="a friend voucher's value (fen)")
    referral_limit_per_share: Int = Field(None, description="friend vouchers per share link")
    clerk_claim_reward_fen: Int = Field(None, description="to the attributed clerk per claim (fen)")
    clerk_redeem_reward_fen: Int | None = Field(
        None, description="to the attributed clerk per redemption (fen)"
    )
    store_fee_fen: Int = Field(None, description="to the redeeming store per redemption (fen)")
    attribution_minutes: Int = Field(None, description="how long a clerk's promo code attributes")

    _aware = field_validator("starts_at", "ends_at")(_aware)


class Campaign(Loose):
    id: int
    name: str
    starts_at: str
    ends_at: str
    rotating_token: bool
    issued_count: int
    spent_fen: int
    voucher_value_fen: int
    voucher_min_spend_fen: int
    voucher_valid_days: int
    cap: int
    budget_fen: int
    per_consumer_daily_limit: int
    referral_bonus_points: int
    referral_friend_value_fen: int
    referral_limit_per_share: int
    clerk_claim_reward_fen: int
    clerk_redeem_reward_fen: int
    store_fee_fen: int
    attribution_minutes: int


class Campaigns(Loose):
    campaigns: list[Campaign]


class BatchIn(Body):
    product_id: Id
    campaign_id: Id
    quantity: Int = Field(description="1 to 100,000,000 codes")
    paired: StrictBool = Field(False, description="each pack also has an outer (authenticity-only) code")
    note: text(500) = ""


class Range(Loose):
    id: int
    kind: Literal["activate", "blacklist"]
    first_serial: int
    last_serial: int
    count: int
    distributor: str | None
    regions: list[str] | None
    reason: str | None
    created_at: str


class Export(Loose):
    id: int
    batch_id: int
    status: str
    done_count: int
    roll_size: int
    error: str | None
    created_at: str
    finished_at: str | None


class Batch(Loose):
    id: int
    number: str
    product_id: int
    campaign_id: int
    quantity: int
    paired: bool
    url_form: str
    url_template: str
    note: str
    created_at: str
    first_code: str
    ranges: list[Range] | None = None
    exports: list[Export] | None = None


class Batches(Loose):
    batches: list[Batch]


class RangeIn(Body):
    """Serials first_serial..last_serial (inclusive) of the batch."""

    REFUSALS: ClassVar[dict] = {
        "regions": ("regions must be a list of province names", "销售区域须为省份名称列表")
    }
    first_serial: Int
    last_serial: Int
    distributor: text(200) | None = Field(None, description="activate: who the packs were shipped to")
    regions: list[text(200)] = Field([], description="activate: provinces where they may be sold")
    reason: text(200) | None = Field(None, description="blacklist: why (required)")


class CodesQuery(Body):
    from_: QueryInt | None = Field(None, alias="from", description="first serial (inclusive), default 0")
    to: QueryInt | None = Field(
        None,
        description="serial to stop at, exclusive (default: the batch's quantity): from=0&to=100 "
        "streams serials 0..99",
    )


class PackageQuery(Body):
    roll_size: QueryInt | None = Field(None, description="codes per roll file (default 10,000)")


class ImagesQuery(Body):
    format: Literal["png", "svg"] = "png"


class ExportIn(Body):
    roll_size: Int = Field(10_000, description="codes per roll file")


class CodeHistory(Loose):
    """One code's verification outcome, batch, ranges, scans, voucher, redemptions and alerts."""

    outcome: str
    reason: str | None = None


class JobsQuery(Body):
    limit: QueryInt | None = Field(None, description="failed rows listed per kind (1-200, default 20)")


class JobStatus(Loose):
    ok: bool
    mode: Literal["redis", "inline"]
    kinds: list[dict]
    queues: list[dict]
