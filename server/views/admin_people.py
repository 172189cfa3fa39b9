"""The console's store-side pages under /admin: stores, clerks (promo cards), imports, holds, payouts."""

from __future__ import annotations

import io

from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext, ngettext

from server.auth import principal
from server.errors import DomainError
from server.formats import yuan
from server.models import Store, User, utcnow
from server.services import holds, people, settlements, spreadsheets
from server.services.alerts import decisions
from server.views.admin_common import ADMIN, blueprint, download, page, refused
from server.web import db, language, runtime, when

bp = blueprint("admin_people")


def _promo(n: int) -> str:
    return runtime().ids.encode("promo", n)


def _refused(exc: DomainError, back: str):
    return refused(exc, url_for(back))


@bp.get("/stores")
@ADMIN
def stores():
    listed = people.stores(db())
    return page(
        "admin/people/stores.html",
        stores=listed,
        owners=people.owners(db()),
        owner_names=people.names(db(), (s.owner_id for s in listed)),
    )


@bp.post("/stores")
@ADMIN
def store_create():
    try:
        people.create_store(db(), values=request.form.to_dict(), now=utcnow(), actor_id=principal().user_id)
    except DomainError as exc:
        return _refused(exc, "admin_people.stores")
    db().commit()
    return redirect(url_for("admin_people.stores"))


@bp.post("/stores/<int:store_id>/token")
@ADMIN
def store_token(store_id: int):
    try:
        plain, _ = people.pos_token(
            db(),
            store_id=store_id,
            now=utcnow(),
            actor_id=principal().user_id,
            name=(request.form.get("name") or "POS")[:120],
        )
    except DomainError as exc:
        return _refused(exc, "admin_people.stores")
    db().commit()
    return page("admin/people/token.html", token=plain, store_id=store_id)


@bp.post("/<any(stores, clerks):kind>/import")
@ADMIN
def import_file(kind: str):
    upload = request.files.get("file")
    back = f"admin_people.{kind}"
    try:
        if upload is None or not upload.filename:
            raise DomainError("VALIDATION_FAILED", reason="choose a .csv or .xlsx file", field="file")
        rows = people.read_table(upload.filename, upload.read())
        report = people.import_rows(
            db(), kind=kind, rows=rows, now=utcnow(), promo_for=_promo, actor_id=principal().user_id
        )
    except DomainError as exc:
        db().rollback()
        if exc.code != "IMPORT_FAILED":
            return _refused(exc, back)
        return page(
            "admin/people/import.html",
            400,
            kind=kind,
            message=exc.message(language()),
            errors=exc.details["errors"],
            created=0,
        )
    db().commit()
    return page("admin/people/import.html", kind=kind, message=None, errors=[], created=len(report.created))


@bp.get("/clerks")
@ADMIN
def clerks():
    stores = {s.id: s for s in people.stores(db())}
    return page("admin/people/clerks.html", clerks=people.clerks(db()), stores=stores)


@bp.post("/clerks")
@ADMIN
def clerk_create():
    try:
        people.create_clerk(
            db(), values=request.form.to_dict(), now=utcnow(), promo_for=_promo, actor_id=principal().user_id
        )
    except DomainError as exc:
        return _refused(exc, "admin_people.clerks")
    db().commit()
    return redirect(url_for("admin_people.clerks"))


@bp.post("/clerks/<int:user_id>/deactivate")
@ADMIN
def clerk_deactivate(user_id: int):
    try:
        people.deactivate(db(), user_id=user_id, now=utcnow(), actor_id=principal().user_id)
    except DomainError as exc:
        return _refused(exc, "admin_people.clerks")
    db().commit()
    return redirect(url_for("admin_people.clerks"))


@bp.get("/clerks/<int:user_id>/card")
@ADMIN
def clerk_card(user_id: int):
    """A printable promo card: the clerk's name, store and the QR of <public_url>/C/<promo>."""
    clerk = db().get(User, user_id)
    if clerk is None or clerk.role != "clerk" or not clerk.promo_code:
        raise DomainError("NOT_FOUND", what="clerk", id=user_id)
    url = f"{runtime().config.public_url.upper()}/C/{clerk.promo_code}"
    return page(
        "admin/people/card.html", clerk=clerk, store=db().get(Store, clerk.store_id), url=url, qr=_qr_svg(url)
    )


def _qr_svg(data: str) -> str:
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(
        data,
        image_factory=qrcode.image.svg.SvgPathImage,
        box_size=10,
        border=4,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
    )
    out = io.BytesIO()
    image.save(out)
    svg = out.getvalue().decode()
    return svg[svg.index("<svg") :]  # inline: drop the XML declaration


@bp.get("/settlements")
@ADMIN
def settlement_list():
    return page(
        "admin/people/settlements.html",
        statements=settlements.statements(db(), role="admin", user_id=0),
        holds=holds.held(db()),
        yuan=yuan,
        alert_link="admin_alerts.alert_detail" in current_app.view_functions,
    )


@bp.post("/settlements/run")
@ADMIN
def settlement_run():
    now = utcnow()
    created = settlements.run(db(), period_end=now, now=now, actor_id=principal().user_id)
    waiting = settlements.waiting(db(), now=now)
    db().commit()
    flash(_settlement_outcome(len(created), waiting), "info")
    return redirect(url_for("admin_people.settlement_list"))


def _settlement_outcome(created: int, waiting: settlements.Waiting) -> str:
    """What closing the period did, and why there is no statement when there is none."""
    if created:
        return ngettext("%(num)d statement closed.", "%(num)d statements closed.", created)
    if waiting.entries:
        return gettext(
            "No statement: nothing is payable yet. ¥%(total)s is still inside the %(days)s-day holding "
            "period; the first of it becomes payable on %(date)s.",
            total=yuan(waiting.total),
            days=runtime().config.hold_days,
            date=when(waiting.first_payable_at),
        )
    return gettext("No statement: there is nothing to settle.")


@bp.post("/settlements/<int:settlement_id>/paid")
@ADMIN
def settlement_paid(settlement_id: int):
    try:
        settlements.mark_paid(
            db(),
            settlement_id=settlement_id,
            reference=request.form.get("reference", ""),
            actor_id=principal().user_id,
            now=utcnow(),
        )
    except DomainError as exc:
        return _refused(exc, "admin_people.settlement_list")
    db().commit()
    return redirect(url_for("admin_people.settlement_list"))


@bp.post("/holds/<int:alert_id>/<any(release, void):decision>")
@ADMIN
def hold_decide(alert_id: int, decision: str):
    try:
        decisions.decide_hold(
            db(),
            alert_id=alert_id,
            outcome={"release": "released", "void": "voided"}[decision],
            actor_id=principal().user_id,
            now=utcnow(),
        )
    except DomainError as exc:
        return _refused(exc, "admin_people.settlement_list")
    db().commit()
    return redirect(url_for("admin_people.settlement_list"))


@bp.get("/settlements.<any(csv, xlsx):fmt>")
@ADMIN
def settlement_export(fmt: str):
    rows = settlements.export_rows(settlements.statements(db(), role="admin", user_id=0), runtime().config.tz)
    if fmt == "csv":
        return download(
            spreadsheets.iter_csv(settlements.HEADER, rows), "settlements.csv", spreadsheets.CSV_TYPE
        )
    body = spreadsheets.iter_xlsx(settlements.HEADER, rows, "statements")
    return download(body, "settlements.xlsx", spreadsheets.XLSX_TYPE)
