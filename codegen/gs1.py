"""GS1 helpers: GTIN validation (python-stdnum) and Digital Link paths."""

from __future__ import annotations

import unicodedata

from stdnum import ean
from stdnum.exceptions import ValidationError

GTIN_LENGTHS = (8, 12, 13, 14)


class GtinInvalid(ValueError):
    """A GTIN with a bad length, bad characters or a wrong check digit."""


def normalize_gtin(text: str) -> str:
    """Validate a GTIN-8/12/13/14 and return it as a GTIN-14 (left-padded with zeros)."""
    if not isinstance(text, str) or len(text) > 32:
        raise GtinInvalid("GTIN must be a short string")
    digits = unicodedata.normalize("NFKC", text).strip().replace(" ", "").replace("-", "")
    if not digits.isascii() or not digits.isdigit():
        raise GtinInvalid(f"GTIN must contain only digits: {text!r}")
    if len(digits) not in GTIN_LENGTHS:
        raise GtinInvalid(f"GTIN must have 8, 12, 13 or 14 digits, not {len(digits)}")
    try:
        ean.validate(digits)
    except ValidationError as exc:
        raise GtinInvalid(f"bad GTIN {text!r}: {exc.message}") from exc
    return digits.zfill(14)


def digital_link_path(gtin14: str, code: str) -> str:
    """The GS1 Digital Link path ``/01/<gtin14>/21/<code>`` (the GTIN is re-validated)."""
    gtin = normalize_gtin(gtin14)
    if gtin != gtin14:
        raise GtinInvalid(f"expected a canonical GTIN-14, got {gtin14!r}")
    return f"/01/{gtin}/21/{code}"
