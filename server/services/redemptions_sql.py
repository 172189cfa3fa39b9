"""The redemption's writes, per dialect: the voucher's conditional state change, its redemption row and its
ledger transaction (opened; redemptions.redeem writes the entries). One statement on PostgreSQL (_TAKE), three
on SQLite, which has no data-modifying CTEs."""

from __future__ import annotations

from sqlalchemy import Boolean, bindparam, column, text
from sqlalchemy.orm import Session

from server.db import is_postgres
from server.models.base import UTCDateTime
from server.services import ledger, rewards


def take(
    session: Session, *, code: str, is_token: bool, **row
) -> tuple[rewards.RedemptionTerms, int, int] | None:
    """The voucher's conditional state change, its redemption row and its ledger transaction (opened, still
    without entries): (voucher terms, redemption id, transaction id), or None when nothing changed.
    PostgreSQL does the three in one statement; SQLite, which has no data-modifying CTEs, in three."""
    params = dict(code=code, now=row["redeemed_at"], is_token=is_token, **row)
    return _take_postgres(session, params) if is_postgres(session) else _take_sqlite(session, params)


def _take_postgres(session: Session, params: dict) -> tuple[rewards.RedemptionTerms, int, int] | None:
    found = session.execute(_TAKE, params).first()
    return (rewards.RedemptionTerms(*found[:-2]), found[-2], found[-1]) if found is not None else None


def _take_sqlite(session: Session, params: dict) -> tuple[rewards.RedemptionTerms, int, int] | None:
    voucher = session.execute(_REDEEM, params).first()
    if voucher is None:
        return None
    redemption_id = session.execute(_INSERT_REDEMPTION, {**params, "voucher_id": voucher.id}).scalar_one()
    transaction_id = ledger.open_transaction(
        session,
        key=rewards.redemption_key(redemption_id),
        event="redemption",
        now=params["now"],
        details={"redemption_id": redemption_id, "voucher_id": voucher.id, "store_id": params["store_id"]},
    )
    return rewards.RedemptionTerms(*voucher), redemption_id, transaction_id


# The whole decision in one statement: the voucher changes state only if it is issued, unexpired, presented
# as its campaign requires (a rotating-token campaign takes no typed code) and the purchase meets its minimum.
# It returns the campaign terms the ledger postings need too (as subqueries: SQLite's RETURNING cannot name
# an UPDATE … FROM table). Prebuilt text statements: this is the hot path.
_CAMPAIGN = "(SELECT {} FROM campaigns WHERE campaigns.id = vouchers.campaign_id)"
_REDEEM_SQL = (
    "UPDATE vouchers SET status = 'redeemed' "
    "WHERE code = :code AND status = 'issued' AND expires_at > :now "
    "AND (min_spend_fen = 0 OR min_spend_fen <= :purchase_fen) "
    f"AND (:is_token OR NOT {_CAMPAIGN.format('rotating_token')}) "
    "RETURNING id, code, kind, value_fen, referral_id, campaign_id, clerk_id AS attributed_clerk_id, "
    + ", ".join(
        f"{_CAMPAIGN.format(term)} AS {term}"
        for term in ("store_fee_fen", "clerk_redeem_reward_fen", "referral_bonus_points")
    )
)
_TYPES = (bindparam("now", type_=UTCDateTime()), bindparam("is_token", type_=Boolean()))
# Naming the result columns lets SQLAlchemy keep the result's metadata with the cached statement instead of
# building it from the cursor on every call.
_TERMS = [column(name) for name in rewards.RedemptionTerms._fields]
_REDEEM = text(_REDEEM_SQL).bindparams(*_TYPES).columns(*_TERMS)
# The journey's last step is written with the row, inside the same statement: seconds since the claim, and
# the store's place (its canonical province and city, copied so a store that moves later keeps history).
_PLACE = "(SELECT {} FROM stores WHERE stores.id = :store_id)"
_INSERT_REDEMPTION = text(
    "INSERT INTO redemptions (voucher_id, store_id, clerk_id, api_token_id, purchase_fen, receipt_ref, "
    "redeemed_at, claim_to_redeem_s, province, city) "
    "VALUES (:voucher_id, :store_id, :clerk_id, :api_token_id, :purchase_fen, :receipt_ref, :now, "
    "(SELECT CAST(ROUND((julianday(:now) - julianday(issued_at)) * 86400) AS INTEGER) FROM vouchers "
    f"WHERE id = :voucher_id), {_PLACE.format('province')}, {_PLACE.format('city')}) RETURNING id"
).bindparams(*_TYPES[:1])
# PostgreSQL: the same three writes as one statement; the ledger key and details are rewards.redemption_key's
# and the SQLite branch's, spelled in SQL.
_TAKE = (
    text(
        f"WITH v AS ({_REDEEM_SQL}), "
        "r AS (INSERT INTO redemptions (voucher_id, store_id, clerk_id, api_token_id, purchase_fen, "
        "receipt_ref, redeemed_at, claim_to_redeem_s, province, city) "
        "SELECT v.id, CAST(:store_id AS BIGINT), CAST(:clerk_id AS BIGINT), CAST(:api_token_id AS BIGINT), "
        "CAST(:purchase_fen AS BIGINT), CAST(:receipt_ref AS VARCHAR), :now, "
        "CAST(ROUND(EXTRACT(EPOCH FROM :now - o.issued_at)) AS INTEGER), s.province, s.city FROM v "
        "JOIN vouchers o ON o.id = v.id LEFT JOIN stores s ON s.id = CAST(:store_id AS BIGINT) "
        "RETURNING id), "
        "t AS (INSERT INTO ledger_transactions (key, event, details, created_at) "
        "SELECT 'redemption:' || r.id, 'redemption', "
        "json_build_object('redemption_id', r.id, 'voucher_id', v.id, "
        "'store_id', CAST(:store_id AS BIGINT)), :now FROM r, v RETURNING id) "
        "SELECT v.*, r.id AS redemption_id, t.id AS transaction_id FROM v, r, t"
    )
    .bindparams(*_TYPES)
    .columns(*_TERMS, column("redemption_id"), column("transaction_id"))
)
