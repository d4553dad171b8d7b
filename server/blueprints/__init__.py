"""Blueprints per role. Each view declares who may use it (``server.authz``)."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from . import api, auth, course_grades, student, ta, teacher

    app.register_blueprint(auth.bp)
    app.register_blueprint(student.bp)
    app.register_blueprint(teacher.bp)
    app.register_blueprint(ta.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(course_grades.bp)
    # Static files are public; declare it like every other route.
    from ..authz import public
    app.view_functions["static"] = public(app.view_functions["static"])
    # Browsers ask for /favicon.ico on every page: the same static view answers.
    app.add_url_rule("/favicon.ico", endpoint="static", defaults={"filename": "favicon.ico"})
