"""Teachers: release, deadlines and limits, grading and regrading, publication, gradebook, dashboard."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from ...authz import course_role
from ...dispatch import dispatch
from ...extensions import db
from ...models import Assignment
from ...services import catalog, grades, lateness, teaching
from ...services.errors import ServiceError
from .forms import ActionForm, LateDaysForm, SettingsForm
from .plots import distribution_png

bp = Blueprint("teacher", __name__, url_prefix="/courses/<course>/teach")


def _me():
    return current_user._get_current_object()


@bp.route("/")
@course_role("teacher")
def dashboard(course: str):
    c = g.enrollment.course
    if catalog.sync_modules(c):   # modules new in the repository appear here, unreleased
        db.session.commit()
    return render_template("teacher/dashboard.html", course=c, counts=grades.queue_counts(c),
                           in_flight=teaching.in_flight(c), late_days=LateDaysForm(data={"late_days": c.late_days}),
                           rows=[(a, grades.distribution(a)) for a in c.assignments])


@bp.route("/late-days", methods=["POST"])
@course_role("teacher")
def late_days(course: str):
    form = LateDaysForm()
    if form.validate_on_submit():
        try:
            lateness.set_late_days(g.enrollment.course, form.late_days.data, actor=_me())
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(f"Each student may spend {form.late_days.data} late day{'s' if form.late_days.data != 1 else ''}; "
                  "every hand-in's lateness follows.", "success")
    else:
        flash("Late days: " + "; ".join(e for errors in form.errors.values() for e in errors), "error")
    return redirect(url_for(".dashboard", course=course), 303)


@bp.route("/assignments/<module>/")
@course_role("teacher")
def assignment(course: str, module: str):
    a = teaching.assignment_in(g.enrollment.course, module)
    return _assignment_page(a, SettingsForm(data=asdict(teaching.AssignmentSettings.of(a))))


def _assignment_page(a: Assignment, form: SettingsForm) -> str:
    return render_template("teacher/assignment.html", a=a, form=form,
                           subs=teaching.submissions_to(a), counted=grades.counted_ids(a))


@bp.route("/assignments/<module>/settings", methods=["POST"])
@course_role("teacher")
def settings(course: str, module: str):
    a = teaching.assignment_in(g.enrollment.course, module)
    form = SettingsForm()
    if form.validate_on_submit():
        new = teaching.AssignmentSettings(form.due.data, form.late_penalty_per_day.data, form.max_late_days.data,
                                          form.max_attempts.data, form.counts.data, form.group_size.data,
                                          form.regrade_days.data)
        try:
            changed = teaching.update_settings(a, new, actor=_me())
        except ServiceError as exc:
            form.form_errors.append(exc.message)
        else:
            flash("Settings saved." if changed else "Nothing changed.", "success")
            return _back("assignment", module=module)
    return _assignment_page(a, form), 400


# verb → (the change, its value, what the flash says)
SWITCHES = {
    "release": (teaching.set_released, True, "{} is released to students."),
    "unrelease": (teaching.set_released, False, "{} is hidden from students."),
    "publish": (grades.set_published, True, "Grades of {} are published."),
    "unpublish": (grades.set_published, False, "Grades of {} are no longer published."),
}
# What a button that is hard to take back asks first: verb → (question, what follows, button).
CONFIRM = {
    "unrelease": ("Hide {title} from students?",
                  "Students will no longer see it, download its starter or hand it in. Nothing handed in "
                  "is deleted, and releasing it again brings it back.", "Unrelease"),
    "publish": ("Publish the grades of {title}?",
                "Every student sees their grade as final, and tests hidden until publication show their "
                "messages and points.", "Publish grades"),
    "regrade": ("Regrade the attempts that count in {title}?",
                "{n} submission{s} (the attempt that counts for each student, or the latest when none is "
                "graded yet) will be graded again; their grades may change.", "Regrade"),
    "regrade-every": ("Regrade every attempt of {title}?",
                      "All {n} submission{s}, superseded attempts included, will be graded again; their grades "
                      "may change.", "Regrade every attempt"),
}


@bp.route("/assignments/<module>/<any(release, unrelease, publish, unpublish):verb>", methods=["POST"])
@course_role("teacher")
def switch(course: str, module: str, verb: str):
    a = teaching.assignment_in(g.enrollment.course, module)
    form = ActionForm()
    if form.validate_on_submit():
        if verb in CONFIRM and not form.confirmed:
            return _confirm(a, verb, form)
        change, value, said = SWITCHES[verb]
        try:
            change(a, value, actor=_me())
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(said.format(a.title), "success")
    return _back(module=module)


@bp.route("/assignments/<module>/regrade", methods=["POST"])
@course_role("teacher")
def regrade_all(course: str, module: str):
    """The attempt that counts for each student (one per student)."""
    return _regrade(module, "regrade", every=False)


@bp.route("/assignments/<module>/regrade-every-attempt", methods=["POST"])
@course_role("teacher")
def regrade_every(course: str, module: str):
    """Every attempt, superseded ones too."""
    return _regrade(module, "regrade-every", every=True)


def _regrade(module: str, verb: str, *, every: bool):
    a = teaching.assignment_in(g.enrollment.course, module)
    form = ActionForm()
    if form.validate_on_submit():
        if not form.confirmed:
            return _confirm(a, verb, form, n=len(teaching.regrade_targets(a, every=every)))
        queued = teaching.regrade_all(a, actor=_me(), every=every)
        dispatch(queued)
        flash(f"{len(queued)} submission{'s' if len(queued) != 1 else ''} queued for regrading "
              "(queued and running ones keep their place).", "success")
    return _back(module=module)


def _confirm(a: Assignment, verb: str, form: ActionForm, n: int = 0) -> str:
    """The page that asks before ``verb`` (it changes nothing); its form posts back here with confirm=yes."""
    question, consequence, label = CONFIRM[verb]
    words = {"title": a.title, "n": n, "s": "" if n == 1 else "s"}
    return render_template("teacher/confirm.html", a=a, question=question.format(**words),
                           consequence=consequence.format(**words), label=label, verb=verb,
                           action=url_for(request.endpoint, **request.view_args), back=form.back.data or "")


@bp.route("/submissions/<int:submission_id>/regrade", methods=["POST"])
@course_role("teacher")
def regrade_one(course: str, submission_id: int):
    sub = teaching.submission_in(g.enrollment.course, submission_id)
    if ActionForm().validate_on_submit():
        queued = teaching.regrade_one(sub, actor=_me())
        dispatch(queued)
        flash(f"Submission {sub.id} queued for regrading." if queued
              else f"Submission {sub.id} is already {sub.status}.", "success" if queued else "info")
    return _back("review", module=sub.assignment.module, submission_id=sub.id)


@bp.route("/assignments/<module>/distribution.png")
@course_role("teacher")
def distribution(course: str, module: str):
    a = teaching.assignment_in(g.enrollment.course, module)
    scale = catalog.spec_for(a).scale
    png = distribution_png(grades.distribution(a), title=a.module, cutoffs=list(scale.bands))
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, no-store"})


@bp.route("/gradebook.csv")
@course_role("ta", "teacher")
def gradebook(course: str):
    c, style = g.enrollment.course, request.args.get("format", "handin")
    return Response(grades.gradebook_csv(c, style), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{grades.gradebook_filename(c, style)}"',
                             "Cache-Control": "private, no-store"})


def _back(default: str = "dashboard", *, module: str, submission_id: int | None = None):
    """303 to the page the button was on (one of a fixed few: never a URL from the form)."""
    course = g.enrollment.course.code
    where = ActionForm().back.data or default
    if where == "review" and submission_id is not None:
        return redirect(url_for("ta.review", course=course, submission_id=submission_id), 303)
    if where in ("assignment", "review"):
        return redirect(url_for(".assignment", course=course, module=module), 303)
    return redirect(url_for(".dashboard", course=course), 303)
