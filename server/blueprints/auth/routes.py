"""Signing in and out, and setting a password through a one-time invitation or reset link."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from ...authz import public, signed_in
from ...extensions import db, limiter
from ...services import accounts
from ...services.errors import BadRequest, NotFound
from .forms import LoginForm, SetPasswordForm

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


@bp.route("/auth/set-password/<token>", methods=["GET", "POST"])
@public
@limiter.limit("20 per minute", methods=["POST"])
def set_password(token: str):
    """The holder of a valid link chooses a password; the link is then used up. No sign-in needed."""
    link = accounts.valid_link(token)
    if link is None:
        raise NotFound(accounts.LINK_GONE)   # the error page, 404: unknown, used and expired look alike
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.set_password_with_link(token, form.password.data or "")
        except BadRequest as exc:
            form.password.errors = [exc.message]
        else:
            logout_user()   # whoever was signed in here, the link's holder signs in anew
            flash("Your password is set: sign in with it.", "success")
            return redirect(url_for("auth.login"), 303)
    return render_template("auth/set_password.html", form=form, email=link.user.email,
                           invite=link.purpose == "invite"), 200 if request.method == "GET" else 400


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
