"""Small helpers shared by the API modules: JSON bodies, ints and ISO datetimes from clients."""

from __future__ import annotations

from datetime import datetime

from flask import request

from server.errors import validation


def json_body() -> dict:
    """The request's JSON object, or VALIDATION_FAILED."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise validation("the body must be a JSON object", zh="请求体须为 JSON 对象")
    return body


def int_field(body: dict, name: str, *, required: bool = True, default: int | None = None) -> int | None:
    value = body.get(name, default)
    if value is None and not required:
        return None
    if type(value) is not int:
        raise validation(f"{name} must be a whole number", zh=f"{name} 须为整数", field=name)
    return value


def str_field(body: dict, name: str, *, required: bool = False, max_len: int = 200) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > max_len or (required and not value.strip()):
        raise validation(
            f"{name} must be text of at most {max_len} characters",
            zh=f"{name} 须为不超过 {max_len} 字的文字",
            field=name,
        )
    return value


def datetime_field(body: dict, name: str) -> datetime:
    value = body.get(name)
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) and len(value) <= 40 else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise validation(
            f"{name} must be an ISO 8601 time with a time zone",
            zh=f"{name} 须为带时区的 ISO 8601 时间",
            field=name,
        )
    return parsed


def query_int(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 12:
        raise validation(f"{name} must be a whole number", zh=f"{name} 须为整数", field=name)
    return int(raw)
