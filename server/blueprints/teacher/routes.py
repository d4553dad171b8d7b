"""Teachers: release, deadlines and limits, grading and regrading, publication, gradebook, dashboard."""

from __future__ import annotations

from flask import Blueprint, g, render_template

from ...authz import course_role
from ...services import grades

bp = Blueprint("teacher", __name__, url_prefix="/courses/<course>/teach")


@bp.route("/")
@course_role("teacher")
def dashboard(course: str):
    c = g.enrollment.course
    return render_template("teacher/dashboard.html", course=c, counts=grades.queue_counts(c))
