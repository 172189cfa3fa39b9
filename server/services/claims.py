"""Claim a pack's voucher (and the shared pieces friend vouchers use): one voucher per pack, the campaign
window, cap, budget and per-consumer daily limit, all enforced by the database under concurrency.

Order inside the one transaction: lock the consumer row (serialises one consumer's claims, so the daily
count cannot race) → the campaign window → the daily count → in a SAVEPOINT: INSERT the voucher (the
UNIQUE code_id makes a concurrent second claim of the pack fail here) and the conditional
`UPDATE campaigns … WHERE issued_count < cap AND spent_fen + v <= budget_fen` → the voucher's
public code → the attributed clerk's reward (rewards.post_claim_reward).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, cast, func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from codegen.codes import Codec
from codegen.ids import PublicIds
from server.db import insert_ignoring_conflicts, is_postgres
from server.errors import DomainError
from server.models import Campaign, Code, Redemption, Scan, Store, Voucher
from server.services import consumers, rewards
from server.services.scans import active_clerk, is_claim_code, verify
from server.services.voucher_codes import canonical_code, voucher_code


@dataclass(frozen=True)
class Terms:
    """Where claim rules need clocks and keys."""

    secret: bytes
    tz: ZoneInfo
    hold_days: int


# ---- voucher codes -------------------------------------------------------------------------------


def find_voucher(session: Session, text: str) -> Voucher:
    canon = canonical_code(text)
    voucher = (
        session.execute(select(Voucher).where(Voucher.code == canon)).scalar_one_or_none() if canon else None
    )
    if voucher is None:
        raise DomainError("VOUCHER_NOT_FOUND")
    return voucher


# ---- shared rules --------------------------------------------------------------------------------


def day_start(now: datetime, tz: ZoneInfo) -> datetime:
    """Midnight of `now`'s day in the deployment time zone, as an aware datetime."""
    local = now.astimezone(tz)
    return datetime.combine(local.date(), time(0), tzinfo=tz)


def check_window(campaign: Campaign, now: datetime) -> None:
    """A claim needs the campaign inside its window and not paused."""
    if campaign.paused_at is not None or not campaign.starts_at <= now < campaign.ends_at:
        raise DomainError("CAMPAIGN_NOT_ACTIVE")


def check_daily_limit(
    session: Session, *, campaign: Campaign, consumer_id: int, now: datetime, tz: ZoneInfo
) -> None:
    """Vouchers of this campaign (pack and friend) issued to the consumer today, in the deployment's time
    zone. The caller holds the consumer's row lock, so the count cannot race."""
    start = day_start(now, tz)
    count = session.execute(
        select(func.count())
        .select_from(Voucher)
        .where(
            Voucher.consumer_id == consumer_id,
            Voucher.campaign_id == campaign.id,
            Voucher.issued_at >= start,
            Voucher.issued_at < start + timedelta(days=1),
        )
    ).scalar_one()
    if count >= campaign.per_consumer_daily_limit:
        raise DomainError("LIMIT_PER_CONSUMER", limit=campaign.per_consumer_daily_limit)


def spend(session: Session, campaign: Campaign, value_fen: int) -> None:
    """Count one voucher of `value_fen` against the cap and the budget, atomically."""
    done = session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign.id,
            Campaign.issued_count < Campaign.cap,
            Campaign.spent_fen + value_fen <= Campaign.budget_fen,
        )
        .values(issued_count=Campaign.issued_count + 1, spent_fen=Campaign.spent_fen + value_fen)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        raise DomainError("CAMPAIGN_EXHAUSTED")


def finish_voucher(
    session: Session, voucher: Voucher, *, ids: PublicIds, terms: Terms, campaign: Campaign, now: datetime
) -> Voucher:
    """Give a freshly inserted voucher its public code and post the attributed clerk's claim reward."""
    voucher.code = voucher_code(ids, terms.secret, voucher.id)
    session.flush()
    rewards.post_claim_reward(session, voucher=voucher, campaign=campaign, now=now, hold_days=terms.hold_days)
    return voucher


def placeholder_code() -> str:
    return "~" + secrets.token_hex(10)  # replaced by voucher_code() once the id is known


# ---- the pack claim ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    voucher: Voucher
    created: bool


