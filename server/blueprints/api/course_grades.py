"""Course grades in the API: the class's (staff), one's own (students), entry, and the CSV export."""

from __future__ import annotations

from flask import g, jsonify, request

from handin.course_grade import ComponentResult, CourseGrade, FinalResult

from ...authz import api
from ...serialize import iso
from ...services import course_grades
from ..course_grades.routes import csv_download
from ...services.errors import BadRequest
from .routes import bp

ENTRY_FIELDS = {"grade": (str,), "points": (int, float), "attended": (int,)}


@bp.route("/courses/<course>/course-grades")
@api("ta", "teacher")
def course_grades_of_class(course: str):
    c = g.enrollment.course
    defn = course_grades.require(c)
    return jsonify([{"email": row.user.email, "name": row.user.name, **grade_json(row.grade)}
                    for row in course_grades.class_grades(c, defn)])


@bp.route("/courses/<course>/course-grades/me")
@api("student")
def my_course_grade(course: str):
    c = g.enrollment.course
    grade = course_grades.student_grade(c, course_grades.require(c), g.api_user)
    return jsonify({"email": g.api_user.email, "published": c.course_grades_published, **grade_json(grade)})


@bp.route("/courses/<course>/course-grades.csv")
@api("ta", "teacher")
def course_grades_csv(course: str):
    return csv_download(g.enrollment.course)


@bp.route("/courses/<course>/components/<code>/grades/<email>", methods=["PUT"])
@api("ta", "teacher")
def enter_component_grade(course: str, code: str, email: str):
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or len(body) != 1 or next(iter(body)) not in ENTRY_FIELDS:
        raise BadRequest('send one of {"grade": …}, {"points": …} or {"attended": n} (null clears it)')
    (field, value), = body.items()
    if value is not None and (isinstance(value, bool) or not isinstance(value, ENTRY_FIELDS[field])):
        raise BadRequest(f"{field} must be {'a string' if field == 'grade' else 'a number'} or null")
    c = g.enrollment.course
    student = course_grades.enter(c, code, email.lower(), actor=g.api_user, **{field: value})
    grade = course_grades.student_grade(c, course_grades.require(c), student)
    return jsonify({"email": student.email, "component": component_json(grade.components[code]),
                    "final": final_json(grade.final)})


def grade_json(grade: CourseGrade) -> dict:
    return {"components": {code: component_json(r) for code, r in grade.components.items()},
            "final": final_json(grade.final)}


def component_json(r: ComponentResult) -> dict:
    out = {"grade": r.grade, "complete": r.complete, "status": r.status, "date": iso(r.at)}
    if r.points is not None:
        out["points"] = r.points
    if r.attended is not None:
        out["attended"] = r.attended
    return out


def final_json(f: FinalResult) -> dict:
    out = {"grade": f.grade, "complete": f.complete, "status": f.status, "date": iso(f.at)}
    if f.points is not None:
        out["points"] = f.points
    return out
