"""The handin web platform: ``create_app(settings)`` builds it; blueprints per role.

Students hand in and read feedback (``student``), teachers release and grade (``teacher``),
TAs review (``ta``), scripts use the JSON API (``api``); ``auth`` signs people in. Rules live in
``server.services``; views stay a screen long.
"""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Flask, jsonify, render_template, request
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from .config import Settings
from .extensions import csrf, db, limiter, login_manager, migrate
from .storage import UploadStore

MIGRATIONS = Path(__file__).parent / "migrations"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'")
# Feedback reports (the core's HTML, shown in a sandboxed iframe): inline CSS, no script at all.
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
              "form-action 'none'; frame-ancestors 'self'")


class HandinState:
    """What the app holds beside Flask's config: paths, the upload store, backends, dispatch."""

    def __init__(self, settings: Settings):
        from .dispatch import make_dispatcher

        self.settings = settings
        self.instance = settings.instance
        self.course_root = settings.course_root
        self.uploads = UploadStore(settings.instance / "uploads")
        self.dispatcher = make_dispatcher(settings.dispatch)
        self._backends: dict[bool, object] = {}
        self._lock = threading.Lock()
        self.backend_note = ""

    def backend(self, *, gpu: bool = False):
        """The sandbox backend, chosen once per process (docker when ready, else local)."""
        with self._lock:
            if gpu not in self._backends:
                import sandbox
                backend, why = sandbox.choose_backend(self.settings.sandbox, gpu=gpu)
                if hasattr(backend, "prepare_ahead"):
                    backend.prepare_ahead = 1  # a worker lives long: keep a container ready per kind of run
                self._backends[gpu] = backend
                self.backend_note = why
            return self._backends[gpu]


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    settings.instance.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=str(settings.instance), instance_relative_config=False)
    app.config.update(settings.flask_config())
    app.extensions["handin"] = HandinState(settings)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to see this page."
    csrf.init_app(app)
    limiter.init_app(app)

    from .tasks import celery_init_app
    celery_init_app(app)

    from .blueprints import register
    register(app)
    _register_hooks(app)
    return app


def utc_time(t, seconds: bool = False) -> Markup:
    """A moment on a page: written in UTC, marked up so that handin.js adds the reader's local time."""
    text = t.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return Markup('<time datetime="{}">{} UTC</time>').format(t.isoformat(), text)


@login_manager.user_loader
def _load_user(user_id: str):
    from .models import User
    try:
        return db.session.get(User, int(user_id))
    except ValueError:
        return None


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _register_hooks(app: Flask) -> None:
    from handin.spec import SpecError

    from .authz import enforce_declared
    from .services.errors import ServiceError

    app.before_request(enforce_declared)
    app.add_template_filter(utc_time, "utc")

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        if _wants_json():
            return jsonify(error=exc.message), exc.status
        return render_template("error.html", status=exc.status, message=exc.message), exc.status

    @app.errorhandler(SpecError)
    def broken_module(exc: SpecError):
        app.logger.error("module spec problem: %s", exc)
        message = "this assignment's configuration has a problem; the course staff have been told"
        if _wants_json():
            return jsonify(error=message), 503
        return render_template("error.html", status=503, message=message), 503

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        messages = {400: "bad request", 401: "missing or invalid API token", 403: "forbidden",
                    404: "not found", 405: "method not allowed",
                    413: f"upload too large: the limit is {app.config['MAX_CONTENT_LENGTH'] // 1024**2} MiB",
                    429: "too many requests: slow down and try again shortly"}
        message = messages.get(exc.code or 500, exc.description or exc.name)
        if exc.code == 400 and exc.description and "CSRF" in exc.description:
            message = "the form expired or was not sent from this site (CSRF check failed); reload and try again"
        if _wants_json():
            response = jsonify(error=message)
        else:
            response = app.make_response(render_template("error.html", status=exc.code, message=message))
        response.status_code = exc.code or 500
        if exc.code == 401 and _wants_json():
            response.headers["WWW-Authenticate"] = 'Bearer realm="handin"'
        return response


__all__ = ["create_app", "Settings"]
