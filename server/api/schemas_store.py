"""Request and response models of the store-side API: redemptions, stores, clerks, holds, settlements."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, StrictFloat, StrictInt, field_validator

from server.api.schemas_alerts import Decision  # noqa: F401  (holds answer as alerts)
from server.api.spec import Body, Id, Int, Loose, text


class IdempotencyHeaders(Body):
    idempotency_key: text(255) | None = Field(
        None,
        alias="Idempotency-Key",
        description="Stripe semantics: a retry with the same key and body replays the first answer "
        "(Idempotent-Replayed: true); the same key with another body is IDEMPOTENCY_KEY_REUSED",
    )


class RedemptionIn(Body):
    voucher: text(400, min_length=1, description="the voucher's code or its rotating QR token")
    store_id: Id | None = Field(None, description="the store (admins and owners of several stores)")
    purchase_fen: Int | None = Field(None, description="the purchase, for a minimum spend (fen)")
    receipt_ref: text(100) | None = None


class Named(Loose):
    id: int
    name: str


class Redemption(Loose):
    id: int
    voucher: str
    value_fen: int
    store: Named
    clerk_id: int | None
    purchase_fen: int | None
    receipt_ref: str | None
    redeemed_at: str
    reversible_until: str


class Redeemed(Loose):
    redemption: Redemption


class Reversal(Loose):
    id: int
    voucher_id: int
    reversed_at: str


class Reversed(Loose):
    redemption: Reversal


class RecentRedemption(Loose):
    id: int
    voucher: str
    value_fen: int
    store_id: int
    store: str
    clerk_id: int | None
    redeemed_at: str
    reversed_at: str | None


class Redemptions(Loose):
    redemptions: list[RecentRedemption]


Number = StrictInt | StrictFloat


class StoreIn(Body):
    name: text(200, min_length=1)
    province: text(50) | None = Field(None, description="a province of China: 广东省, 广东 …")
    city: text(50) | None = Field(None, description="a city (深圳 → 深圳市, its province filled in)")
    address: text(300) | None = None
    lat: Number | None = Field(None, ge=-90, le=90)
    lng: Number | None = Field(None, ge=-180, le=180)
    owner: text(80) | Id | None = Field(None, description="the store owner's username or user id")
    owner_id: Id | None = Field(None, description="the store owner's user id (instead of `owner`)")


class Store(Loose):
    id: int
    name: str
    province: str
    city: str
    address: str
    lat: float | None
    lng: float | None
    owner_id: int | None
    active: bool


class Stores(Loose):
    stores: list[Store]


class ClerkIn(Body):
    username: text(80, min_length=1)
    password: text(200, description="at least 8 characters")
    store: text(200) | Id | None = Field(None, description="the clerk's store: its id or exact name")
    store_id: Id | None = Field(None, description="the clerk's store id (instead of `store`)")
    display_name: text(120) | None = None


class Clerk(Loose):
    id: int
    username: str
    display_name: str | None
    store_id: int | None
    promo_code: str | None
    active: bool


class Clerks(Loose):
    clerks: list[Clerk]


class TokenIn(Body):
    name: text(120) | None = Field(None, description="a label for the till (default POS)")


class PosToken(Loose):
    id: int
    store_id: int
    token: str = Field(description="shown once: send as Authorization: Bearer <token>")
    prefix: str


class ImportForm(Body):
    file: Any = Field(
        None,
        json_schema_extra={"type": "string", "format": "binary"},
        description="CSV or XLSX with a header row: stores (name, province, city, address, lat, lng, owner) "
        "or clerks (username, password, store, display_name)",
    )


class Imported(Loose):
    kind: str
    rows: int
    created: int


class Hold(Loose):
    hold_id: int
    alert_id: int
    alert_kind: str
    entry_id: int
    amount: int
    unit: str
    transaction: str


class Holds(Loose):
    holds: list[Hold]


class SettlementRunIn(Body):
    period_end: datetime | None = Field(None, description="ISO 8601 with a time zone (default: now)")

    @field_validator("period_end")
    @classmethod
    def _aware(cls, value):
        if value is not None and value.tzinfo is None:
            raise ValueError("a time zone is required")
        return value


class SettlementRun(Loose):
    period_end: str
    created: list[int]


class Account(Loose):
    kind: str
    ref_id: int | None


class Statement(Loose):
    id: int
    account: Account
    payee: str
    period_end: str
    total: int
    unit: str
    entries: list
    status: str
    paid_reference: str | None
    paid_at: str | None


class Statements(Loose):
    settlements: list[Statement]


class PaidIn(Body):
    reference: text(120, min_length=1, description="the payment's reference (bank transfer id …)")


class Paid(Loose):
    id: int
    status: str
    paid_reference: str
    paid_at: str
