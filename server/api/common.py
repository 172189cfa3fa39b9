"""Small helpers shared by the API modules for what the request models (server/api/spec.py) do not cover."""

from __future__ import annotations

from flask import request

from server.errors import validation


def query_int(name: str, default: int) -> int:
    """A whole-number query parameter (at most 12 digits), or `default` when absent."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 12:
        raise validation(f"{name} must be a whole number", zh=f"{name} 须为整数", field=name)
    return int(raw)
