"""Signing in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from ...authz import public, signed_in
from ...extensions import db, limiter
from ...services import accounts
from .forms import LoginForm

bp = Blueprint("auth", __name__)


@bp.route("/")
@public
def index():
    if current_user.is_authenticated:
        return redirect(url_for("student.courses"))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit("10 per minute; 100 per hour", methods=["POST"], key_func=lambda: _login_key())
@limiter.limit("300 per minute", methods=["POST"])   # a whole lab room shares one address
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data or "", form.password.data or "")
        if user is None:
            flash("Wrong email or password.", "error")
        else:
            login_user(user, remember=bool(form.remember.data))
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")) or url_for("student.courses"))
    return render_template("auth/login.html", form=form), 200


@bp.route("/logout", methods=["POST"])
@signed_in
def logout():
    logout_user()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))


def _login_key() -> str:
    """Guessing one account's password is slowed down, without locking out a room behind one NAT."""
    email = (request.form.get("email") or "").strip().lower()[:254]
    return f"{request.remote_addr}|{email}"


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: ``next`` must not send a student off to another host."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
