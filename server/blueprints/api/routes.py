"""The JSON API (``/api/v1``): bearer tokens only, errors as ``{"error": …}``."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Response, abort, g, jsonify, request

from handin.report import render_student_report

from ... import REPORT_CSP
from ...authz import api, public
from ...dispatch import dispatch
from ...extensions import csrf, limiter
from ...services import accounts, grades, roster, submissions, teaching
from ...services.errors import BadRequest
from ...serialize import assignment_json, submission_json
from .openapi import document

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)   # no cookies are read here: a token in a header is the only credential


def _user_key() -> str:
    user = getattr(g, "api_user", None)
    return f"user:{user.id}" if user is not None else f"ip:{request.remote_addr}"


@bp.route("/openapi.json")
@public
def openapi():
    return jsonify(document())


@bp.route("/courses")
@api()
def courses():
    return jsonify([{"code": e.course.code, "title": e.course.title, "role": e.role}
                    for e in accounts.courses_of(g.api_user)])


@bp.route("/courses/<course>/assignments")
@api("student", "ta", "teacher")
def assignments(course: str):
    return jsonify([assignment_json(a, g.api_user) for a in submissions.visible_assignments(g.enrollment)])


@bp.route("/courses/<course>/assignments/<module>/submissions", methods=["POST"])
@api("student", "ta", "teacher")
@limiter.limit("20 per minute; 200 per hour", key_func=_user_key)
def submit(course: str, module: str):
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise BadRequest("send the notebook as the multipart form field 'file'")
    sub = submissions.submit(g.api_user, course, module, filename=upload.filename, data=upload.read())
    dispatch([sub.id])
    return jsonify(id=sub.id, status="queued", attempt=sub.attempt,
                   url=f"/api/v1/submissions/{sub.id}"), 202


@bp.route("/submissions/<int:submission_id>")
@api()
def submission(submission_id: int):
    sub, _ = submissions.submission_for(g.api_user, submission_id)
    return jsonify(submission_json(sub))


@bp.route("/submissions/<int:submission_id>/report")
@api()
def report(submission_id: int):
    sub, _ = submissions.submission_for(g.api_user, submission_id)
    doc = grades.student_results(sub)
    if doc is None:
        abort(404)
    return Response(render_student_report(doc), mimetype="text/html",
                    headers={"Content-Security-Policy": REPORT_CSP})


@bp.route("/courses/<course>/gradebook.csv")
@api("ta", "teacher")
def gradebook(course: str):
    style = request.args.get("format", "handin")
    return Response(grades.gradebook_csv(g.enrollment.course, style), mimetype="text/csv",
                    headers={"Content-Disposition":
                             f'attachment; filename="{grades.gradebook_filename(g.enrollment.course, style)}"'})


@bp.route("/courses/<course>/assignments/<module>/regrade", methods=["POST"])
@api("teacher")
def regrade(course: str, module: str):
    every = request.args.get("attempts") == "every"    # default: the attempt that counts, per student
    queued = teaching.regrade_all(teaching.assignment_in(g.enrollment.course, module), actor=g.api_user,
                                  every=every)
    dispatch(queued)
    return jsonify(queued=len(queued), ids=queued), 202


@bp.route("/courses/<course>/members")
@api("ta", "teacher")
def members(course: str):
    found = roster.members(g.enrollment.course, search=request.args.get("q", ""), role=request.args.get("role") or None)
    return jsonify([{"email": m.email, "name": m.name, "role": m.role, "group": m.group} for m in found])


@bp.route("/courses/<course>/roster", methods=["POST"])
@api("teacher")
def import_roster(course: str):
    upload = request.files.get("file")
    if upload is not None:
        data = upload.read()
    elif request.mimetype == "text/csv":
        data = request.get_data()
    else:
        raise BadRequest("send the roster as a text/csv body or as the multipart form field 'file'")
    try:
        report = roster.import_csv(g.enrollment.course, data, actor=g.api_user)
    except roster.RosterRejected as exc:
        return jsonify(error=exc.message, rows=[asdict(r) for r in exc.rows]), 422
    return jsonify(added=report.added, updated=report.updated, unchanged=report.unchanged,
                   invitations=[asdict(i) for i in report.invitations])