def claim(
    session: Session,
    codec: Codec,
    ids: PublicIds,
    text: str,
    *,
    consumer_id: int,
    terms: Terms,
    now: datetime,
    gtin: str | None = None,
) -> Claimed:
    """Issue the pack's voucher to `consumer_id`; the same consumer again gets the same voucher."""
    check = verify(session, codec, text, gtin)
    if check.outcome != "ok":
        raise DomainError(check.error_code)
    if not is_claim_code(check):
        raise DomainError("CODE_NOT_CLAIMABLE")
    pack = check.code
    campaign = check.batch.campaign
    consumers.lock(session, consumer_id)
    # a claim normally follows a scan, but the pack's row may not exist yet (an API client that skipped it)
    key = dict(batch_id=pack.batch, serial=pack.serial, kind=pack.kind)
    session.execute(
        insert_ignoring_conflicts(session, Code, index_elements=["batch_id", "serial", "kind"]).values(
            **key, scan_count=1, first_scan_at=now, last_scan_at=now
        )
    )
    code_id = session.execute(select(Code.id).filter_by(**key)).scalar_one()
    existing = _existing(session, code_id, consumer_id)
    if existing is not None:
        return Claimed(existing, False)
    check_window(campaign, now)
    check_daily_limit(session, campaign=campaign, consumer_id=consumer_id, now=now, tz=terms.tz)
    value = campaign.voucher_value_fen
    voucher = Voucher(
        code=placeholder_code(),
        kind="pack",
        campaign_id=campaign.id,
        code_id=code_id,
        consumer_id=consumer_id,
        clerk_id=active_clerk(session, consumer_id, now),
        value_fen=value,
        min_spend_fen=campaign.voucher_min_spend_fen,
        status="issued",
        issued_at=now,
        expires_at=now + timedelta(days=campaign.voucher_valid_days),
        scan_to_claim_s=seconds_since_scan(session, code_id, consumer_id, now),
    )
    try:
        with session.begin_nested():
            session.add(voucher)
            session.flush()  # a concurrent claim of the same pack waits here, then fails on UNIQUE(code_id)
    except IntegrityError:  # the savepoint is rolled back; the outer transaction (scan lock etc.) lives on
        existing = _existing(session, code_id, consumer_id)
        if existing is None:
            raise
        return Claimed(existing, False)
    spend(session, campaign, value)
    return Claimed(finish_voucher(session, voucher, ids=ids, terms=terms, campaign=campaign, now=now), True)


def seconds_since_scan(session: Session, code_id: int, consumer_id: int, now: datetime):
    """SQL for the INSERT (no round trip of its own): seconds from the claiming consumer's latest scan of the
    pack — else the pack's first scan — to `now`."""
    scanned = func.coalesce(
        select(func.max(Scan.scanned_at))
        .where(Scan.code_id == code_id, Scan.consumer_id == consumer_id)
        .scalar_subquery(),
        select(Code.first_scan_at).where(Code.id == code_id).scalar_subquery(),
    )
    at = literal(now, Voucher.issued_at.type)
    if is_postgres(session):
        return cast(func.round(func.extract("epoch", at - scanned)), Integer)
    return cast(func.round((func.julianday(at) - func.julianday(scanned)) * 86400), Integer)


def _existing(session: Session, code_id: int, consumer_id: int) -> Voucher | None:
    voucher = session.execute(select(Voucher).where(Voucher.code_id == code_id)).scalar_one_or_none()
    if voucher is not None and voucher.consumer_id != consumer_id:
        raise DomainError("CODE_ALREADY_CLAIMED")
    return voucher


# ---- the voucher page ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VoucherState:
    voucher: Voucher
    campaign: Campaign
    state: str  # issued | redeemed | expired
    redeemed_at: datetime | None = None
    store: Store | None = None


def voucher_state(session: Session, voucher: Voucher, now: datetime) -> VoucherState:
    campaign = session.get(Campaign, voucher.campaign_id)
    if voucher.status == "redeemed":
        row = session.execute(
            select(Redemption, Store)
            .join(Store, Store.id == Redemption.store_id)
            .where(Redemption.voucher_id == voucher.id, Redemption.reversed_at.is_(None))
        ).first()
        return VoucherState(
            voucher, campaign, "redeemed", row[0].redeemed_at if row else None, row[1] if row else None
        )
    if voucher.expires_at <= now:
        return VoucherState(voucher, campaign, "expired")
    return VoucherState(voucher, campaign, "issued")
