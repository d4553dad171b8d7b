"""TAs and teachers: the most similar pairs of counted hand-ins of a module, side by side."""

from __future__ import annotations

from flask import g, render_template
from flask_login import current_user

from ...authz import course_role
from ...services import similarity, teaching
from .routes import bp


@bp.route("/similarity/<module>")
@course_role("ta", "teacher")
def similar(course: str, module: str):
    a = teaching.assignment_in(g.enrollment.course, module)
    report = similarity.most_similar(a, actor=current_user._get_current_object())
    return render_template("ta/similarity.html", course=g.enrollment.course, a=a, report=report)
