"""Share links and friend vouchers.

A consumer's pack voucher gets one share link (`/r/<token>`, share_limit = campaign.referral_limit_per_share).
A friend may claim one friend voucher per link (UNIQUE(referral_id, consumer_id)); the link's uses are
counted with a conditional UPDATE (used_count < share_limit); friend vouchers count against the
campaign's cap and budget like pack vouchers.

Self-referral is refused (REFERRAL_SELF, `why` naming the rule) for the same consumer, the same device
cookie or the same phone: each names one person. A shared network is not: a family, an office or a
shop's Wi-Fi share one public address, and the demo's two browsers share loopback. A claim from the
network (IPv4 /24, IPv6 /48) of any scan by the sharer within NETWORK_WINDOW is issued and marked
(`vouchers.same_network`), evidence for the referral-loop alert; loopback and private addresses say
nothing about who is who and leave it NULL.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from codegen.ids import ID_ALPHABET, PublicIds
from server.db import insert_ignoring_conflicts
from server.errors import DomainError, Localised
from server.models import Campaign, Consumer, Referral, Scan, Voucher
from server.services import consumers
from server.services.claims import (
    Terms,
    check_daily_limit,
    check_window,
    finish_voucher,
    placeholder_code,
    spend,
)
from server.services.scans import active_clerk
from server.services.voucher_codes import canonical_code

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
    canon = canonical_code(token)  # same alphabet and normalisation as voucher codes
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


# why -> the refusal's reason, in the words of the person refused
SELF_RULES = {
    "consumer": Localised(
        zh_CN="这是你自己分享的链接，请把它发给好友。", en="this is your own share link: send it to a friend."
    ),
    "device": Localised(
        zh_CN="这个链接是在这台设备上分享的，请让好友用自己的手机打开。",
        en="it was shared from this device: your friend should open it on their own phone.",
    ),
    "phone": Localised(
        zh_CN="你绑定的手机号就是分享人的手机号。", en="your phone number is the one the sharer bound."
    ),
}


def check_not_self(session: Session, referral: Referral, who: Requester) -> None:
    """Refuse the sharer themself: the same consumer, device or phone (REFERRAL_SELF naming the rule)."""
    sharer = session.get(Consumer, referral.sharer_id)
    for why, mine, theirs in (
        ("consumer", who.consumer.id, sharer.id),
        ("device", who.device_id or who.consumer.device_id, sharer.device_id),
        ("phone", who.consumer.phone_hash, sharer.phone_hash),
    ):
        if mine and theirs and mine == theirs:
            raise DomainError("REFERRAL_SELF", why=why, rule=SELF_RULES[why])


def same_network(
    session: Session, referral: Referral, ip: str | None, *, secret: bytes, now: datetime
) -> bool | None:
    """Whether `ip` is on the network of one of the sharer's recent scans (None: no or no public address)."""
    if not _public(ip):
        return None
    mine = consumers.network_hash(secret, ip)
    # the sharer's networks: the enrichment's hash, or the raw address while enrichment is pending (the
    # address itself is dropped after the retention window; the hash stays). `mine` is a public network's,
    # so a private or loopback scan of the sharer's never matches it.
    seen = session.execute(
        select(Scan.net_hash, Scan.ip)
        .where(Scan.consumer_id == referral.sharer_id, Scan.scanned_at >= now - NETWORK_WINDOW)
        .distinct()
        .limit(200)
    ).all()
    return any((net or consumers.network_hash(secret, theirs)) == mine for net, theirs in seen)


def _public(ip: str | None) -> bool:
    try:
        addr = ipaddress.ip_address(ip or "")
    except ValueError:
        return False
    return (getattr(addr, "ipv4_mapped", None) or addr).is_global


def claim_friend(
    session: Session, ids: PublicIds, token: str, who: Requester, *, terms: Terms, now: datetime
) -> tuple[Voucher, bool]:
    """The friend voucher for `who` from share link `token`: (voucher, created)."""
    referral = find(session, token)
    existing = existing_friend_voucher(session, referral.id, who.consumer.id)
    if existing is not None:
        return existing, False
    check_not_self(session, referral, who)
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
        same_network=same_network(session, referral, who.ip, secret=terms.secret, now=now),
    )
    try:
        with session.begin_nested():
            session.add(voucher)
            session.flush()  # UNIQUE(referral_id, consumer_id): one per friend, even when they double-tap
    except IntegrityError:
        existing = existing_friend_voucher(session, referral.id, who.consumer.id)
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


def existing_friend_voucher(session: Session, referral_id: int, consumer_id: int) -> Voucher | None:
    """The friend voucher `consumer_id` already holds from this share link, if any."""
    return session.execute(
        select(Voucher).where(Voucher.referral_id == referral_id, Voucher.consumer_id == consumer_id)
    ).scalar_one_or_none()
