"""Students: released assignments, the starter bundle, uploads, live status, reports, grades."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, jsonify, redirect, render_template, send_file, url_for
from flask_login import current_user

from handin.report import render_student_report

from ... import REPORT_CSP
from ...authz import course_role, signed_in
from ...dispatch import dispatch
from ...extensions import limiter
from ...serialize import submission_json
from ...models import utcnow
from ...services import accounts, catalog, grades, groups, lateness, submissions, teams
from ...services.errors import ServiceError
from .forms import UploadForm

bp = Blueprint("student", __name__)


def _me():
    return current_user._get_current_object()


@bp.route("/courses")
@signed_in
def courses():
    return render_template("student/courses.html", enrollments=accounts.courses_of(_me()))


@bp.route("/courses/<course>/")
@course_role("student", "ta", "teacher")
def course_home(course: str):
    me = _me()
    rows = [(a, submissions.window(a, user=me), submissions.attempts_left(a, me), grades.counted(a, me.id),
             teams.team_of(a, me.id)) for a in submissions.visible_assignments(g.enrollment)]
    c = g.enrollment.course
    return render_template("student/course.html", course=c, role=g.enrollment.role, rows=rows,
                           due_for=lateness.due_for, late_days_left=lateness.late_days_left(c, (me.id,)),
                           invited=groups.invited_anywhere(c, me))


@bp.route("/courses/<course>/assignments/<module>/")
@course_role("student", "ta", "teacher")
def assignment(course: str, module: str):
    me = _me()
    _, a = submissions.assignment_for(me, course, module)
    spec = catalog.spec_for(a)
    team = teams.team_of(a, me.id)
    return render_template("student/assignment.html", a=a, spec=spec, window=submissions.window(a, user=me),
                           attempts_left=submissions.attempts_left(a, me), form=UploadForm(),
                           mine=submissions.submissions_of(me, a), counted=grades.counted(a, me.id), me=me,
                           team=team, due=lateness.due_for(a, team.member_ids), now=utcnow(),
                           late_days_left=lateness.late_days_left(a.course, team.member_ids),
                           invitations=groups.invitations_for(a, me), sent=groups.invitations_sent(team.group),
                           group_handed_in=groups.handed_in(team.group) if team.group else 0)


@bp.route("/courses/<course>/assignments/<module>/starter.zip")
@course_role("student", "ta", "teacher")
def starter(course: str, module: str):
    _, a = submissions.assignment_for(_me(), course, module)
    return send_file(catalog.starter_bundle(a.module), mimetype="application/zip", as_attachment=True,
                     download_name=f"{a.module}.zip")


@bp.route("/courses/<course>/assignments/<module>/submissions", methods=["POST"])
@course_role("student", "ta", "teacher")
@limiter.limit("20 per minute; 200 per hour", key_func=lambda: f"user:{current_user.get_id()}")
def upload(course: str, module: str):
    form = UploadForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for e in errors:
                flash(str(e), "error")
        return redirect(url_for(".assignment", course=course, module=module))
    f = form.notebook.data
    try:
        sub = submissions.submit(_me(), course, module, filename=f.filename or "", data=f.read())
    except ServiceError as exc:
        if exc.status == 404:
            raise
        flash(exc.message, "error")
        return redirect(url_for(".assignment", course=course, module=module)), 303
    dispatch([sub.id])
    flash(f"Attempt {sub.attempt} received; it is queued for grading.", "success")
    return redirect(url_for(".submission", submission_id=sub.id), code=303)


@bp.route("/courses/<course>/grades")
@course_role("student", "ta", "teacher")
def my_grades(course: str):
    me = _me()
    rows = [(a, grades.counted(a, me.id)) for a in submissions.visible_assignments(g.enrollment)]
    return render_template("student/grades.html", course=g.enrollment.course, role=g.enrollment.role, rows=rows)


@bp.route("/submissions/<int:submission_id>")
@signed_in
def submission(submission_id: int):
    sub, enrollment = submissions.submission_for(_me(), submission_id)
    return render_template("student/submission.html", sub=sub, role=enrollment.role,
                           has_report=sub.result is not None)


@bp.route("/submissions/<int:submission_id>/status.json")
@signed_in
def status(submission_id: int):
    sub, _ = submissions.submission_for(_me(), submission_id)
    return jsonify(submission_json(sub))


@bp.route("/submissions/<int:submission_id>/report")
@signed_in
def report(submission_id: int):
    sub, _ = submissions.submission_for(_me(), submission_id)
    doc = grades.student_results(sub)
    if doc is None:
        abort(404)
    return Response(render_student_report(doc), mimetype="text/html", headers={"Content-Security-Policy": REPORT_CSP})
