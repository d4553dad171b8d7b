"""TAs and teachers: the course's regrade requests, open ones first, each answered with a comment."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ...authz import course_role
from ...models import REQUEST_STATES, Course
from ...services import regrades
from ...services.errors import ServiceError
from .forms import PointsField
from .routes import bp


class DecisionForm(FlaskForm):
    decision = RadioField("Decision", choices=[SelectChoice("accepted", "Accept with new points"), SelectChoice("declined", "Decline")],
                          validators=[DataRequired("accept or decline")])
    points = PointsField("New points", validators=[Optional(), NumberRange(min=0)])
    comment = TextAreaField("Comment (the student sees it)",
                            validators=[DataRequired("say why: the student reads this comment"),
                                        Length(max=regrades.REASON_MAX)])


@bp.route("/regrades")
@course_role("ta", "teacher")
def regrade_requests(course: str):
    return _page(g.enrollment.course)


@bp.route("/regrades/<int:request_id>", methods=["POST"])
@course_role("ta", "teacher")
def decide_regrade(course: str, request_id: int):
    c = g.enrollment.course
    req = regrades.request_in(c, request_id)
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            regrades.decide(current_user._get_current_object(), req.id, decision=form.decision.data,
                            comment=form.comment.data, points=form.points.data)
        except ServiceError as exc:
            if exc.status == 404:
                raise
            if exc.status == 409:     # answered meanwhile: nothing left to fix in this form
                flash(exc.message, "error")
                return redirect(url_for(".regrade_requests", course=course), 303)
            form.form_errors.append(exc.message)
        else:
            flash(f"Request #{req.id} {form.decision.data}: the student sees your comment.", "success")
            return redirect(url_for(".regrade_requests", course=course), 303)
    return _page(c, failed=(req.id, form)), 400


@bp.app_template_global()
def open_regrades(course: Course) -> int:
    """How many regrade requests of ``course`` wait for an answer (for the staff's links)."""
    return regrades.open_count(course)


def _page(c: Course, failed: tuple[int, DecisionForm] | None = None) -> str:
    state = request.args.get("state") or None
    state = state if state in REQUEST_STATES else None
    forms = {r.id: DecisionForm(formdata=None) for r in regrades.queue(c, "open")}
    if failed is not None:
        forms[failed[0]] = failed[1]
    return render_template("ta/regrades.html", course=c, state=state, states=REQUEST_STATES,
                           requests=regrades.queue(c, state), forms=forms, role=g.enrollment.role)
