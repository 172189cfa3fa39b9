"""Staff sign-in and sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from server import headers
from server.errors import DomainError
from server.models import utcnow
from server.services.accounts import authenticate
from server.services.alerts import sightings
from server.services.consumers import network_hash
from server.web import db, language, runtime

bp = Blueprint("auth", __name__)
headers.protect(bp, no_store=True)  # a cached sign-in page would carry a stale CSRF token
HOME = {"admin": "/admin", "owner": "/owner", "clerk": "/clerk"}


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=200)])


def _safe_next(target: str | None) -> str | None:
    r"""`target` when it is a path on this site, else None (the role's home): an open-redirect guard.

    Browsers drop tabs and newlines from a URL and read a backslash as a slash, so `/\t/evil.example`
    and `/\evil.example` are `//evil.example`, another host: any control character or backslash is
    refused outright, as is anything with a scheme or a host."""
    if not target or len(target) > 2000 or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


@bp.route("/login", methods=["GET", "POST"])
def login():
    form, error = LoginForm(), None
    if form.validate_on_submit():
        try:
            user = authenticate(db(), username=form.username.data, password=form.password.data, now=utcnow())
            db().commit()
        except DomainError as exc:
            db().commit()  # failed attempts are counted even though sign-in was refused
            error = exc.message(language())
        else:
            from server.auth import StaffUser

            _sighted(user.id)
            login_user(StaffUser(user))
            return redirect(_safe_next(request.args.get("next")) or HOME[user.role])
    status = 401 if error else 200
    return render_template("staff/login.html", form=form, error=error, lang=language()), status


def _sighted(user_id: int) -> None:
    """Remember the network and consumer device this staff member signs in from (self-dealing evidence)."""
    sightings.record(
        db(),
        user_id=user_id,
        network=network_hash(runtime().secret, request.remote_addr),
        device=request.cookies.get("cl_d"),
        now=utcnow(),
    )
    db().commit()


@bp.post("/logout")
def logout():
    logout_user()
    return redirect(url_for("auth.login"))
