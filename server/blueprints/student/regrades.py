"""Students: ask for a regrade on the submission page, and read the answer there."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ...authz import signed_in
from ...models import Submission
from ...services import regrades, teams
from ...services.errors import ServiceError
from .routes import bp


class RegradeForm(FlaskForm):
    test = SelectField("On", choices=[], default="")
    reason = TextAreaField("Why should it be graded again?",
                           validators=[DataRequired("say why: the course staff read your reason"),
                                       Length(max=regrades.REASON_MAX)])

    def for_tests(self, tests: list[tuple[str, str]]) -> "RegradeForm":
        self.test.choices = [SelectChoice("", "the whole hand-in"),
                             *(SelectChoice(name, f"test: {title}") for name, title in tests)]
        return self


@bp.route("/submissions/<int:submission_id>/regrade-requests", methods=["POST"])
@signed_in
def ask_regrade(submission_id: int):
    me = current_user._get_current_object()
    sub = regrades.own_submission(me, submission_id)
    form = RegradeForm().for_tests(regrades.askable_tests(sub))
    back = redirect(url_for(".submission", submission_id=sub.id, _anchor="regrades"), 303)
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for e in errors:
                flash(str(e), "error")
        return back
    try:
        regrades.ask(me, sub.id, reason=form.reason.data, test=form.test.data or None)
    except ServiceError as exc:
        if exc.status == 404:
            raise
        flash(exc.message, "error")
    else:
        flash("Your regrade request is with the course staff; their answer will show here.", "success")
    return back


@bp.app_template_global()
def regrade_panel(sub: Submission) -> dict:
    """What the submission page shows of regrades: the requests, and the form while one may be asked."""
    me = current_user._get_current_object()
    mine = teams.may_see(me, sub)
    w = regrades.window(sub)
    return {"requests": regrades.requests_on(sub), "window": w, "mine": mine,
            "form": RegradeForm().for_tests(regrades.askable_tests(sub)) if mine and w.open else None}
