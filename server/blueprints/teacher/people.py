"""Teachers: the course's people — list and search, import the roster, change a role, remove."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from ...authz import course_role
from ...models import ROLES
from ...services import notify, roster
from ...services.errors import Conflict, ServiceError
from .forms import ActionForm, RoleForm, RosterForm
from .routes import _me, bp


@bp.route("/people")
@course_role("teacher")
def people(course: str):
    return _page(RosterForm())


def _page(form: RosterForm, *, report: roster.ImportReport | None = None,
          rejected: roster.RosterRejected | None = None, invitations: list[roster.Invitation] = (),
          status: int = 200):
    search, role = request.args.get("q", ""), request.args.get("role")
    role = role if role in ROLES else None
    c = g.enrollment.course
    invitations = report.invitations if report else invitations
    # mailed when mail is configured; what could not be mailed is shown, once
    mailed = notify.account_links([(i.email, i.link, "invite") for i in invitations]) if invitations else set()
    return render_template("teacher/people.html", course=c, members=roster.members(c, search=search, role=role),
                           search=search, role=role, form=form, report=report, rejected=rejected,
                           invitations=[i for i in invitations if i.email not in mailed], mailed=sorted(mailed),
                           me=current_user.id), status


@bp.route("/people/import", methods=["POST"])
@course_role("teacher")
def import_roster(course: str):
    """Renders the page itself: the invitation links are shown in this answer once, never kept in a cookie."""
    form = RosterForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    try:
        report = roster.import_csv(g.enrollment.course, form.roster.data.read(), actor=_me())
    except roster.RosterRejected as exc:
        return _page(form, rejected=exc, status=422)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".people", course=course), 303)
    return _page(RosterForm(formdata=None), report=report)


@bp.route("/people/<int:user_id>/role", methods=["POST"])
@course_role("teacher")
def set_role(course: str, user_id: int):
    form = RoleForm()
    if form.validate_on_submit():
        e = roster.member(g.enrollment.course, user_id)
        try:
            changed = roster.set_role(g.enrollment.course, user_id, form.role.data, actor=_me())
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(f"{e.user.email} is now {form.role.data}." if changed else "Nothing changed.", "success")
    return redirect(url_for(".people", course=course), 303)


@bp.route("/people/<int:user_id>/invite", methods=["POST"])
@course_role("teacher")
def invite_again(course: str, user_id: int):
    """A fresh invitation link, shown in this answer only (like an import's)."""
    if ActionForm().validate_on_submit():
        try:
            invitation = roster.invite_again(g.enrollment.course, user_id, actor=_me())
        except Conflict as exc:   # NotFound stays a 404
            flash(exc.message, "error")
        else:
            return _page(RosterForm(formdata=None), invitations=[invitation])
    return redirect(url_for(".people", course=course), 303)


@bp.route("/people/<int:user_id>/remove", methods=["GET", "POST"])
@course_role("teacher")
def remove(course: str, user_id: int):
    """GET asks to confirm (and changes nothing); the POST from that page removes."""
    c = g.enrollment.course
    e = roster.member(c, user_id)
    if request.method == "POST" and ActionForm().validate_on_submit():
        try:
            email = roster.remove(c, user_id, actor=_me())
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(f"{email} was removed from {c.title}; their submissions stay.", "success")
        return redirect(url_for(".people", course=course), 303)
    return render_template("teacher/remove.html", course=c, e=e, submissions=roster.submission_count(c, user_id))
