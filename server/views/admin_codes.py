"""Code lookup: one pack's state, every scan with its time and place, its voucher, redemption and alerts."""

from __future__ import annotations

from flask import request

from server.services.codes import code_history
from server.services.people import names
from server.views.admin_common import ADMIN, blueprint, page
from server.web import db, runtime

bp = blueprint("admin_codes")


@bp.get("/codes")
@ADMIN
def lookup():
    text = (request.args.get("code") or "").strip()[:80]
    if not text:
        return page("admin/code.html", text="", history=None, staff={})
    history = code_history(db(), runtime().codec, text, tz=runtime().config.tz)
    people = [s["clerk_id"] for s in history.get("scans", [])]
    people += [r["clerk_id"] for r in history.get("redemptions", [])]
    if history.get("voucher"):
        people.append(history["voucher"]["clerk_id"])
    return page("admin/code.html", text=text, history=history, staff=names(db(), people))
