"""The OpenAPI 3 document; each API module adds its paths with `path()`."""

from __future__ import annotations

from server.errors import CATALOGUE

_PATHS: dict[str, dict] = {}
_SCHEMAS: dict[str, dict] = {}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "enum": sorted(CATALOGUE)},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}


def path(route: str, method: str, operation: dict) -> None:
    """Register one operation (called at import time by the API modules); path parameters are declared."""
    import re

    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer"} if name == "id" or name.endswith("_id") else {"type": "string"},
        }
        for name in re.findall(r"{(\w+)}", route)
    ]
    operation = {"parameters": params, **operation} if params and "parameters" not in operation else operation
    operation.setdefault("responses", {}).setdefault("200", {"description": "OK"})
    _PATHS.setdefault(route, {})[method.lower()] = operation


def schema(name: str, body: dict) -> dict:
    """Register a named response schema under components/schemas; returns a $ref to it."""
    _SCHEMAS[name] = body
    return {"$ref": f"#/components/schemas/{name}"}


def document() -> dict:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "codeloop API",
            "version": "1.0.0",
            "description": "One-item-one-code: scans, vouchers, redemptions, payouts. Money is integer fen.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": _PATHS,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA, **_SCHEMAS},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "consumerToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Consumer-Token",
                    "description": "or Authorization: Consumer <token>",
                },
            },
        },
    }
