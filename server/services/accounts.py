"""Users, course memberships, passwords, API tokens, and one-time invitation and reset links."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from flask import current_app, has_request_context, request
from sqlalchemy import select, update
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import LINK_PURPOSES, ROLES, ApiToken, Course, Enrollment, OneTimeToken, User, utcnow
from . import audit
from .errors import BadRequest, NotFound

TOKEN_PREFIX = "hdn_"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD = 10


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise BadRequest(f"{email!r} is not an email address")
    return email


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def get_course(code: str) -> Course | None:
    return db.session.scalar(select(Course).where(Course.code == code))


def ensure_course(code: str, title: str | None = None) -> Course:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", code):
        raise BadRequest(f"course code {code!r}: use letters, digits, '.', '_' and '-'")
    course = get_course(code)
    if course is None:
        course = Course(code=code, title=title or code)
        db.session.add(course)
        db.session.flush()
    return course


def add_user(email: str, *, course: Course, role: str, name: str = "", password: str | None = None
             ) -> tuple[User, str | None]:
    """Create the user (or reuse one with that email) and enrol them with ``role``.

    Returns the user and the password set, when one was generated or given for a new user.
    """
    if role not in ROLES:
        raise BadRequest(f"role must be one of {', '.join(ROLES)}")
    email = normalise_email(email)
    user = find_user(email)
    set_password = None
    if user is None:
        set_password = password or generate_password()
        check_password_strength(set_password)
        user = User(email=email, name=name, password_hash=hash_password(set_password))
        db.session.add(user)
        db.session.flush()
    elif password is not None:
        check_password_strength(password)
        user.password_hash = hash_password(password)
        set_password = password
    if name:
        user.name = name
    enrollment = db.session.scalar(select(Enrollment).where(Enrollment.user_id == user.id,
                                                            Enrollment.course_id == course.id))
    if enrollment is None:
        db.session.add(Enrollment(user=user, course=course, role=role))
    else:
        enrollment.role = role
    db.session.flush()
    return user, set_password


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"a password needs at least {MIN_PASSWORD} characters")


def hash_password(password: str) -> str:
    """werkzeug's salted hash; its method is the app's ``PASSWORD_HASH_METHOD`` (default scrypt).

    The test suite picks a cheap method so that its thousands of accounts cost no CPU; an existing
    hash keeps its own method (checking reads it from the hash), so changing it needs no migration.
    """
    return generate_password_hash(password, method=current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


def authenticate(email: str, password: str) -> User | None:
    try:
        user = find_user(email)
    except BadRequest:
        return None
    if user is None or user.password_hash == NO_PASSWORD:
        check_password_hash(_DUMMY_HASH, password)   # same work either way: no user enumeration by timing
        return None
    if not user.active or not check_password_hash(user.password_hash, password):
        return None
    return user


_DUMMY_HASH = generate_password_hash("not-a-real-password")
# An invited account before its holder sets a password: matches no password (not a werkzeug hash).
NO_PASSWORD = "!invited"
LINK_LIFETIME = {"invite": dt.timedelta(days=14), "reset": dt.timedelta(days=1)}
LINK_PATH = "/auth/set-password/"


def issue_link(user: User, purpose: str, *, new_user: bool = False) -> str:
    """A new one-time link for ``user`` to set a password; only its sha256 is stored, so it is shown once.

    It replaces the user's unused links: only the last link handed out works (``new_user``: there
    are none to look for).
    """
    if purpose not in LINK_PURPOSES:
        raise ValueError(f"purpose must be among {LINK_PURPOSES}")
    now = utcnow()
    if not new_user:
        _use_up_links(user, now)
    token = secrets.token_urlsafe(32)
    db.session.add(OneTimeToken(purpose=purpose, user=user, token_hash=_token_hash(token), created_at=now,
                                expires_at=now + LINK_LIFETIME[purpose]))
    return link_url(token)


def link_url(token: str) -> str:
    return absolute_url(LINK_PATH + token)


def absolute_url(path: str) -> str:
    """``path`` on the platform: under ``HANDIN_PUBLIC_URL``, else the request's host, else serve's default."""
    base = current_app.extensions["handin"].settings.public_url
    if not base:
        base = request.host_url if has_request_context() else "http://127.0.0.1:8000/"
    return base.rstrip("/") + path


def valid_link(token: str) -> OneTimeToken | None:
    """The unused, unexpired link ``token`` names, or None (unknown, used and expired look the same)."""
    if not token or len(token) > 200:
        return None
    row = db.session.scalar(select(OneTimeToken).where(OneTimeToken.token_hash == _token_hash(token)))
    if row is None or row.used_at is not None or row.expires_at <= utcnow() or not row.user.active:
        return None
    return row


def set_password_with_link(token: str, password: str) -> User:
    """Set the password of the link's holder and use the link up (and every other open link of theirs).

    The link is marked used by a conditional UPDATE, so two requests racing with one link cannot
    both set a password.
    """
    check_password_strength(password)
    row = valid_link(token)
    if row is None:
        raise NotFound(LINK_GONE)
    now = utcnow()
    claimed = db.session.execute(update(OneTimeToken).where(OneTimeToken.id == row.id, OneTimeToken.used_at.is_(None))
                                 .values(used_at=now).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        db.session.rollback()
        raise NotFound(LINK_GONE)
    user = row.user
    user.password_hash = hash_password(password)
    _use_up_links(user, now)
    db.session.commit()
    return user


def reset_link(email: str) -> str:
    """A password-reset link for ``email``, audited (the command line's: its user administers the instance)."""
    user = require_user(email)
    link = issue_link(user, "reset")
    audit.record("account.reset_link", actor=None, course=None, target=user.email)
    return link


LINK_GONE = "this link is unknown, used or expired; ask your teacher (or the platform's admin) for a new one"


def _use_up_links(user: User, now: dt.datetime) -> None:
    db.session.execute(update(OneTimeToken).where(OneTimeToken.user_id == user.id, OneTimeToken.used_at.is_(None))
                       .values(used_at=now).execution_options(synchronize_session=False))


def create_token(user: User) -> str:
    """A new API token for ``user``; only its sha256 is stored, so it is shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user=user, token_hash=_token_hash(token), prefix=token[:12]))
    db.session.flush()
    return token


def user_for_token(token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    row.last_used_at = utcnow()
    return row.user


def revoke_tokens(user: User) -> int:
    n = 0
    for row in db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                         ApiToken.revoked_at.is_(None))):
        row.revoked_at = utcnow()
        n += 1
    return n


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def membership(user: User | None, course_code: str, roles: tuple[str, ...] = ROLES) -> Enrollment:
    """The caller's enrollment in the course with one of ``roles``; NotFound otherwise."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise NotFound()
    enrollment = db.session.scalar(
        select(Enrollment).join(Course).where(Course.code == course_code, Enrollment.user_id == user.id))
    if enrollment is None or enrollment.role not in roles:
        raise NotFound()
    return enrollment


def courses_of(user: User) -> list[Enrollment]:
    return list(db.session.scalars(select(Enrollment).join(Course).where(Enrollment.user_id == user.id)
                                   .order_by(Course.code)))


def require_user(email: str) -> User:
    user = find_user(email)
    if user is None:
        raise NotFound(f"no user {email}")
    return user
