"""Who may use each route, declared in one decorator per view. Default-deny.

Every view carries an :class:`Access` (``view.access``); a request whose endpoint declares
none is refused before the view runs (:func:`enforce_declared`), and a test walks
``app.url_map`` so no such route ships. Course routes answer 404 to anyone not in the course
with the right role: they never reveal that a course, module or submission exists.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

from flask import abort, current_app, g, request
from flask_login import current_user

from .models import ROLES
from .services import accounts
from .services.errors import NotFound


@dataclass(frozen=True)
class Access:
    kind: str                       # public | login | course | api
    roles: tuple[str, ...] = ()     # course and api routes with a course: the roles let in

    def describe(self) -> str:
        return self.kind + (f"({', '.join(self.roles)})" if self.roles else "")


def _mark(view: Callable, access: Access) -> Callable:
    view.access = access  # type: ignore[attr-defined]
    return view


def public(view: Callable) -> Callable:
    """Anyone, signed in or not (the login page, static files)."""
    return _mark(view, Access("public"))


def signed_in(view: Callable) -> Callable:
    """Any signed-in user; the service decides what they see."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        return view(*args, **kwargs)
    return _mark(wrapped, Access("login"))


def course_role(*roles: str) -> Callable[[Callable], Callable]:
    """A member of the ``course`` in the URL with one of ``roles``; 404 for everyone else."""
    _check_roles(roles)

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            try:
                g.enrollment = accounts.membership(current_user._get_current_object(), kwargs["course"], roles)
            except NotFound:
                abort(404)
            return view(*args, **kwargs)
        return _mark(wrapped, Access("course", roles))
    return decorate


def api(*roles: str) -> Callable[[Callable], Callable]:
    """A bearer token; with ``roles``, also a member of the URL's ``course`` with one of them.

    Cookies are never looked at, so the API needs no CSRF token and a browser session cannot
    be replayed against it.
    """
    if roles:
        _check_roles(roles)

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            user = accounts.user_for_token(token.strip()) if scheme.lower() == "bearer" else None
            if user is None:
                abort(401)
            g.api_user = user
            if roles:
                try:
                    g.enrollment = accounts.membership(user, kwargs["course"], roles)
                except NotFound:
                    abort(404)
            return view(*args, **kwargs)
        return _mark(wrapped, Access("api", roles))
    return decorate


def _check_roles(roles: tuple[str, ...]) -> None:
    if not roles or any(r not in ROLES for r in roles):
        raise ValueError(f"roles must be among {ROLES}")


def access_of(view: Callable | None) -> Access | None:
    return getattr(view, "access", None)


def enforce_declared() -> None:
    """before_request: refuse any endpoint whose view declares no access."""
    if request.endpoint is None:
        return  # no route matched: Flask answers 404 itself
    if access_of(current_app.view_functions.get(request.endpoint)) is None:
        abort(404)
