"""Teachers: a module's groups (make, from the roster, remove a member, dissolve) and extensions."""

from __future__ import annotations

import re

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from ...authz import course_role
from ...extensions import db
from ...models import Assignment, Extension
from ...services import groups, lateness, teaching, teams
from ...services.errors import NotFound, ServiceError
from .forms import ActionForm, ExtensionForm, GroupForm
from .routes import _me, bp


def _module(module: str) -> Assignment:
    return teaching.assignment_in(g.enrollment.course, module)


@bp.route("/assignments/<module>/groups")
@course_role("teacher")
def groups_page(course: str, module: str):
    return _groups_page(_module(module), GroupForm(formdata=None))


def _groups_page(a: Assignment, form: GroupForm, status: int = 200):
    made = groups.groups_of(a)
    grouped = {m.user_id for grp in made for m in grp.members}
    return render_template("teacher/groups.html", a=a, groups=[(grp, groups.handed_in(grp)) for grp in made],
                           alone=[u for u in groups.students(a) if u.id not in grouped], form=form), status


@bp.route("/assignments/<module>/groups", methods=["POST"])
@course_role("teacher")
def create_group(course: str, module: str):
    a, form = _module(module), GroupForm()
    if not form.validate_on_submit():
        return _groups_page(a, form, 400)
    emails = [e for e in re.split(r"[\s,;]+", form.members.data) if e]
    try:
        made = groups.create(a, emails, _me(), name=form.name.data or None)
    except ServiceError as exc:
        form.form_errors.append(exc.message)
        return _groups_page(a, form, exc.status)
    flash(f"{made.name}: {', '.join(m.user.email for m in made.members)}.", "success")
    return redirect(url_for(".groups_page", course=course, module=module), 303)


@bp.route("/assignments/<module>/groups/from-roster", methods=["POST"])
@course_role("teacher")
def groups_from_roster(course: str, module: str):
    if ActionForm().validate_on_submit():
        try:
            changed = groups.from_roster(_module(module), _me())
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(f"{len(changed)} group{'s' if len(changed) != 1 else ''} formed or joined from the roster's "
                  "group column." if changed else "No student without a group has a group in the roster.",
                  "success" if changed else "info")
    return redirect(url_for(".groups_page", course=course, module=module), 303)


@bp.route("/assignments/<module>/groups/<int:group_id>/members/<int:user_id>/remove", methods=["GET", "POST"])
@course_role("teacher")
def remove_member(course: str, module: str, group_id: int, user_id: int):
    """GET asks to confirm (and changes nothing); the POST from that page removes."""
    a = _module(module)
    grp = groups.group_in(a, group_id)
    member = next((m.user for m in grp.members if m.user_id == user_id), None)
    if member is None:
        raise NotFound()
    back = url_for(".groups_page", course=course, module=module)
    if request.method == "POST" and ActionForm().validate_on_submit():
        try:
            groups.remove_member(grp, user_id, _me())
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(f"{member.email} left {grp.name}; they hand in alone from now on.", "success")
        return redirect(back, 303)
    n = groups.handed_in(grp)
    return _confirm(a, f"Remove {member.display_name} from {grp.name}?",
                    f"{member.email} will hand in alone from now on. " + (
                        f"The group's {n} hand-in{'s' if n != 1 else ''} stay the group's: {member.email} will no "
                        "longer see them, and their grade for this module will be their own hand-ins' (none yet)."
                        if n else "The group has not handed in yet."), "Remove from group", back)


@bp.route("/assignments/<module>/groups/<int:group_id>/dissolve", methods=["GET", "POST"])
@course_role("teacher")
def dissolve_group(course: str, module: str, group_id: int):
    a = _module(module)
    grp = groups.group_in(a, group_id)
    back = url_for(".groups_page", course=course, module=module)
    if request.method == "POST" and ActionForm().validate_on_submit():
        try:
            name = grp.name
            groups.dissolve(grp, _me())
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(f"{name} is dissolved; its members hand in alone.", "success")
        return redirect(back, 303)
    return _confirm(a, f"Dissolve {grp.name}?",
                    f"{', '.join(m.user.email for m in grp.members)} will hand in alone; open invitations to the "
                    "group lapse. It has not handed in (a group that has cannot be dissolved).", "Dissolve", back)


@bp.route("/assignments/<module>/extensions")
@course_role("teacher")
def extensions_page(course: str, module: str):
    a = _module(module)
    return _extensions_page(a, _extension_form(a, formdata=None))


def _extension_form(a: Assignment, **kwargs) -> ExtensionForm:
    form = ExtensionForm(**kwargs)
    made = groups.groups_of(a)
    form.team.choices = [(teams.group_key(grp.id), f"{grp.name}: {', '.join(m.user.email for m in grp.members)}")
                         for grp in made] + [(teams.solo_key(u.id), f"{u.display_name} <{u.email}>")
                                             for u in groups.students(a)]
    return form


def _extensions_page(a: Assignment, form: ExtensionForm, status: int = 200):
    rows = db.session.scalars(select(Extension).where(Extension.assignment_id == a.id).order_by(Extension.due))
    listed = [(e, teams.group_of(a, e.user_id)) for e in rows]
    return render_template("teacher/extensions.html", a=a, form=form, extensions=listed), status


@bp.route("/assignments/<module>/extensions", methods=["POST"])
@course_role("teacher")
def set_extension(course: str, module: str):
    a = _module(module)
    form = _extension_form(a)
    if not form.validate_on_submit():
        return _extensions_page(a, form, 400)
    who = teams.members_of_key(form.team.data)
    try:
        lateness.set_extension(a, who, form.due.data, actor=_me())
    except ServiceError as exc:
        form.form_errors.append(exc.message)
        return _extensions_page(a, form, exc.status)
    flash(f"Due {form.due.data.strftime('%Y-%m-%d %H:%M UTC')} for {dict(form.team.choices)[form.team.data]}; "
          "their hand-ins' lateness follows now.", "success")
    return redirect(url_for(".extensions_page", course=course, module=module), 303)


@bp.route("/assignments/<module>/extensions/<int:user_id>/remove", methods=["GET", "POST"])
@course_role("teacher")
def remove_extension(course: str, module: str, user_id: int):
    a = _module(module)
    ext = db.session.scalar(select(Extension).where(Extension.assignment_id == a.id, Extension.user_id == user_id))
    if ext is None:
        raise NotFound()
    back = url_for(".extensions_page", course=course, module=module)
    if request.method == "POST" and ActionForm().validate_on_submit():
        email = ext.user.email
        lateness.set_extension(a, [user_id], None, actor=_me())
        flash(f"{email}'s extension is removed; the course's deadline applies to them again.", "success")
        return redirect(back, 303)
    due = a.due.strftime("%Y-%m-%d %H:%M UTC") if a.due else "none"
    return _confirm(a, f"Remove {ext.user.display_name}'s extension?",
                    f"{ext.user.email} was given until {ext.due.strftime('%Y-%m-%d %H:%M UTC')}; the course's "
                    f"deadline ({due}) applies again, and their hand-ins after it show as late at once "
                    "(or spend late days).", "Remove extension", back)


def _confirm(a: Assignment, question: str, consequence: str, label: str, cancel: str):
    return render_template("teacher/confirm.html", a=a, question=question, consequence=consequence, label=label,
                           action=request.path, back="", cancel=cancel)
