"""The JSON API under /api/v1, described by the OpenAPI document at /api/v1/openapi.json."""

from __future__ import annotations

from flask import Blueprint

from server import headers
from server.api.openapi import document

api = Blueprint("api", __name__)
headers.protect(api, policy="default-src 'none'; frame-ancestors 'none'")  # data, never a page to run


@api.get("/openapi.json")
def openapi():
    return document()


# the route modules register on `api` when imported
from server.api import admin, alerts, consumer, reports, store  # noqa: E402,F401
