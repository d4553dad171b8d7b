"""Course grades: a student's components and final grade; the class table, entry, CSV import and export for staff."""

from __future__ import annotations

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from ...authz import course_role
from ...models import Course
from ...services import course_grade_files, course_grades, roster
from ...services.errors import ServiceError

bp = Blueprint("course_grades", __name__, url_prefix="/courses/<course>")


def _me():
    return current_user._get_current_object()


@bp.app_template_global()
def has_course_grades(course: Course) -> bool:
    """Whether the course has a definition (courses/<code>/course.toml), for the course page's links."""
    try:
        return course_grades.definition(course) is not None
    except ServiceError:
        return True   # a broken one: the page says what is wrong


@bp.route("/course-grade")
@course_role("student")
def mine(course: str):
    c = g.enrollment.course
    defn = course_grades.require(c)
    return render_template("course_grades/student.html", course=c, defn=defn,
                           grade=course_grades.student_grade(c, defn, _me()))


@bp.route("/course-grades/")
@course_role("ta", "teacher")
def class_table(course: str):
    return _class_page()


def _class_page(rejected: roster.RosterRejected | None = None, status: int = 200):
    c = g.enrollment.course
    defn = course_grades.require(c)
    return render_template("course_grades/class.html", course=c, defn=defn, role=g.enrollment.role,
                           rows=course_grades.class_grades(c, defn), rejected=rejected,
                           enterable=course_grades.enterable(g.enrollment, defn)), status


@bp.route("/course-grades.csv")
@course_role("ta", "teacher")
def export(course: str):
    return csv_download(g.enrollment.course)


def csv_download(c: Course) -> Response:
    """The export as a file download (the page's link and the API's route)."""
    return Response(course_grade_files.export_csv(c), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{c.code}-course-grades.csv"'})


@bp.route("/course-grades/import", methods=["POST"])
@course_role("ta", "teacher")
def import_csv(course: str):
    upload = request.files.get("grades")
    if upload is None or not upload.filename:
        flash("choose a CSV file", "error")
        return redirect(url_for(".class_table", course=course), 303)
    try:
        n = course_grade_files.import_csv(g.enrollment.course, upload.read(), actor=_me())
    except course_grade_files.GradesRejected as exc:
        return _class_page(rejected=exc, status=422)
    flash(f"{n} result{'s' if n != 1 else ''} entered.", "success")
    return redirect(url_for(".class_table", course=course), 303)


@bp.route("/course-grades/publish", methods=["POST"])
@course_role("teacher")
def publish(course: str):
    published = request.form.get("published") == "yes"
    course_grades.set_published(g.enrollment.course, published, actor=_me())
    flash("Course grades published: students see them as final." if published else
          "Course grades are provisional again.", "success")
    return redirect(url_for(".class_table", course=course), 303)


@bp.route("/course-grades/<int:user_id>", methods=["GET", "POST"])
@course_role("ta", "teacher")
def student(course: str, user_id: int):
    c = g.enrollment.course
    defn = course_grades.require(c)
    e = roster.member(c, user_id)
    if request.method == "POST":
        code = request.form.get("component", "")
        component = defn.component(code)
        try:
            entry = course_grade_files.entry_of(component, request.form.get("result", "").strip()) \
                if component is not None else {}
            course_grades.enter(c, code, e.user.email, actor=_me(), **entry)
        except ServiceError as exc:
            if exc.status == 404:
                raise
            flash(exc.message, "error")
            return redirect(url_for(".student", course=course, user_id=user_id), 303)
        flash(f"{code} of {e.user.display_name}: " + ("entered." if entry else "cleared."), "success")
        return redirect(url_for(".student", course=course, user_id=user_id), 303)
    return render_template("course_grades/entry.html", course=c, defn=defn, member=e,
                           grade=course_grades.student_grade(c, defn, e.user),
                           enterable={x.code for x in course_grades.enterable(g.enrollment, defn)})
