"""Request and response models of the consumer API: scan, claim, vouchers, referrals, promo, phone."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from server.api.spec import Body, Loose, text


class ScanQuery(Body):
    gtin: text(20) | None = Field(None, description="the GTIN of a GS1 Digital Link URL, if scanned from one")


class NewConsumer(Loose):
    consumer_token: str = Field(description="send as X-Consumer-Token (or Authorization: Consumer <token>)")
    phone: str | None = Field(description="the bound phone, masked")


class FirstScan(Loose):
    at: str
    city: str | None


class Offer(Loose):
    campaign: str
    value_fen: int
    min_spend_fen: int


class ProductRef(Loose):
    id: int
    name: str
    gtin: str | None


class Scan(Loose):
    outcome: Literal["ok"]
    consumer_token: str = Field(description="this consumer's token (a new consumer's when none was sent)")
    verdict: Literal["first_scan", "scanned_before"]
    product: ProductRef
    scan_count: int
    first_scan: FirstScan
    claimable: bool
    claimed: bool
    voucher: str | None = Field(description="this consumer's voucher for the pack, if claimed")
    offer: Offer | None
    claim_token: str | None = Field(description="the canonical code to POST to /scan/{claim_token}/claim")


class Friend(Loose):
    value_fen: int
    state: str
    issued_at: str
    redeemed_at: str | None
    bonus_points: int


class Share(Loose):
    url: str
    left: int
    friend_value_fen: int
    bonus_points_per_friend: int
    friends: list[Friend]
    bonus_points: int


class Ref(Loose):
    id: int
    name: str


class Voucher(Loose):
    code: str
    kind: Literal["pack", "friend"]
    state: str
    value_fen: int
    min_spend_fen: int
    issued_at: str
    expires_at: str
    campaign: Ref
    redeemed_at: str | None
    store: Ref | None = Field(description="where it was redeemed")
    qr: str | None = Field(None, description="holder only, while issued: what the till scans")
    qr_refresh_seconds: int | None = Field(None, description="seconds until a rotating qr changes")
    share: Share | None = Field(None, description="holder of a pack voucher: its share link")


class Claimed(Loose):
    created: bool
    voucher: Voucher


class VoucherAnswer(Loose):
    voucher: Voucher


class PromoClerk(Loose):
    promo_code: str
    name: str


class PromoStore(Loose):
    id: int
    name: str
    city: str | None


class Attached(Loose):
    clerk: PromoClerk
    store: PromoStore | None
    expires_at: str


class PhoneIn(Body):
    phone: text(20, min_length=1, description="a mainland China mobile number")


class PhoneVerifyIn(PhoneIn):
    code: text(12, min_length=1, description="the one-time code sent by SMS")


class Sent(Loose):
    sent: bool


class Phone(Loose):
    phone: str | None
