"""Who acts on a use case: the principal as services see it (no Flask, no database)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class StoreRef(NamedTuple):
    """What redeeming needs of a store; a caller that has read its bound store's row already passes it in."""

    id: int
    name: str
    active: bool
    owner_id: int | None


@dataclass(frozen=True)
class Actor:
    """Who redeems: the principal's user and role, its bound store (clerk or POS token), its token."""

    user_id: int
    role: str
    store_id: int | None = None
    token_id: int | None = None
    store: StoreRef | None = None  # the bound store's row, if the caller has it (a POS token's lookup does)
