"""Students: form a group by invitation (invite, accept, decline, cancel, leave) and choose the attempt that counts."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms.validators import DataRequired, Length

from ...authz import course_role, signed_in
from ...extensions import db
from ...models import GroupInvite
from ...services import grades, groups, submissions
from ...services.errors import NotFound, ServiceError
from .routes import bp


class InviteForm(FlaskForm):
    email = EmailField("Classmate's email", validators=[DataRequired("whom do you invite?"), Length(max=254)])


class ButtonForm(FlaskForm):
    """A button: the CSRF token only."""


def _me():
    return current_user._get_current_object()


def _back(course: str, module: str):
    return redirect(url_for(".assignment", course=course, module=module), 303)


def _done(action, said: str) -> None:
    """Run ``action``; flash ``said`` or the service's refusal."""
    try:
        action()
    except NotFound:
        raise
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        flash(said, "success")


@bp.route("/courses/<course>/assignments/<module>/group/invite", methods=["POST"])
@course_role("student")
def invite(course: str, module: str):
    _, a = submissions.assignment_for(_me(), course, module)
    form = InviteForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        _done(lambda: groups.invite(a, _me(), email),
              f"{email} is invited; once they accept, your group hands in together.")
    else:
        flash("; ".join(e for errors in form.errors.values() for e in errors), "error")
    return _back(course, module)


@bp.route("/courses/<course>/assignments/<module>/group/invitations/<int:invite_id>/<any(accept, decline, cancel):verb>",
          methods=["POST"])
@course_role("student")
def answer(course: str, module: str, invite_id: int, verb: str):
    _, a = submissions.assignment_for(_me(), course, module)
    inv = db.session.get(GroupInvite, invite_id)
    if inv is None or inv.group.assignment_id != a.id:
        raise NotFound()
    if ButtonForm().validate_on_submit():
        said = {"accept": f"You joined {inv.group.name}: its hand-ins are yours, yours are its.",
                "decline": "Invitation declined.", "cancel": "Invitation cancelled."}[verb]
        _done(lambda: getattr(groups, verb)(invite_id, _me()), said)
    return _back(course, module)


@bp.route("/courses/<course>/assignments/<module>/group/leave", methods=["POST"])
@course_role("student")
def leave(course: str, module: str):
    _, a = submissions.assignment_for(_me(), course, module)
    if ButtonForm().validate_on_submit():
        _done(lambda: groups.leave(a, _me()), "You left the group; you hand in alone.")
    return _back(course, module)


@bp.route("/submissions/<int:submission_id>/choose", methods=["POST"])
@signed_in
def choose(submission_id: int):
    sub, _ = submissions.submission_for(_me(), submission_id)
    if ButtonForm().validate_on_submit():
        _done(lambda: grades.choose(sub, actor=_me()), f"Attempt {sub.attempt} counts now.")
    return _back(sub.assignment.course.code, sub.assignment.module)
