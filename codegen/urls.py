"""Printed URL templates: all uppercase, so the QR symbol uses alphanumeric mode."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .gs1 import GtinInvalid, normalize_gtin

# QR alphanumeric mode: 0-9 A-Z space $ % * + - . / :  (we refuse the space)
_QR_ALNUM = re.compile(r"[0-9A-Z$%*+\-./:]+")


@dataclass(frozen=True)
class UrlTemplate:
    """Where printed codes point: ``<PUBLIC_URL>/S/<code>`` or ``<PUBLIC_URL>/01/<gtin14>/21/<code>``."""

    public_url: str
    form: Literal["short", "gs1"] = "short"
    gtin14: str | None = None

    def __post_init__(self) -> None:
        if self.form not in ("short", "gs1"):
            raise ValueError(f"form must be 'short' or 'gs1', not {self.form!r}")
        if self.form == "gs1":
            if not self.gtin14:
                raise GtinInvalid("the gs1 URL form needs a GTIN")
            if normalize_gtin(self.gtin14) != self.gtin14:
                raise GtinInvalid(f"expected a canonical GTIN-14, got {self.gtin14!r}")
        base = self.base()
        if not base.startswith(("HTTP://", "HTTPS://")) or not _QR_ALNUM.fullmatch(base):
            raise ValueError(
                f"public URL {self.public_url!r} must be http(s) with only QR-alphanumeric "
                "characters (no query, fragment, underscore or space)"
            )

    def base(self) -> str:
        """The uppercased public URL without a trailing slash."""
        return self.public_url.strip().rstrip("/").upper()

    def prefix(self) -> str:
        """Everything printed before the code, e.g. ``HTTPS://Q.BRAND.CN/S/``."""
        if self.form == "gs1":
            return f"{self.base()}/01/{self.gtin14}/21/"
        return f"{self.base()}/S/"

    def url(self, code: str) -> str:
        """The printed URL of one code."""
        return self.prefix() + code

    def template_string(self) -> str:
        """The manifest's URL template, e.g. ``HTTPS://Q.BRAND.CN/S/{code}``."""
        return self.prefix() + "{code}"
