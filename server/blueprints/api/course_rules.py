"""A course's rules in the API, for teachers: assignment settings, extensions, groups, late days."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from flask import g, jsonify, request

from ...authz import api
from ...models import Course, Group
from ...serialize import assignment_json, iso
from ...services import groups, lateness, teaching
from ...services.errors import BadRequest, NotFound
from .routes import bp

NUMBERS = {"late_penalty_per_day": float, "max_late_days": float, "regrade_days": float,
           "max_attempts": int, "group_size": int}
SETTINGS = ("due", "counts", *NUMBERS)


@bp.route("/courses/<course>/assignments/<module>", methods=["PATCH"])
@api("teacher")
def patch_assignment(course: str, module: str):
    body = _body()
    unknown = sorted(set(body) - {*SETTINGS, "released"})
    if unknown:
        raise BadRequest(f"unknown field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}; "
                         f"send any of {', '.join((*SETTINGS, 'released'))}")
    a = teaching.assignment_in(g.enrollment.course, module)
    changes: dict[str, Any] = {}
    if "due" in body:
        changes["due"] = _when(body["due"], "due", nullable=True)
    if "counts" in body:
        if not isinstance(body["counts"], str):
            raise BadRequest("counts must be a string")
        changes["counts"] = body["counts"]
    for key, kind in NUMBERS.items():
        if key in body:
            changes[key] = _number(body[key], key, kind, nullable=key == "max_attempts")
    if "released" in body and not isinstance(body["released"], bool):
        raise BadRequest("released must be true or false")
    if changes:
        teaching.update_settings(a, dataclasses.replace(teaching.AssignmentSettings.of(a), **changes),
                                 actor=g.api_user)
    if "released" in body:
        teaching.set_released(a, body["released"], actor=g.api_user)
    return jsonify(assignment_json(a, g.api_user))


@bp.route("/courses/<course>/assignments/<module>/extensions/<email>", methods=["PUT", "DELETE"])
@api("teacher")
def extension(course: str, module: str, email: str):
    a = teaching.assignment_in(g.enrollment.course, module)
    student = _student(a, email)
    due = _when(_body().get("due"), "due") if request.method == "PUT" else None
    lateness.set_extension(a, [student.id], due, actor=g.api_user)
    return jsonify(module=a.module, email=student.email, due=iso(due), course_due=iso(a.due))


@bp.route("/courses/<course>/assignments/<module>/groups", methods=["POST"])
@api("teacher")
def create_group(course: str, module: str):
    body = _body()
    members, name = body.get("members"), body.get("name")
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        raise BadRequest('members must be a list of emails: {"members": ["a@example.org", "b@example.org"]}')
    if name is not None and not isinstance(name, str):
        raise BadRequest("name must be a string")
    group = groups.create(teaching.assignment_in(g.enrollment.course, module), members, g.api_user, name=name)
    return jsonify(group_json(group)), 201


@bp.route("/courses/<course>/assignments/<module>/groups")
@api("teacher")
def list_groups(course: str, module: str):
    a = teaching.assignment_in(g.enrollment.course, module)
    return jsonify([group_json(grp) for grp in groups.groups_of(a)])


@bp.route("/courses/<course>", methods=["PATCH"])
@api("teacher")
def patch_course(course: str):
    body = _body()
    if set(body) != {"late_days"}:
        raise BadRequest('send {"late_days": n}')
    c = g.enrollment.course
    lateness.set_late_days(c, _number(body["late_days"], "late_days", int), actor=g.api_user)
    return jsonify(course_json(c))


def group_json(grp: Group) -> dict[str, Any]:
    return {"id": grp.id, "name": grp.name, "members": [m.user.email for m in grp.members],
            "submissions": groups.handed_in(grp)}


def course_json(c: Course) -> dict[str, Any]:
    return {"code": c.code, "title": c.title, "late_days": c.late_days}


def _student(a, email: str):
    try:
        return groups.students_named(a, [email])[0]
    except BadRequest:
        raise NotFound(f"{email} is not a student of {a.course.code}") from None


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object (Content-Type: application/json)")
    return body


def _when(value: Any, key: str, *, nullable: bool = False) -> dt.datetime | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be an ISO 8601 date and time with a zone, e.g. 2030-01-31T23:59:00+00:00")
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{key}: {value[:40]!r} is not an ISO 8601 date and time") from None
    if t.tzinfo is None:
        raise BadRequest(f"{key} needs a zone (…Z or …+01:00): {value[:40]!r} could be any time")
    return t.astimezone(dt.timezone.utc)


def _number(value: Any, key: str, kind: type, *, nullable: bool = False):
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise BadRequest(f"{key} must be {'a whole number' if kind is int else 'a number'}"
                         + (" or null" if nullable else ""))
    return kind(value)
