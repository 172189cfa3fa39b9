"""Share links and friend vouchers.

A consumer's pack voucher gets one share link (`/r/<token>`, share_limit = campaign.referral_limit_per_share).
A friend may claim one friend voucher per link (UNIQUE(referral_id, consumer_id)); the link's uses are
counted with a conditional UPDATE (used_count < share_limit); friend vouchers count against the
campaign's cap and budget like pack vouchers. Self-referral is refused (REFERRAL_SELF) for the same
consumer, the same device cookie, the same phone hash, or the same network (IPv4 /24, IPv6 /48) as
any scan by the sharer within NETWORK_WINDOW.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from codegen.ids import ID_ALPHABET, PublicIds
from server.db import insert_ignoring_conflicts
from server.errors import DomainError
from server.models import Campaign, Consumer, Referral, Scan, Voucher
from server.services import consumers
from server.services.claims import (
    Terms,
    check_daily_limit,
    check_window,
    finish_voucher,
    normalize_voucher_code,
    placeholder_code,
    spend,
)
from server.services.scans import active_clerk

NETWORK_WINDOW = timedelta(days=7)
TOKEN_LENGTH = 12


def offers_referral(campaign: Campaign) -> bool:
    return campaign.referral_limit_per_share > 0 and campaign.referral_friend_value_fen > 0


def share_for(session: Session, voucher: Voucher, campaign: Campaign, now: datetime) -> Referral | None:
    """The voucher's share link, created on first use (race-free: UNIQUE voucher_id); pack vouchers only."""
    if voucher.kind != "pack" or not offers_referral(campaign):
        return None
    session.execute(
        insert_ignoring_conflicts(session, Referral, index_elements=["voucher_id"]).values(
            token="".join(secrets.choice(ID_ALPHABET) for _ in range(TOKEN_LENGTH)),
            voucher_id=voucher.id,
            sharer_id=voucher.consumer_id,
            share_limit=campaign.referral_limit_per_share,
            used_count=0,
            created_at=now,
        )
    )
    return session.execute(select(Referral).where(Referral.voucher_id == voucher.id)).scalar_one()


def existing_share(session: Session, voucher: Voucher) -> Referral | None:
    return session.execute(select(Referral).where(Referral.voucher_id == voucher.id)).scalar_one_or_none()


def campaign_of(session: Session, referral: Referral) -> Campaign:
    return session.get(Campaign, session.get(Voucher, referral.voucher_id).campaign_id)


def find(session: Session, token: str) -> Referral:
    canon = normalize_voucher_code(token)  # same alphabet and normalisation as voucher codes
    referral = (
        session.execute(select(Referral).where(Referral.token == canon)).scalar_one_or_none()
        if canon
        else None
    )
    if referral is None:
        raise DomainError("REFERRAL_NOT_FOUND")
    return referral


def friend_vouchers(session: Session, referral: Referral) -> list[Voucher]:
    return list(
        session.execute(
            select(Voucher).where(Voucher.referral_id == referral.id).order_by(Voucher.id)
        ).scalars()
    )


@dataclass(frozen=True)
class Requester:
    consumer: Consumer
    device_id: str | None
    ip: str | None


def check_not_self(
    session: Session, referral: Referral, who: Requester, *, secret: bytes, now: datetime
) -> None:
    sharer = session.get(Consumer, referral.sharer_id)
    if who.consumer.id == sharer.id:
        raise DomainError("REFERRAL_SELF", why="consumer")
    for mine, theirs, why in (
        (who.device_id or who.consumer.device_id, sharer.device_id, "device"),
        (who.consumer.phone_hash, sharer.phone_hash, "phone"),
    ):
        if mine and theirs and mine == theirs:
            raise DomainError("REFERRAL_SELF", why=why)
    mine = consumers.network_hash(secret, who.ip)
    if mine:
        # the sharer's networks: the enrichment's hash, or the raw address while enrichment is pending (the
        # address itself is dropped after the retention window; the hash stays)
        seen = session.execute(
            select(Scan.net_hash, Scan.ip)
            .where(Scan.consumer_id == sharer.id, Scan.scanned_at >= now - NETWORK_WINDOW)
            .distinct()
            .limit(200)
        ).all()
        if any((net or consumers.network_hash(secret, ip)) == mine for net, ip in seen):
            raise DomainError("REFERRAL_SELF", why="network")


def claim_friend(
    session: Session, ids: PublicIds, token: str, who: Requester, *, terms: Terms, now: datetime
) -> tuple[Voucher, bool]:
    """The friend voucher for `who` from share link `token`: (voucher, created)."""
    referral = find(session, token)
    existing = _existing(session, referral.id, who.consumer.id)
    if existing is not None:
        return existing, False
    check_not_self(session, referral, who, secret=terms.secret, now=now)
    campaign = campaign_of(session, referral)
    if not offers_referral(campaign):
        raise DomainError("REFERRAL_EXHAUSTED")
    consumers.lock(session, who.consumer.id)
    check_window(campaign, now)
    check_daily_limit(session, campaign=campaign, consumer_id=who.consumer.id, now=now, tz=terms.tz)
    value = campaign.referral_friend_value_fen
    voucher = Voucher(
        code=placeholder_code(),
        kind="friend",
        campaign_id=campaign.id,
        referral_id=referral.id,
        consumer_id=who.consumer.id,
        clerk_id=active_clerk(session, who.consumer.id, now),
        value_fen=value,
        min_spend_fen=campaign.voucher_min_spend_fen,
        status="issued",
        issued_at=now,
        expires_at=now + timedelta(days=campaign.voucher_valid_days),
    )
    try:
        with session.begin_nested():
            session.add(voucher)
            session.flush()  # UNIQUE(referral_id, consumer_id): one per friend, even when they double-tap
    except IntegrityError:
        existing = _existing(session, referral.id, who.consumer.id)
        if existing is None:
            raise
        return existing, False
    used = session.execute(
        update(Referral)
        .where(Referral.id == referral.id, Referral.used_count < Referral.share_limit)
        .values(used_count=Referral.used_count + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not used:
        raise DomainError("REFERRAL_EXHAUSTED")
    spend(session, campaign, value)
    return finish_voucher(session, voucher, ids=ids, terms=terms, campaign=campaign, now=now), True


def _existing(session: Session, referral_id: int, consumer_id: int) -> Voucher | None:
    return session.execute(
        select(Voucher).where(Voucher.referral_id == referral_id, Voucher.consumer_id == consumer_id)
    ).scalar_one_or_none()
