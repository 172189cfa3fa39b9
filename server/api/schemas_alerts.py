"""Request and response models of the alerts API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, StrictBool, field_validator

from server.api.spec import Body, Loose, QueryId, text


def _aware(value):
    if value is not None and value.tzinfo is None:
        raise ValueError("a time zone is required")
    return value


class AlertsQuery(Body):
    status: Literal["open", "confirmed", "dismissed"] | None = None
    kind: text(40) | None = Field(None, description="an alert kind, e.g. enumeration, velocity")
    store_id: QueryId | None = None
    clerk_id: QueryId | None = None
    batch_id: QueryId | None = None
    since: datetime | None = Field(None, description="created at or after (ISO 8601 with a time zone)")
    until: datetime | None = Field(None, description="created before (ISO 8601 with a time zone)")
    limit: int = Field(100, ge=1, le=500)
    before_id: QueryId | None = Field(None, description="the next page: alerts older than this id")

    _aware = field_validator("since", "until")(_aware)


class Alert(Loose):
    id: int
    kind: str
    severity: str
    status: str
    batch_id: int | None
    code_id: int | None
    store_id: int | None
    clerk_id: int | None
    consumer_id: int | None
    distributor: str | None
    summary: str
    created_at: str | None
    updated_at: str | None
    resolved_at: str | None
    resolved_by: int | None
    resolution_note: str | None


class Alerts(Loose):
    alerts: list[Alert]


class AlertDetail(Alert):
    """The alert with its evidence, the codes and vouchers it names and the money it holds."""


class NoteIn(Body):
    note: text(500) = ""


class ConfirmIn(NoteIn):
    void: StrictBool = Field(False, description="reverse the held money (else it stays held)")


class Decision(Loose):
    alert_id: int
    status: str
    holds_closed: int
    voided_transactions: list
