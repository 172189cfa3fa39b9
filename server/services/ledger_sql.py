"""The ledger's prebuilt statements (ledger.py's hot path: every claim and redemption posts). The same text
runs on both dialects."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import TextClause, bindparam, column, text

from server.models import LedgerTransaction
from server.models.base import UTCDateTime

# Prebuilt text statements on this hot path (every claim and redemption posts): building and caching Core
# statements per call cost more than the SQL. Both dialects accept the same text; the types bind datetimes
# and JSON as the models do.
INSERT_TRANSACTION = (
    text(
        "INSERT INTO ledger_transactions (key, event, details, created_at, reverses_id) "
        "VALUES (:key, :event, :details, :created_at, :reverses_id) ON CONFLICT (key) DO NOTHING RETURNING id"
    )
    .bindparams(
        bindparam("details", type_=LedgerTransaction.__table__.c.details.type),
        bindparam("created_at", type_=UTCDateTime()),
    )
    .columns(column("id"))
)


@lru_cache(maxsize=8)
def insert_entries(n: int) -> TextClause:
    """One INSERT … SELECT for n postings, each joined to its account's row, in posting order (entry ids
    follow it). Accounts that do not exist yet produce no row; the caller sees the short rowcount."""
    rows = ", ".join(f"(:k{i}, CAST(:r{i} AS BIGINT), :u{i}, CAST(:a{i} AS BIGINT), {i})" for i in range(n))
    return text(
        "INSERT INTO ledger_entries (transaction_id, account_id, amount, unit, available_at, created_at) "
        f"SELECT :txn, a.id, p.column4, a.unit, :available_at, :created_at FROM (VALUES {rows}) AS p "
        "JOIN ledger_accounts a ON a.kind = p.column1 AND a.ref_id = p.column2 AND a.unit = p.column3 "
        "ORDER BY p.column5"
    ).bindparams(bindparam("available_at", type_=UTCDateTime()), bindparam("created_at", type_=UTCDateTime()))
