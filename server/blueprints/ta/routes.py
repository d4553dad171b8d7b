"""TAs (and teachers): the review queue, full reports with logs, overrides with a comment."""

from __future__ import annotations

from flask import Blueprint, g, render_template

from ...authz import course_role
from ...services import grades

bp = Blueprint("ta", __name__, url_prefix="/courses/<course>/review")


@bp.route("/")
@course_role("ta", "teacher")
def queue(course: str):
    c = g.enrollment.course
    return render_template("ta/queue.html", course=c, items=grades.review_queue(c))


@bp.route("/submissions/<int:submission_id>")
@course_role("ta", "teacher")
def review(course: str, submission_id: int):
    c = g.enrollment.course
    return render_template("ta/queue.html", course=c, items=grades.review_queue(c))
