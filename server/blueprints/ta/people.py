"""TAs and teachers: every submission of the course with filters, and one student's page."""

from __future__ import annotations

from flask import g, render_template, request
from flask_login import current_user

from ...authz import course_role
from ...models import SUBMISSION_STATES
from ...services import staff
from .routes import bp


@bp.route("/submissions")
@course_role("ta", "teacher")
def submissions(course: str):
    c = g.enrollment.course
    filters = staff.Filters.from_args(request.args)
    found = staff.submissions(c, actor=current_user._get_current_object(), filters=filters,
                              page=staff.page_number(request.args))
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("ta/submissions.html", course=c, found=found, filters=filters, args=args,
                           modules=[a.module for a in c.assignments], states=SUBMISSION_STATES)


@bp.route("/students/<int:user_id>")
@course_role("ta", "teacher")
def student(course: str, user_id: int):
    c = g.enrollment.course
    record = staff.student(c, user_id, actor=current_user._get_current_object())
    return render_template("ta/student.html", course=c, s=record, role=g.enrollment.role)
