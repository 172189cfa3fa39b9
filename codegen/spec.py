"""A batch's package spec: which codes, how they are printed, and its labels (read by layout and proof)."""

from __future__ import annotations

from dataclasses import dataclass

from .codes import MAX_BATCH, MAX_SERIAL
from .gs1 import normalize_gtin
from .urls import UrlTemplate


@dataclass(frozen=True)
class BatchSpec:
    """What a batch's package contains: which codes, how they are printed, and its labels."""

    batch: int
    quantity: int
    paired: bool
    urls: UrlTemplate
    product: str = ""
    gtin14: str | None = None
    campaign: str = ""
    created_at: str = ""

    def __post_init__(self) -> None:
        if not 1 <= self.batch <= MAX_BATCH:
            raise ValueError(f"batch must be in 1..{MAX_BATCH}")
        if not 1 <= self.quantity <= MAX_SERIAL + 1:
            raise ValueError(f"quantity must be in 1..{MAX_SERIAL + 1}")
        if self.gtin14 is not None and normalize_gtin(self.gtin14) != self.gtin14:
            raise ValueError(f"gtin14 must be a canonical GTIN-14, not {self.gtin14!r}")
        if self.urls.gtin14 and self.urls.gtin14 != self.gtin14:
            raise ValueError("the URL template's GTIN differs from the batch's GTIN")
