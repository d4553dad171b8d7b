"""TAs (and teachers): the review queue, full reports with logs, overrides with a comment."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, url_for
from flask_login import current_user

from ... import REPORT_CSP
from ...authz import course_role
from ...models import Submission
from ...services import catalog, grades, teaching
from ...services.errors import ServiceError
from .forms import OverrideForm

bp = Blueprint("ta", __name__, url_prefix="/courses/<course>/review")


@bp.route("/")
@course_role("ta", "teacher")
def queue(course: str):
    c = g.enrollment.course
    return render_template("ta/queue.html", course=c, items=grades.review_queue(c))


@bp.route("/submissions/<int:submission_id>")
@course_role("ta", "teacher")
def review(course: str, submission_id: int):
    sub = teaching.submission_in(g.enrollment.course, submission_id)
    form = _override_form(sub)
    if sub.grade is not None and sub.grade.overridden:   # start from the standing override's points and words
        form.process(data={"points": sub.grade.override_points, "comment": sub.grade.override_comment})
    return _review_page(sub, form)


@bp.route("/submissions/<int:submission_id>/ta.html")
@course_role("ta", "teacher")
def report(course: str, submission_id: int):
    html = teaching.ta_report_html(teaching.submission_in(g.enrollment.course, submission_id))
    if html is None:
        abort(404)
    return Response(html, mimetype="text/html",
                    headers={"Content-Security-Policy": REPORT_CSP, "Cache-Control": "private, no-store"})


@bp.route("/submissions/<int:submission_id>/override", methods=["POST"])
@course_role("ta", "teacher")
def override(course: str, submission_id: int):
    sub = teaching.submission_in(g.enrollment.course, submission_id)
    form = _override_form(sub)
    if form.validate_on_submit():
        try:
            grades.override(sub, actor=current_user._get_current_object(), comment=form.comment.data or "",
                            points=form.points.data, label=form.label.data or None)
        except ServiceError as exc:
            form.form_errors.append(exc.message)
        else:
            flash("Override saved: the student sees the new grade and your comment.", "success")
            return redirect(url_for(".review", course=course, submission_id=sub.id), 303)
    return _review_page(sub, form), 400


def _override_form(sub: Submission) -> OverrideForm:
    return OverrideForm().for_scale(catalog.spec_for(sub.assignment).scale.bands)


def _review_page(sub: Submission, form: OverrideForm) -> str:
    return render_template("ta/review.html", sub=sub, form=form, role=g.enrollment.role,
                           history=teaching.history(sub), has_report=teaching.ta_report(sub) is not None)
