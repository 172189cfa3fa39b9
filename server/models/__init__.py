"""The whole domain model; importing this package registers every table on Base.metadata."""

from server.models.base import Base, utcnow
from server.models.catalog import MAX_BATCH_QUANTITY, Batch, BatchExport, BatchRange, Campaign, Product
from server.models.ledger import (
    LedgerAccount,
    LedgerEntry,
    LedgerHold,
    LedgerTransaction,
    Settlement,
    SettlementItem,
)
from server.models.ops import Alert, AlertCode, AlertVoucher, AuditLog, ForgedScans, StaffSighting
from server.models.people import ROLES, ApiToken, Store, User
from server.models.rollups import JobCursor, RollupDay, RollupHour, RollupPending
from server.models.scans import Attribution, Code, Consumer, PhoneChallenge, Scan
from server.models.slices import RollupHourSlice, RollupSlice
from server.models.vouchers import IdempotencyKey, Redemption, Referral, Voucher

__all__ = [
    "Base",
    "utcnow",
    "MAX_BATCH_QUANTITY",
    "Batch",
    "BatchExport",
    "BatchRange",
    "Campaign",
    "Product",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerHold",
    "LedgerTransaction",
    "Settlement",
    "SettlementItem",
    "Alert",
    "AuditLog",
    "AlertCode",
    "AlertVoucher",
    "ForgedScans",
    "StaffSighting",
    "JobCursor",
    "RollupDay",
    "RollupHour",
    "RollupPending",
    "RollupSlice",
    "RollupHourSlice",
    "ROLES",
    "ApiToken",
    "Store",
    "User",
    "Attribution",
    "Code",
    "Consumer",
    "PhoneChallenge",
    "Scan",
    "IdempotencyKey",
    "Redemption",
    "Referral",
    "Voucher",
]
